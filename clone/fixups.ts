// Identity fixups inside the freshly written root: host name, machine-id, udev's
// persistent-net rules, SSH host keys and fstab. Files are rewritten in place (open with
// truncation), never replaced by rename or `sed -i`, which would break hard links such as a
// hard-linked /etc/hosts. ssh-keygen runs in the image (chroot), with the image's own tool:
// a root without it fails here with one line, when the plan asks for new keys.

import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { withChrootMounts } from './chroot.js';
import type { Commands } from './exec.js';
import type { CloneLog } from './log.js';
import type { NetEnv } from './net-env.js';
import type { ClonePlan, HostnameSource, PartitionPlan } from './plan.js';
import { StepError } from './steps.js';

export interface FixupsSummary {
  hostname?: string;
  hostnameFrom?: string;
  machineId?: 'reset' | 'kept';
  udevRulesRemoved?: number;
  sshHostKeys?: 'regenerated' | 'kept';
  fstab?: 'label' | 'uuid' | 'kept';
}

/** The first source that gives a name: DHCP's option 12, the MAC map, a fixed name. */
export function chooseHostname(sources: readonly HostnameSource[], env: NetEnv): { name: string; from: string } | undefined {
  for (const s of sources) {
    if (s.from === 'dhcp' && env.HOSTNAME !== undefined && env.HOSTNAME !== '') return { name: env.HOSTNAME.split('.')[0]!, from: 'dhcp' };
    if (s.from === 'mac-map' && env.MAC !== undefined) {
      const n = s.map.get(env.MAC.toLowerCase());
      if (n !== undefined) return { name: n, from: `mac-map (${env.MAC})` };
    }
    if (s.from === 'fixed') return { name: s.value, from: 'fixed' };
  }
  return undefined;
}

/** Writes `text` into the file at `path` in place (same inode, hard links kept); creates it if missing. */
export function writeInPlace(path: string, text: string, mode = 0o644): void {
  const st = lstatSync(path, { throwIfNoEntry: false });
  if (st?.isSymbolicLink()) unlinkSync(path); // a link could point outside the root (a host path): replace it by a file
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text, { mode });
}

/** A path inside ROOT for a path the image may hold as a symlink (resolved inside ROOT). */
export function resolveInRoot(root: string, path: string): string | undefined {
  let p = path;
  for (let hops = 0; hops < 16; hops++) {
    const abs = join(root, p);
    const st = lstatSync(abs, { throwIfNoEntry: false });
    if (st === undefined) return undefined;
    if (!st.isSymbolicLink()) return p;
    const t = readlinkSync(abs);
    p = t.startsWith('/') ? t : join(dirname(p), t);
  }
  return undefined;
}

export interface FstabEntry {
  readonly part: PartitionPlan;
  readonly uuid: string | undefined;
}

