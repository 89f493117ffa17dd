// Why one file of ~640 lines: the validator walks the plan's fields in the order
// docs/clone-plan.md lists them, one small check per field; split, the order a reader
// follows from the document would be lost.
//
// The clone plan: what a bare node does to its disk (docs/clone-plan.md describes every
// field). One JSON file, validated here by the same code the agent runs, so a plan the boot
// image builder accepted is a plan the agent can carry out. Every error names its field by
// its dotted path ("partitions[2].size: ..."), all errors are reported at once, unknown keys
// are refused (a typo must not silently fall back to a default), and a plan with a mistake
// is refused before anything on the disk is touched.
//
// parsePlan(text) → Result; validatePlan(value) → Result; applySets(value, ["k=v"]) for the
// kernel command line's rackcast.KEY=VALUE overrides (validated like the file afterwards).

export type PartitionType = 'linux' | 'swap' | 'efi' | 'bios-boot' | 'lvm' | 'raid';
export type FsKind = 'ext4' | 'ext3' | 'ext2' | 'xfs' | 'vfat' | 'swap' | 'none';
export type TableKind = 'gpt' | 'dos';
export type DiskType = 'virtio' | 'nvme' | 'sata' | 'any';

export type SizeSpec =
  | { readonly kind: 'bytes'; readonly bytes: number; readonly text: string }
  | { readonly kind: 'percent'; readonly percent: number; readonly text: string }
  | { readonly kind: 'rest'; readonly text: 'rest' };

export interface PartitionPlan {
  /** 1-based, as the kernel numbers partitions. */
  readonly number: number;
  readonly size: SizeSpec;
  readonly type: PartitionType;
  readonly fs: FsKind;
  readonly label: string | undefined;
  readonly mount: string | undefined;
  /** Keep this partition's file system when the disk's table matches the layout and it checks clean. */
  readonly keep: boolean;
  /** Pinned file system UUID (vfat: the volume id XXXX-XXXX). */
  readonly uuid: string | undefined;
  /** ext2/3/4: mke2fs -O list; default a conservative set (docs/clone-plan.md). */
  readonly features: string | undefined;
  /** Extra arguments to the mkfs command. */
  readonly mkfsOptions: readonly string[];
}

export type DiskPlan =
  | { readonly kind: 'path'; readonly path: string }
  | { readonly kind: 'rule'; readonly rule: 'largest' | 'first'; readonly type: DiskType; readonly minSizeBytes: number };

export type ImagePlan =
  | { readonly kind: 'unpack'; readonly into: string }
  | { readonly kind: 'raw-partition'; readonly partition: number }
  | { readonly kind: 'raw-disk' };

export interface ReceiverPlan {
  readonly portbase: number;
  readonly rdvAddress: string;
  /** Interface name or address; default: IFACE from the net env (the boot NIC). */
  readonly interface: string | undefined;
  readonly keyFile: string | undefined;
  readonly encrypt: boolean;
  readonly startTimeoutS: number | undefined;
  readonly receiveTimeoutS: number;
}

export type HostnameSource =
  | { readonly from: 'dhcp' }
  | { readonly from: 'mac-map'; readonly map: ReadonlyMap<string, string> }
  | { readonly from: 'fixed'; readonly value: string };

export interface FixupsPlan {
  /** Tried in order; the first that gives a name wins. Empty: the image's hostname stays. */
  readonly hostname: readonly HostnameSource[];
  readonly machineId: 'reset' | 'keep';
  readonly udevNetRules: 'remove' | 'keep';
  readonly sshHostKeys: 'regenerate' | 'keep';
  readonly fstab: 'label' | 'uuid' | 'none';
}

export type BootloaderPlan =
  | { readonly kind: 'none' }
  | { readonly kind: 'extlinux'; readonly kernel: string; readonly initrd: string | undefined; readonly append: string }
  | { readonly kind: 'grub'; readonly target: string };

export type SuccessAction = 'reboot' | 'poweroff' | 'shell';
export type FailureAction = 'retry' | 'poweroff' | 'reboot' | 'shell';

export interface ClonePlan {
  readonly version: 1;
  readonly disk: DiskPlan;
  readonly table: TableKind;
  readonly onTableMismatch: 'wipe' | 'fail';
  readonly partitions: readonly PartitionPlan[];
  readonly image: ImagePlan;
  readonly receiver: ReceiverPlan;
  readonly fixups: FixupsPlan;
  readonly bootloader: BootloaderPlan;
  readonly onSuccess: SuccessAction;
  readonly onFailure: FailureAction;
}

