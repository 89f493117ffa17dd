// Block devices for the disk's partitions. The kernel's own nodes (/dev/vda1, /dev/nvme0n1p1,
// /dev/sda1) when they exist after `blockdev --rereadpt` / `partx -u` and have the start and
// size of the table; otherwise one loop device per partition over the disk at its offset
// (`losetup -o START --sizelimit SIZE`): a kernel without partition-table parsers (such as
// this project's test hosts, for loop devices) shows no partition nodes at all. Loop devices
// made here are detached by detachAll(), which the agent calls also on failure.

import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import type { Commands } from './exec.js';
import type { PartitionExtent } from './layout.js';
import type { Step } from './steps.js';

export interface PartitionDevice {
  readonly number: number;
  readonly path: string;
  /** A loop device made here (detached at the end). */
  readonly loop: boolean;
  readonly startBytes: number;
  readonly sizeBytes: number;
}

/** The kernel's name for partition N of a disk: vda → vda1, nvme0n1 → nvme0n1p1, loop3 → loop3p1. */
export function kernelPartitionPath(disk: string, n: number): string {
  return /\d$/.test(disk) ? `${disk}p${n}` : `${disk}${n}`;
}

function sysNumber(name: string, file: string): number | undefined {
  try {
    return Number(readFileSync(`/sys/class/block/${name}/${file}`, 'utf8').trim());
  } catch {
    return undefined;
  }
}

/** The node exists, is a block device, and sysfs agrees on its start and size (a stale node of an old table does not). */
function kernelNodeMatches(path: string, e: PartitionExtent): boolean {
  try {
    if (!existsSync(path) || !statSync(path).isBlockDevice()) return false;
  } catch {
    return false;
  }
  const name = basename(path);
  return sysNumber(name, 'start') === e.startBytes / 512 && sysNumber(name, 'size') === e.sizeBytes / 512;
}

export class PartitionDevices {
  private readonly loops: string[] = []; // bounded by the plan's partitions
  private rereadDone = false;

  constructor(
    private readonly cmd: Commands,
    private readonly disk: string,
    /** Never use the kernel's nodes (tests of the fallback, kernels with stale nodes). */
    private readonly loopsOnly = false,
  ) {}

  /** Devices for these partitions (read-only loops in a dry run). */
  async open(step: Step, extents: readonly PartitionExtent[], opts: { readOnly: boolean }): Promise<Map<number, PartitionDevice>> {
    const out = new Map<number, PartitionDevice>();
    const missing = extents.filter((e) => !kernelNodeMatches(kernelPartitionPath(this.disk, e.number), e));
    if (missing.length > 0 && !this.rereadDone && !opts.readOnly && !this.loopsOnly) {
      // Ask the kernel to read the new table; either may be refused (busy disk, no parser).
      await this.cmd.run(step, ['blockdev', '--rereadpt', this.disk], { allowFail: true });
      await this.cmd.run(step, ['partx', '-u', this.disk], { allowFail: true });
      this.rereadDone = true;
    }
    for (const e of extents) {
      const k = kernelPartitionPath(this.disk, e.number);
      if (!this.loopsOnly && kernelNodeMatches(k, e)) {
        out.set(e.number, { number: e.number, path: k, loop: false, startBytes: e.startBytes, sizeBytes: e.sizeBytes });
        continue;
      }
      const args = ['losetup', '-f', '--show', ...(opts.readOnly ? ['-r'] : []), '-o', String(e.startBytes), '--sizelimit', String(e.sizeBytes), this.disk];
      // A read-only loop over the disk changes nothing on it: it runs in a dry run too.
      const r = await this.cmd.run(step, args, { readOnly: true });
      const path = r.stdout.trim();
      this.loops.push(path);
      out.set(e.number, { number: e.number, path, loop: true, startBytes: e.startBytes, sizeBytes: e.sizeBytes });
    }
    return out;
  }

  /** Detaches the loop devices made here (never throws; also runs after a failure). */
  async detachAll(step: Step): Promise<void> {
    while (this.loops.length > 0) {
      const l = this.loops.pop()!;
      await this.cmd.run(step, ['losetup', '-d', l], { readOnly: true, allowFail: true });
    }
  }
}
