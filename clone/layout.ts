// The partition table the plan asks for, as an sfdisk script, and the comparison with the
// table a disk has (docs/clone-plan.md, "Keep or wipe"): the script is applied by sfdisk to a sparse file of the
// disk's size, so sfdisk's own alignment and "rest of the disk" are normalised the same way
// on both sides, and the dumps are compared without what sfdisk makes up per run: label-id
// (dos disk id / GPT disk GUID), per-partition uuid=, the device names, and last-lba.

import type { ClonePlan, PartitionPlan, PartitionType, TableKind } from './plan.js';

export const SECTOR_BYTES = 512;
const MiB = 1 << 20;
/** sfdisk's default first partition start (1 MiB) and, for GPT, the backup table at the end. */
export const LAYOUT_OVERHEAD_BYTES = MiB + 34 * SECTOR_BYTES;

const GPT_TYPES: Readonly<Record<PartitionType, string>> = {
  linux: '0FC63DAF-8483-4772-8E79-3D69D8477DE4',
  swap: '0657FD6D-A4AB-43C4-84E5-0933C84B4F4F',
  efi: 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B',
  'bios-boot': '21686148-6449-6E6F-744E-656564454649',
  lvm: 'E6D6D379-F507-44C2-A23C-238F2A3DF928',
  raid: 'A19D880F-05FC-4D3B-A006-743F0F84911E',
};
const DOS_TYPES: Readonly<Record<PartitionType, string>> = { linux: '83', swap: '82', efi: 'ef', 'bios-boot': 'ef02', lvm: '8e', raid: 'fd' };

/** The partition extlinux boots from (/boot, else /), which gets the boot flag / legacy-boot attribute. */
export function bootPartition(plan: ClonePlan): PartitionPlan | undefined {
  if (plan.bootloader.kind !== 'extlinux') return undefined;
  return plan.partitions.find((p) => p.mount === '/boot') ?? plan.partitions.find((p) => p.mount === '/');
}

/** Size in sectors of a partition that is not "rest", aligned down to 1 MiB. */
function sizeSectors(p: PartitionPlan, diskBytes: number): number {
  const bytes = p.size.kind === 'bytes' ? p.size.bytes : p.size.kind === 'percent' ? (diskBytes * p.size.percent) / 100 : 0;
  return Math.floor(bytes / MiB) * (MiB / SECTOR_BYTES);
}

/** Bytes the layout needs on a disk of `diskBytes` (rest counts 1 MiB), or why it does not fit. */
export function layoutFits(plan: ClonePlan, diskBytes: number): { ok: true } | { ok: false; needBytes: number } {
  let need = LAYOUT_OVERHEAD_BYTES;
  for (const p of plan.partitions) need += p.size.kind === 'rest' ? MiB : Math.max(MiB, sizeSectors(p, diskBytes) * SECTOR_BYTES);
  return need <= diskBytes ? { ok: true } : { ok: false, needBytes: need };
}

/** The sfdisk script for the plan's table on a disk of `diskBytes`. */
export function sfdiskScript(plan: ClonePlan, diskBytes: number): string {
  const boot = bootPartition(plan);
  const lines = [`label: ${plan.table}`, ''];
  for (const p of plan.partitions) {
    const f: string[] = [];
    if (p.size.kind !== 'rest') f.push(`size=${sizeSectors(p, diskBytes)}`);
    f.push(`type=${(plan.table === 'gpt' ? GPT_TYPES : DOS_TYPES)[p.type]}`);
    if (plan.table === 'gpt' && p.label !== undefined) f.push(`name="${p.label}"`);
    if (p === boot) f.push(plan.table === 'gpt' ? 'attrs="LegacyBIOSBootable"' : 'bootable');
    lines.push(f.join(', '));
  }
  return `${lines.join('\n')}\n`;
}

const DROP_HEADERS = new Set(['label-id', 'device', 'last-lba']);

/**
 * An `sfdisk -d` dump reduced to what the layout decides: the label type, first-lba,
 * sector size, and per partition (by position) start, size, type, name, attributes and
 * the boot flag.
 */
export function normaliseDump(dump: string): string {
  const out: string[] = [];
  let n = 0;
  for (const raw of dump.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    const colon = line.indexOf(' : ');
    if (colon >= 0 && /start=/.test(line)) {
      n++;
      const fields = line
        .slice(colon + 3)
        .split(',')
        .map((f) => f.trim().replace(/\s*=\s*/, '='))
        .filter((f) => f !== '' && !f.startsWith('uuid='))
        .map((f) => (f.startsWith('type=') ? f.toUpperCase() : f));
      out.push(`${n}: ${fields.join(', ')}`);
      continue;
    }
    const m = /^([a-z-]+):\s*(.*)$/.exec(line);
    if (m !== null && !DROP_HEADERS.has(m[1]!)) out.push(`${m[1]}: ${m[2]}`);
  }
  return out.join('\n');
}

/** The first line where two normalised dumps differ, for the log ("want ... / have ..."). */
export function firstDifference(want: string, have: string): string {
  const a = want.split('\n');
  const b = have.split('\n');
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (a[i] !== b[i]) return `want "${a[i] ?? '(nothing)'}", disk has "${b[i] ?? '(nothing)'}"`;
  }
  return 'none';
}

export interface PartitionExtent {
  readonly number: number;
  readonly startBytes: number;
  readonly sizeBytes: number;
  /** The node name sfdisk gives it (e.g. /dev/vda1); may not exist (loop devices here). */
  readonly node: string;
}

/** Partitions from `sfdisk -J DISK` (numbered by position, as the kernel numbers them). */
export function parseSfdiskJson(text: string): { label: TableKind | string; extents: PartitionExtent[] } {
  const j = JSON.parse(text) as { partitiontable: { label: string; sectorsize?: number; partitions?: { node: string; start: number; size: number }[] } };
  const t = j.partitiontable;
  const sector = t.sectorsize ?? SECTOR_BYTES;
  const extents = (t.partitions ?? []).map((p, i) => {
    const m = /(\d+)$/.exec(p.node);
    return { number: m === null ? i + 1 : Number(m[1]), startBytes: p.start * sector, sizeBytes: p.size * sector, node: p.node };
  });
  return { label: t.label, extents };
}