export type PlanResult = { readonly ok: true; readonly plan: ClonePlan } | { readonly ok: false; readonly errors: readonly string[] };

export const PARTITION_TYPES: readonly PartitionType[] = ['linux', 'swap', 'efi', 'bios-boot', 'lvm', 'raid'];
export const FS_KINDS: readonly FsKind[] = ['ext4', 'ext3', 'ext2', 'xfs', 'vfat', 'swap', 'none'];
export const FILESYSTEMS_WITH_DATA: readonly FsKind[] = ['ext4', 'ext3', 'ext2', 'xfs', 'vfat'];
/** Longest label each mkfs takes (mke2fs 16, mkfs.xfs 12, mkfs.vfat 11, mkswap 15 in practice). */
const LABEL_MAX: Readonly<Record<FsKind, number>> = { ext4: 16, ext3: 16, ext2: 16, xfs: 12, vfat: 11, swap: 15, none: 36 };
/** dos tables here hold primary partitions only (no extended/logical chain). */
export const DOS_MAX_PARTITIONS = 4;
/** GPT as sfdisk writes it: 128 entries. */
export const GPT_MAX_PARTITIONS = 128;

const SIZE_RE = /^(\d+(?:\.\d+)?)\s*([KMGT])(?:i?B)?$/i;
const PERCENT_RE = /^(\d+(?:\.\d+)?)%$/;
const UNIT: Readonly<Record<string, number>> = { K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };
const MAC_RE = /^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$/;
const HOST_LABEL_RE = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/i;
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const VFAT_ID_RE = /^[0-9a-f]{4}-?[0-9a-f]{4}$/i;
const IPV4_RE = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** "512M" → bytes, "40%", "rest"; undefined when it is none of them. */
export function parseSize(text: string): SizeSpec | undefined {
  const t = text.trim();
  if (t === 'rest') return { kind: 'rest', text: 'rest' };
  const p = PERCENT_RE.exec(t);
  if (p !== null) return { kind: 'percent', percent: Number(p[1]), text: t };
  const m = SIZE_RE.exec(t);
  if (m === null) return undefined;
  return { kind: 'bytes', bytes: Math.floor(Number(m[1]) * UNIT[m[2]!.toUpperCase()]!), text: t };
}