export function fstabText(mode: 'label' | 'uuid', entries: readonly FstabEntry[]): string {
  const lines = ['# /etc/fstab: written by rackcast-clone from the clone plan', '# <file system> <mount point> <type> <options> <dump> <pass>'];
  const sorted = [...entries].sort((a, b) => (a.part.mount ?? '~').length - (b.part.mount ?? '~').length);
  for (const { part, uuid } of sorted) {
    const spec = mode === 'label' && part.label !== undefined ? `LABEL=${part.label}` : `UUID=${uuid}`;
    if (part.fs === 'swap') lines.push(`${spec} none swap sw 0 0`);
    else if (part.mount !== undefined) {
      const root = part.mount === '/';
      const opts = part.fs.startsWith('ext') && root ? 'defaults,errors=remount-ro' : part.fs === 'vfat' ? 'defaults,umask=0077' : 'defaults';
      lines.push(`${spec} ${part.mount} ${part.fs} ${opts} 0 ${root ? 1 : 2}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

export async function applyFixups(opts: {
  plan: ClonePlan;
  root: string;
  env: NetEnv;
  cmd: Commands;
  log: CloneLog;
  uuids: ReadonlyMap<number, string>;
}): Promise<FixupsSummary> {
  const { plan, root, env, cmd, log } = opts;
  const f = plan.fixups;
  const s: FixupsSummary = {};
  const dry = cmd.dryRun;
  const act = (what: string, fn: () => void): void => {
    log.line('fixups', dry ? `would ${what}` : what);
    if (!dry) fn();
  };
  if (f.hostname.length > 0) {
    const h = chooseHostname(f.hostname, env);
    if (h === undefined)
      throw new StepError('fixups', 'no host name: DHCP gave none and the MAC map has no entry for this node (add {"fixed": "name"} as the last source)');
    s.hostname = h.name;
    s.hostnameFrom = h.from;
    act(`set the host name ${h.name} (from ${h.from})`, () => {
      writeInPlace(join(root, 'etc/hostname'), `${h.name}\n`);
      const hosts = join(root, 'etc/hosts');
      const old = existsSync(hosts) ? readFileSync(hosts, 'utf8') : '127.0.0.1\tlocalhost\n';
      const kept = old.split('\n').filter((l) => !/^127\.0\.1\.1\s/.test(l) && l !== '');
      writeInPlace(hosts, `${[...kept, `127.0.1.1\t${h.name}`].join('\n')}\n`);
    });
  }
  if (f.machineId === 'reset') {
    act('empty /etc/machine-id (a new one is made at first boot)', () => {
      writeInPlace(join(root, 'etc/machine-id'), '', 0o444);
      const dbus = join(root, 'var/lib/dbus/machine-id');
      if (lstatSync(dbus, { throwIfNoEntry: false })?.isFile() === true) unlinkSync(dbus);
    });
    s.machineId = 'reset';
  } else s.machineId = 'kept';
  if (f.udevNetRules === 'remove') {
    const dir = join(root, 'etc/udev/rules.d');
    const rules = existsSync(dir) ? readdirSync(dir).filter((n) => /persistent-net\.rules$/.test(n) && !/generator/.test(n)) : [];
    for (const r of rules) act(`remove /etc/udev/rules.d/${r}`, () => unlinkSync(join(dir, r)));
    s.udevRulesRemoved = rules.length;
  }
  if (f.sshHostKeys === 'regenerate') {
    const keygen = ['/usr/bin/ssh-keygen', '/bin/ssh-keygen'].find((p) => resolveInRoot(root, p) !== undefined);
    if (keygen === undefined && !dry) {
      throw new StepError(
        'fixups',
        'the image has no ssh-keygen (/usr/bin/ssh-keygen) to make new SSH host keys: install openssh-client in the image, or set fixups.sshHostKeys to "keep"',
      );
    }
    const sshDir = join(root, 'etc/ssh');
    const old = existsSync(sshDir) ? readdirSync(sshDir).filter((n) => n.startsWith('ssh_host_')) : [];
    act(`remove ${old.length} old SSH host key file(s)`, () => {
      mkdirSync(sshDir, { recursive: true });
      for (const n of old) unlinkSync(join(sshDir, n));
    });
    await withChrootMounts('fixups', cmd, root, ['/dev'], () => cmd.run('fixups', ['chroot', root, keygen ?? '/usr/bin/ssh-keygen', '-A']));
    if (!dry && !existsSync(sshDir)) throw new StepError('fixups', 'ssh-keygen -A made no keys');
    if (!dry && readdirSync(sshDir).filter((n) => n.startsWith('ssh_host_')).length === 0)
      throw new StepError('fixups', 'ssh-keygen -A made no host keys in /etc/ssh');
    s.sshHostKeys = 'regenerated';
  } else s.sshHostKeys = 'kept';
  if (f.fstab !== 'none') {
    const entries = plan.partitions.filter((p) => p.mount !== undefined || p.fs === 'swap').map((part) => ({ part, uuid: opts.uuids.get(part.number) }));
    const missing = f.fstab === 'uuid' ? entries.find((e) => e.uuid === undefined) : undefined;
    if (missing !== undefined && !dry) throw new StepError('fixups', `no file system UUID for partition ${missing.part.number} (blkid found none)`);
    const text = fstabText(f.fstab, entries);
    act(`write /etc/fstab by ${f.fstab} (${entries.length} entries)`, () => writeInPlace(join(root, 'etc/fstab'), text));
    s.fstab = f.fstab;
  } else s.fstab = 'kept';
  return s;
}
