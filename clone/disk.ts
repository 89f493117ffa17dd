// Which disk the plan means: a path, or a rule over the machine's disks (/sys/block): the
// largest or the first (by name) of a type (virtio vd*, nvme nvme*n*, sata sd*, any) with at
// least minSize. Never a disk that holds the running system (mounted, swap, held by md/dm) or
// removable media, and never a virtual device (loop, ram, zram, optical, device-mapper, md).

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { blockDeviceUsers } from '../receiver/disk.js';
import type { DiskPlan, DiskType } from './plan.js';
import { StepError } from './steps.js';

export interface DiskInfo {
  readonly path: string;
  readonly bytes: number;
  /** How it was chosen, for the log. */
  readonly why: string;
}

const VIRTUAL = /^(loop|ram|zram|sr|fd|dm-|md|nbd|mtdblock)/;

function read(p: string): string | undefined {
  try {
    return readFileSync(p, 'utf8').trim();
  } catch {
    return undefined;
  }
}

export function diskType(name: string): DiskType | 'other' {
  if (/^vd[a-z]+$/.test(name)) return 'virtio';
  if (/^nvme\d+n\d+$/.test(name)) return 'nvme';
  if (/^(sd|hd)[a-z]+$/.test(name)) return 'sata';
  return 'other';
}

/** Natural order: vda < vdb < vdaa, nvme0n1 < nvme1n1 < nvme10n1. */
function byName(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true }) || a.length - b.length;
}

export interface Candidate {
  readonly name: string;
  readonly bytes: number;
  readonly skipped: string | undefined;
}

/** Every disk under `sysBlock` with why it cannot be picked (undefined: it can). */
export function listDisks(sysBlock: string, plan: Extract<DiskPlan, { kind: 'rule' }>, inUse: (name: string) => string[]): Candidate[] {
  let names: string[];
  try {
    names = readdirSync(sysBlock);
  } catch {
    names = [];
  }
  return names.sort(byName).map((name) => {
    const bytes = Number(read(join(sysBlock, name, 'size')) ?? '0') * 512;
    let skipped: string | undefined;
    if (VIRTUAL.test(name)) skipped = 'virtual device';
    else if (read(join(sysBlock, name, 'removable')) === '1') skipped = 'removable media';
    else if (read(join(sysBlock, name, 'ro')) === '1') skipped = 'read-only';
    else if (bytes === 0) skipped = 'no medium';
    else if (plan.type !== 'any' && diskType(name) !== plan.type) skipped = `not ${plan.type}`;
    else if (bytes < plan.minSizeBytes) skipped = `smaller than ${plan.minSizeBytes} bytes`;
    else {
      const users = inUse(name);
      if (users.length > 0) skipped = `holds the running system (${users[0]})`;
    }
    return { name, bytes, skipped };
  });
}

export function pickDisk(cands: readonly Candidate[], plan: Extract<DiskPlan, { kind: 'rule' }>): Candidate | undefined {
  const ok = cands.filter((c) => c.skipped === undefined);
  if (ok.length === 0) return undefined;
  if (plan.rule === 'first') return ok[0];
  return ok.reduce((best, c) => (c.bytes > best.bytes ? c : best));
}

function blockBytes(path: string): number {
  const st = statSync(path);
  if (!st.isBlockDevice()) throw new StepError('disk', `${path} is not a block device`);
  const real = `/sys/dev/block/${Math.floor(st.rdev / 256) & 0xfff}:${(st.rdev & 0xff) | ((st.rdev >> 12) & ~0xff)}`;
  const sectors = read(join(real, 'size'));
  if (sectors === undefined) throw new StepError('disk', `cannot read the size of ${path} (${real}/size)`);
  return Number(sectors) * 512;
}

export function resolveDisk(plan: DiskPlan, sysBlock = '/sys/block'): DiskInfo {
  if (plan.kind === 'path') {
    let bytes: number;
    try {
      bytes = blockBytes(plan.path);
    } catch (e) {
      if (e instanceof StepError) throw e;
      throw new StepError('disk', `${plan.path}: ${(e as Error).message}`);
    }
    const users = blockDeviceUsers(plan.path);
    if (users.length > 0) throw new StepError('disk', `${plan.path} holds the running system: ${users.join('; ')}`);
    const name = plan.path.replace(/^\/dev\//, '');
    if (read(join(sysBlock, name, 'removable')) === '1') throw new StepError('disk', `${plan.path} is removable media`);
    return { path: plan.path, bytes, why: 'disk.path' };
  }
  const cands = listDisks(sysBlock, plan, (name) => {
    try {
      return blockDeviceUsers(`/dev/${name}`);
    } catch {
      return [];
    }
  });
  const pick = pickDisk(cands, plan);
  if (pick === undefined) {
    const seen = cands.map((c) => `${c.name} (${c.skipped})`).join(', ') || 'none';
    throw new StepError(
      'disk',
      `no disk matches the rule ${plan.rule}/${plan.type}${plan.minSizeBytes > 0 ? ` >= ${plan.minSizeBytes} bytes` : ''}; disks seen: ${seen}`,
    );
  }
  return { path: `/dev/${pick.name}`, bytes: pick.bytes, why: `rule ${plan.rule}/${plan.type}` };
}