/** A valid host name: dot-separated RFC 1123 labels, at most 253 characters. */
export function isHostname(s: string): boolean {
  return s.length > 0 && s.length <= 253 && s.split('.').every((l) => HOST_LABEL_RE.test(l));
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Obj = { [k: string]: Json };

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function show(v: unknown): string {
  return JSON.stringify(v) ?? String(v);
}

/** Collects errors with their paths; reads typed fields with defaults. */
class Checker {
  readonly errors: string[] = [];

  fail(path: string, msg: string): void {
    this.errors.push(`${path}: ${msg}`);
  }

  /** Refuses keys not in `known` (a typo must not fall back to a default silently). */
  keys(o: Obj, path: string, known: readonly string[]): void {
    for (const k of Object.keys(o)) {
      if (!known.includes(k)) this.fail(path === '' ? k : `${path}.${k}`, `unknown key (known: ${known.join(', ')})`);
    }
  }

  obj(o: Obj, key: string, path: string, required: boolean): Obj | undefined {
    const v = o[key];
    if (v === undefined) {
      if (required) this.fail(path, 'missing (an object)');
      return undefined;
    }
    if (!isObj(v)) {
      this.fail(path, `${show(v)} is not an object`);
      return undefined;
    }
    return v;
  }

  str(o: Obj, key: string, path: string, opts: { required?: boolean; def?: string } = {}): string | undefined {
    const v = o[key];
    if (v === undefined) {
      if (opts.required === true) this.fail(path, 'missing (a string)');
      return opts.def;
    }
    if (typeof v !== 'string') {
      this.fail(path, `${show(v)} is not a string`);
      return opts.def;
    }
    return v;
  }

  oneOf<T extends string>(o: Obj, key: string, path: string, choices: readonly T[], def: T | undefined): T | undefined {
    const v = o[key];
    if (v === undefined) {
      if (def === undefined) this.fail(path, `missing (one of ${choices.join(', ')})`);
      return def;
    }
    if (typeof v !== 'string' || !(choices as readonly string[]).includes(v)) {
      this.fail(path, `${show(v)} is not one of ${choices.join(', ')}`);
      return def;
    }
    return v as T;
  }

  bool(o: Obj, key: string, path: string, def: boolean): boolean {
    const v = o[key];
    if (v === undefined) return def;
    if (typeof v !== 'boolean') {
      this.fail(path, `${show(v)} is not true or false`);
      return def;
    }
    return v;
  }

  num(o: Obj, key: string, path: string, opts: { min: number; max: number; integer?: boolean; def?: number }): number | undefined {
    const v = o[key];
    if (v === undefined) return opts.def;
    const integer = opts.integer === true;
    if (typeof v !== 'number' || !Number.isFinite(v) || (integer && !Number.isInteger(v)) || v < opts.min || v > opts.max) {
      this.fail(path, `${show(v)} is not ${integer ? 'a whole number' : 'a number'} in ${opts.min}..${opts.max}`);
      return opts.def;
    }
    return v;
  }
}

function absolutePath(c: Checker, v: string | undefined, path: string): string | undefined {
  if (v === undefined) return undefined;
  if (!v.startsWith('/') || v.includes('\0') || v.split('/').includes('..')) {
    c.fail(path, `${show(v)} is not an absolute path (without "..")`);
    return undefined;
  }
  return v;
}

function checkMulticast(c: Checker, v: string, path: string): string {
  const m = IPV4_RE.exec(v);
  const first = m === null ? -1 : Number(m[1]);
  if (m === null || m.slice(1).some((x) => Number(x) > 255) || first < 224 || first > 239)
    c.fail(path, `${show(v)} is not an IPv4 multicast address (224.0.0.0-239.255.255.255)`);
  return v;
}

function readDisk(c: Checker, root: Obj): DiskPlan {
  const d = c.obj(root, 'disk', 'disk', true);
  if (d === undefined) return { kind: 'path', path: '/dev/null' };
  c.keys(d, 'disk', ['path', 'rule', 'type', 'minSize']);
  if (d.path !== undefined) {
    for (const k of ['rule', 'type', 'minSize']) if (d[k] !== undefined) c.fail(`disk.${k}`, 'not with disk.path (a path or a rule, not both)');
    const p = absolutePath(c, c.str(d, 'path', 'disk.path'), 'disk.path');
    return { kind: 'path', path: p ?? '/dev/null' };
  }
  const rule = c.oneOf(d, 'rule', 'disk.rule', ['largest', 'first'] as const, undefined) ?? 'largest';
  const type = c.oneOf(d, 'type', 'disk.type', ['virtio', 'nvme', 'sata', 'any'] as const, 'any') ?? 'any';
  let minSizeBytes = 0;
  const ms = c.str(d, 'minSize', 'disk.minSize');
  if (ms !== undefined) {
    const s = parseSize(ms);
    if (s === undefined || s.kind !== 'bytes') c.fail('disk.minSize', `${show(ms)} is not a size (e.g. 8G, 512M)`);
    else minSizeBytes = s.bytes;
  }
  return { kind: 'rule', rule, type, minSizeBytes };
}

function readPartitions(c: Checker, root: Obj, table: TableKind): PartitionPlan[] {
  const v = root.partitions;
  if (v === undefined) return [];
  if (!Array.isArray(v)) {
    c.fail('partitions', `${show(v)} is not a list`);
    return [];
  }
  const max = table === 'dos' ? DOS_MAX_PARTITIONS : GPT_MAX_PARTITIONS;
  if (v.length > max)
    c.fail('partitions', `${v.length} partitions: a ${table} table holds at most ${max} here${table === 'dos' ? ' (primary partitions only)' : ''}`);
  const out: PartitionPlan[] = [];
  let restAt: number | undefined;
  let percentSum = 0;
  const mounts = new Map<string, number>();
  const labels = new Map<string, number>();
  v.forEach((raw, i) => {
    const path = `partitions[${i}]`;
    if (!isObj(raw)) {
      c.fail(path, `${show(raw)} is not an object`);
      return;
    }
    c.keys(raw, path, ['size', 'type', 'fs', 'label', 'mount', 'keep', 'uuid', 'features', 'mkfsOptions']);
    const sizeText = c.str(raw, 'size', `${path}.size`, { required: true });
    let size: SizeSpec = { kind: 'rest', text: 'rest' };
    if (sizeText !== undefined) {
      const s = parseSize(sizeText);
      if (s === undefined) c.fail(`${path}.size`, `${show(sizeText)} is not a size (e.g. 512M, 20G, 40%, rest)`);
      else if (s.kind === 'bytes' && s.bytes < 1 << 20) c.fail(`${path}.size`, `${show(sizeText)} is less than 1M (partitions are aligned to 1 MiB)`);
      else if (s.kind === 'percent' && !(s.percent > 0 && s.percent <= 100))
        c.fail(`${path}.size`, `${show(sizeText)} is not a share of the disk in (0%, 100%]`);
      else size = s;
      if (s?.kind === 'percent' && s.percent > 0) percentSum += s.percent;
      if (s?.kind === 'rest') {
        if (restAt !== undefined) c.fail(`${path}.size`, `only one partition can be "rest" (partitions[${restAt}] is already)`);
        else if (i !== v.length - 1) c.fail(`${path}.size`, '"rest" must be the last partition (the ones after it would get no space)');
        restAt ??= i;
      }
    }
    const fs = c.oneOf(raw, 'fs', `${path}.fs`, FS_KINDS, undefined) ?? 'none';
    const defType: PartitionType = fs === 'swap' ? 'swap' : 'linux';
    const type = c.oneOf(raw, 'type', `${path}.type`, PARTITION_TYPES, defType) ?? defType;
    if (type === 'swap' && fs !== 'swap' && fs !== 'none') c.fail(`${path}.fs`, `${show(fs)} on a swap partition (use swap or none)`);
    if (fs === 'swap' && type !== 'swap') c.fail(`${path}.type`, `${show(type)} for a swap file system (use swap)`);
    if (type === 'efi' && fs !== 'vfat' && fs !== 'none') c.fail(`${path}.fs`, `${show(fs)} on an EFI system partition (use vfat)`);
    if (type === 'bios-boot') {
      if (table !== 'gpt') c.fail(`${path}.type`, 'bios-boot exists on gpt tables only');
      if (fs !== 'none') c.fail(`${path}.fs`, `${show(fs)} on a bios-boot partition (GRUB writes it raw: use none)`);
    }
    const label = c.str(raw, 'label', `${path}.label`);
    if (label !== undefined) {
      if (label === '' || label.length > LABEL_MAX[fs] || /[\s/"'\\=]/.test(label)) {
        c.fail(`${path}.label`, `${show(label)} is not a label for ${fs} (1..${LABEL_MAX[fs]} characters, no blanks, quotes, "/", "=" or "\\")`);
      } else if (labels.has(label)) {
        c.fail(`${path}.label`, `${show(label)} is also the label of partitions[${labels.get(label)}]`);
      } else labels.set(label, i);
    }
    const mount = absolutePath(c, c.str(raw, 'mount', `${path}.mount`), `${path}.mount`);
    if (mount !== undefined) {
      if (!(FILESYSTEMS_WITH_DATA as readonly string[]).includes(fs)) c.fail(`${path}.mount`, `a ${fs} partition has nothing to mount`);
      else if (mounts.has(mount)) c.fail(`${path}.mount`, `${show(mount)} is also the mount point of partitions[${mounts.get(mount)}]`);
      else mounts.set(mount, i);
    }
    const keep = c.bool(raw, 'keep', `${path}.keep`, false);
    if (keep && !(FILESYSTEMS_WITH_DATA as readonly string[]).includes(fs)) {
      c.fail(`${path}.keep`, `needs a file system to check and keep (fs is ${fs})`);
    }
    const uuid = c.str(raw, 'uuid', `${path}.uuid`);
    if (uuid !== undefined) {
      if (fs === 'vfat' ? !VFAT_ID_RE.test(uuid) : !UUID_RE.test(uuid)) {
        c.fail(`${path}.uuid`, `${show(uuid)} is not ${fs === 'vfat' ? 'a vfat volume id (XXXX-XXXX)' : 'a UUID (8-4-4-4-12 hex digits)'}`);
      }
      if (fs === 'none') c.fail(`${path}.uuid`, 'a partition without a file system has no file system UUID');
    }
    const features = c.str(raw, 'features', `${path}.features`);
    if (features !== undefined && !fs.startsWith('ext')) c.fail(`${path}.features`, `mke2fs features apply to ext2/3/4, not ${fs}`);
    if (features !== undefined && !/^[\^a-z0-9_,]+$/.test(features))
      c.fail(`${path}.features`, `${show(features)} is not a mke2fs -O list (e.g. "^metadata_csum,^orphan_file")`);
    let mkfsOptions: string[] = [];
    if (raw.mkfsOptions !== undefined) {
      if (!Array.isArray(raw.mkfsOptions) || !raw.mkfsOptions.every((x) => typeof x === 'string')) c.fail(`${path}.mkfsOptions`, 'is not a list of strings');
      else mkfsOptions = raw.mkfsOptions as string[];
    }
    out.push({ number: i + 1, size, type, fs, label, mount, keep, uuid, features, mkfsOptions });
  });
  if (percentSum > 100) c.fail('partitions', `sizes add up to ${percentSum}% of the disk (over 100%)`);
  return out;
}

function readImage(c: Checker, root: Obj, parts: readonly PartitionPlan[]): ImagePlan {
  const i = c.obj(root, 'image', 'image', false);
  if (i === undefined) return { kind: 'unpack', into: '/' };
  const kind = c.oneOf(i, 'kind', 'image.kind', ['unpack', 'raw'] as const, undefined);
  if (kind === 'unpack' || kind === undefined) {
    c.keys(i, 'image', ['kind', 'into']);
    const into = absolutePath(c, c.str(i, 'into', 'image.into', { def: '/' }), 'image.into') ?? '/';
    const p = parts.find((x) => x.mount === into);
    if (p === undefined) c.fail('image.into', `${show(into)} is not the mount point of any partition`);
    else if (p.keep) c.fail(`partitions[${p.number - 1}].keep`, `the image is unpacked into this partition (image.into ${show(into)}): it cannot be kept`);
    return { kind: 'unpack', into };
  }
  c.keys(i, 'image', ['kind', 'partition', 'disk']);
  if (i.disk !== undefined) {
    if (i.partition !== undefined) c.fail('image.partition', 'not with image.disk (the whole disk or one partition)');
    if (i.disk !== true) c.fail('image.disk', `${show(i.disk)}: only true (the image is the whole disk)`);
    if (parts.some((p) => p.keep)) c.fail('image.disk', 'a whole-disk image overwrites every partition: none can be kept');
    return { kind: 'raw-disk' };
  }
  const n = c.num(i, 'partition', 'image.partition', { min: 1, max: GPT_MAX_PARTITIONS, integer: true });
  if (n === undefined) {
    if (i.partition === undefined) c.fail('image', 'a raw image needs "partition": N (1-based) or "disk": true');
    return { kind: 'raw-partition', partition: 1 };
  }
  const p = parts[n - 1];
  if (p === undefined) c.fail('image.partition', `there is no partition ${n} (the plan has ${parts.length})`);
  else if (p.fs === 'swap') c.fail('image.partition', `partitions[${n - 1}] is swap: a raw image cannot go there`);
  else if (p.keep) c.fail(`partitions[${n - 1}].keep`, 'the raw image is written into this partition: it cannot be kept');
  return { kind: 'raw-partition', partition: n };
}

function readReceiver(c: Checker, root: Obj): ReceiverPlan {
  const r = c.obj(root, 'receiver', 'receiver', false) ?? {};
  c.keys(r, 'receiver', ['portbase', 'rdvAddress', 'interface', 'keyFile', 'encrypt', 'startTimeout', 'receiveTimeout']);
  const keyFile = absolutePath(c, c.str(r, 'keyFile', 'receiver.keyFile'), 'receiver.keyFile');
  const encrypt = c.bool(r, 'encrypt', 'receiver.encrypt', false);
  if (encrypt && keyFile === undefined) c.fail('receiver.encrypt', 'needs receiver.keyFile');
  return {
    portbase: c.num(r, 'portbase', 'receiver.portbase', { min: 1, max: 65534, integer: true, def: 9000 }) ?? 9000,
    rdvAddress: checkMulticast(c, c.str(r, 'rdvAddress', 'receiver.rdvAddress', { def: '239.192.67.2' }) ?? '239.192.67.2', 'receiver.rdvAddress'),
    interface: c.str(r, 'interface', 'receiver.interface'),
    keyFile,
    encrypt,
    startTimeoutS: c.num(r, 'startTimeout', 'receiver.startTimeout', { min: 0.001, max: 86400 * 7 }),
    receiveTimeoutS: c.num(r, 'receiveTimeout', 'receiver.receiveTimeout', { min: 0.001, max: 86400, def: 30 }) ?? 30,
  };
}

function readHostname(c: Checker, v: Json | undefined): HostnameSource[] {
  if (v === undefined) return [{ from: 'dhcp' }];
  if (!Array.isArray(v)) {
    c.fail('fixups.hostname', `${show(v)} is not a list of sources ("dhcp", {"macMap": {...}}, {"fixed": "name"})`);
    return [];
  }
  const out: HostnameSource[] = [];
  v.forEach((s, i) => {
    const path = `fixups.hostname[${i}]`;
    if (s === 'dhcp') {
      out.push({ from: 'dhcp' });
      return;
    }
    if (!isObj(s)) {
      c.fail(path, `${show(s)} is not a source ("dhcp", {"macMap": {...}} or {"fixed": "name"})`);
      return;
    }
    c.keys(s, path, ['macMap', 'fixed']);
    if (Object.keys(s).length !== 1) {
      c.fail(path, 'one source per entry ("macMap" or "fixed")');
      return;
    }
    if (s.fixed !== undefined) {
      const name = c.str(s, 'fixed', `${path}.fixed`);
      if (name !== undefined && !isHostname(name)) c.fail(`${path}.fixed`, `${show(name)} is not a host name (letters, digits, "-", labels split by ".")`);
      else if (name !== undefined) out.push({ from: 'fixed', value: name });
      return;
    }
    if (s.macMap !== undefined) {
      const m = c.obj(s, 'macMap', `${path}.macMap`, true);
      if (m === undefined) return;
      const map = new Map<string, string>();
      for (const [mac, name] of Object.entries(m)) {
        const key = mac.toLowerCase().replaceAll('-', ':');
        if (!MAC_RE.test(key)) c.fail(`${path}.macMap.${mac}`, 'is not a MAC address (aa:bb:cc:dd:ee:ff)');
        else if (typeof name !== 'string' || !isHostname(name)) c.fail(`${path}.macMap.${mac}`, `${show(name)} is not a host name`);
        else if (map.has(key)) c.fail(`${path}.macMap.${mac}`, 'the same MAC address twice');
        else map.set(key, name);
      }
      out.push({ from: 'mac-map', map });
    }
  });
  return out;
}

function readFixups(c: Checker, root: Obj): FixupsPlan {
  const f = c.obj(root, 'fixups', 'fixups', false) ?? {};
  c.keys(f, 'fixups', ['hostname', 'machineId', 'udevNetRules', 'sshHostKeys', 'fstab']);
  return {
    hostname: readHostname(c, f.hostname),
    machineId: c.oneOf(f, 'machineId', 'fixups.machineId', ['reset', 'keep'] as const, 'reset') ?? 'reset',
    udevNetRules: c.oneOf(f, 'udevNetRules', 'fixups.udevNetRules', ['remove', 'keep'] as const, 'remove') ?? 'remove',
    sshHostKeys: c.oneOf(f, 'sshHostKeys', 'fixups.sshHostKeys', ['regenerate', 'keep'] as const, 'regenerate') ?? 'regenerate',
    fstab: c.oneOf(f, 'fstab', 'fixups.fstab', ['label', 'uuid', 'none'] as const, 'label') ?? 'label',
  };
}

function readBootloader(c: Checker, root: Obj): BootloaderPlan {
  const b = c.obj(root, 'bootloader', 'bootloader', false);
  if (b === undefined) return { kind: 'none' };
  const kind = c.oneOf(b, 'kind', 'bootloader.kind', ['none', 'extlinux', 'grub'] as const, undefined) ?? 'none';
  if (kind === 'none') {
    c.keys(b, 'bootloader', ['kind']);
    return { kind };
  }
  if (kind === 'grub') {
    c.keys(b, 'bootloader', ['kind', 'target']);
    return { kind, target: c.str(b, 'target', 'bootloader.target', { def: 'i386-pc' }) ?? 'i386-pc' };
  }
  c.keys(b, 'bootloader', ['kind', 'kernel', 'initrd', 'append']);
  const kernel = absolutePath(c, c.str(b, 'kernel', 'bootloader.kernel', { required: true }), 'bootloader.kernel') ?? '/vmlinuz';
  const initrd = absolutePath(c, c.str(b, 'initrd', 'bootloader.initrd'), 'bootloader.initrd');
  const append = c.str(b, 'append', 'bootloader.append', { def: 'ro' }) ?? 'ro';
  if (/[\r\n]/.test(append)) c.fail('bootloader.append', 'one line only');
  return { kind, kernel, initrd, append };
}

/** Checks between sections, once each is read. */
function crossChecks(c: Checker, p: Omit<ClonePlan, 'version'>): void {
  const { partitions: parts, image, bootloader, fixups } = p;
  if (parts.length === 0 && image.kind !== 'raw-disk') c.fail('partitions', 'empty: at least one partition (or image.disk: true)');
  if (image.kind === 'unpack' && !parts.some((x) => x.mount === '/'))
    c.fail('partitions', 'no partition is mounted at "/" (the root the image is unpacked into)');
  if (image.kind === 'raw-disk' && bootloader.kind !== 'none')
    c.fail('bootloader.kind', `${show(bootloader.kind)} with a whole-disk image (it carries its own boot code): use none`);
  if (fixups.fstab === 'label') {
    parts.forEach((x, i) => {
      if ((x.mount !== undefined || x.fs === 'swap') && x.label === undefined)
        c.fail(`partitions[${i}].label`, 'missing: fixups.fstab is "label" and fstab lists this partition');
    });
  }
  if (bootloader.kind === 'extlinux') {
    const boot = parts.find((x) => x.mount === '/boot') ?? parts.find((x) => x.mount === '/');
    if (boot === undefined) c.fail('bootloader.kind', 'extlinux needs a partition mounted at /boot or /');
    else if (!['ext2', 'ext3', 'ext4', 'vfat', 'xfs'].includes(boot.fs))
      c.fail('bootloader.kind', `extlinux cannot boot from ${boot.fs} (partitions[${boot.number - 1}])`);
    else if (boot.keep) c.fail('bootloader.kind', `extlinux installs into partitions[${boot.number - 1}], which is kept`);
  }
}

/** Validates a parsed JSON value as a plan; every error with its field's path. */
export function validatePlan(value: unknown): PlanResult {
  const c = new Checker();
  if (!isObj(value)) return { ok: false, errors: [`plan: ${show(value)} is not a JSON object`] };
  c.keys(value, '', [
    'version',
    'disk',
    'table',
    'onTableMismatch',
    'partitions',
    'image',
    'receiver',
    'fixups',
    'bootloader',
    'onSuccess',
    'onFailure',
    'comment',
  ]);
  if (value.version !== undefined && value.version !== 1) c.fail('version', `${show(value.version)}: this agent reads version 1`);
  if (value.comment !== undefined && typeof value.comment !== 'string') c.fail('comment', 'is not a string');
  const disk = readDisk(c, value);
  const table = c.oneOf(value, 'table', 'table', ['gpt', 'dos'] as const, 'gpt') ?? 'gpt';
  const onTableMismatch = c.oneOf(value, 'onTableMismatch', 'onTableMismatch', ['wipe', 'fail'] as const, 'wipe') ?? 'wipe';
  const partitions = readPartitions(c, value, table);
  const image = readImage(c, value, partitions);
  const receiver = readReceiver(c, value);
  const fixups = readFixups(c, value);
  const bootloader = readBootloader(c, value);
  const onSuccess = c.oneOf(value, 'onSuccess', 'onSuccess', ['reboot', 'poweroff', 'shell'] as const, 'reboot') ?? 'reboot';
  const onFailure = c.oneOf(value, 'onFailure', 'onFailure', ['retry', 'poweroff', 'reboot', 'shell'] as const, 'retry') ?? 'retry';
  const plan = { disk, table, onTableMismatch, partitions, image, receiver, fixups, bootloader, onSuccess, onFailure };
  if (c.errors.length === 0) crossChecks(c, plan);
  if (c.errors.length > 0) return { ok: false, errors: c.errors };
  return { ok: true, plan: deepFreeze({ version: 1, ...plan }) };
}

function deepFreeze<T>(o: T): T {
  if (typeof o === 'object' && o !== null && !(o instanceof Map)) {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

/** JSON text → plan. A syntax error is one error naming where. */
export function parsePlan(text: string, sets: readonly string[] = []): PlanResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return { ok: false, errors: [`plan: not JSON: ${e instanceof Error ? e.message : String(e)}`] };
  }
  if (sets.length > 0) {
    const r = applySets(value, sets);
    if (!r.ok) return r;
    value = r.value;
  }
  return validatePlan(value);
}

/** "a.b[2].c" → ["a", "b", 2, "c"], or undefined when it is not such a path. */
function splitPath(path: string): (string | number)[] | undefined {
  const out: (string | number)[] = [];
  const re = /([A-Za-z_][A-Za-z0-9_-]*)|\[(\d+)\]|(\.)/gy;
  let expectName = true;
  let pos = 0;
  while (pos < path.length) {
    const m = re.exec(path);
    if (m === null) break;
    pos = re.lastIndex;
    if (m[1] !== undefined) {
      if (!expectName) return undefined;
      out.push(m[1]);
      expectName = false;
    } else if (m[2] !== undefined) {
      if (expectName) return undefined;
      out.push(Number(m[2]));
    } else {
      if (expectName) return undefined;
      expectName = true;
    }
  }
  return pos === path.length && !expectName && out.length > 0 ? out : undefined;
}

/**
 * Overrides scalar fields by dotted path ("disk.path=/dev/vdb", "partitions[1].size=30G",
 * "receiver.portbase=9002"), as the kernel command line's rackcast.KEY=VALUE gives them. The
 * value is JSON when it parses as a number, true or false, else a string. Setting disk.path
 * replaces a disk rule (and disk.rule a path): the two exclude each other. The result is
 * validated like the file.
 */
export function applySets(value: unknown, sets: readonly string[]): { ok: true; value: unknown } | { ok: false; errors: string[] } {
  const copy = JSON.parse(JSON.stringify(value)) as Json;
  const errors: string[] = [];
  for (const s of sets) {
    const eq = s.indexOf('=');
    const path = eq < 0 ? undefined : splitPath(s.slice(0, eq));
    if (eq < 0 || path === undefined) {
      errors.push(`--set ${show(s)}: expected FIELD=VALUE with FIELD a dotted path (e.g. disk.path=/dev/vdb)`);
      continue;
    }
    const text = s.slice(eq + 1);
    const v: Json = /^(-?\d+(\.\d+)?|true|false)$/.test(text) ? (JSON.parse(text) as Json) : text;
    if (!isObj(copy)) {
      errors.push(`--set ${show(s)}: the plan is not an object`);
      continue;
    }
    let node: Json = copy;
    let ok = true;
    for (let i = 0; i < path.length - 1; i++) {
      const k = path[i]!;
      const next: Json | undefined = typeof k === 'number' ? (Array.isArray(node) ? node[k] : undefined) : isObj(node) ? node[k] : undefined;
      if (next === undefined && typeof k === 'string' && isObj(node) && typeof path[i + 1] === 'string') {
        node[k] = {};
        node = node[k];
        continue;
      }
      if (next === undefined || next === null || typeof next !== 'object') {
        errors.push(`--set ${show(s)}: ${s.slice(0, eq)} does not lead to a field of the plan`);
        ok = false;
        break;
      }
      node = next;
    }
    if (!ok) continue;
    const last = path[path.length - 1]!;
    const existing = typeof last === 'number' ? (Array.isArray(node) ? node[last] : undefined) : isObj(node) ? node[last] : undefined;
    if (existing !== undefined && typeof existing === 'object' && existing !== null) {
      errors.push(`--set ${show(s)}: ${s.slice(0, eq)} is not a single value (only scalar fields can be set)`);
      continue;
    }
    if (typeof last === 'number') {
      if (!Array.isArray(node) || last >= node.length) {
        errors.push(`--set ${show(s)}: ${s.slice(0, eq)} is not an element of the plan`);
        continue;
      }
      node[last] = v;
    } else if (isObj(node)) {
      if (path.length === 2 && path[0] === 'disk' && (last === 'path' || last === 'rule')) {
        // A path and a rule exclude each other: the override replaces the other way.
        for (const k of last === 'path' ? ['rule', 'type', 'minSize'] : ['path']) delete node[k];
      }
      node[last] = v;
    }
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, value: copy };
}
