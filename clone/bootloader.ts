// The bootloader, installed only after the image verified and the fixups ran, so a node
// never boots a half-written root (the agent also clears the disk's boot code before it
// writes anything: an interrupted clone falls back to the next boot device, e.g. PXE).
//
// extlinux comes from the boot image: extlinux.conf with the plan's kernel, initrd and
// append line (root=LABEL=... or UUID=... added when the line has no root=), `extlinux
// --install` into the boot partition's /extlinux (or /boot/extlinux when /boot is on the
// root), and syslinux's MBR (mbr.bin for dos, gptmbr.bin for GPT) in the first 440 bytes.
// grub runs in the target (chroot), with the image's own grub-install and update-grub.

import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { withChrootMounts } from './chroot.js';
import type { Commands } from './exec.js';
import { resolveInRoot, writeInPlace } from './fixups.js';
import { bootPartition } from './layout.js';
import type { CloneLog } from './log.js';
import type { ClonePlan } from './plan.js';
import { StepError } from './steps.js';

export const BOOT_CODE_BYTES = 440;
export const SYSLINUX_MBR_DIRS = ['/usr/lib/syslinux/mbr', '/usr/lib/EXTLINUX', '/usr/share/syslinux'];

export interface BootloaderSummary {
  kind: string;
  installed: boolean;
  config?: string;
}

export function findMbrFile(table: 'gpt' | 'dos', dirs = SYSLINUX_MBR_DIRS): string | undefined {
  const name = table === 'gpt' ? 'gptmbr.bin' : 'mbr.bin';
  return dirs.map((d) => join(d, name)).find((p) => existsSync(p));
}

/** Writes `code` (at most 440 bytes) at the start of the disk; the partition table after it is untouched. */
export function writeBootCode(disk: string, code: Uint8Array): void {
  if (code.byteLength > BOOT_CODE_BYTES) throw new RangeError(`boot code of ${code.byteLength} bytes`);
  const fd = openSync(disk, 'r+');
  try {
    writeSync(fd, code, 0, code.byteLength, 0);
  } finally {
    closeSync(fd);
  }
}

export function extlinuxConf(opts: { kernel: string; initrd: string | undefined; append: string }): string {
  return [
    '# written by rackcast-clone from the clone plan',
    'DEFAULT rackcast',
    'PROMPT 0',
    'TIMEOUT 0',
    '',
    'LABEL rackcast',
    `  LINUX ${opts.kernel}`,
    ...(opts.initrd !== undefined ? [`  INITRD ${opts.initrd}`] : []),
    `  APPEND ${opts.append}`,
    '',
  ].join('\n');
}

export async function installBootloader(opts: {
  plan: ClonePlan;
  root: string;
  disk: string;
  cmd: Commands;
  log: CloneLog;
  uuids: ReadonlyMap<number, string>;
}): Promise<BootloaderSummary> {
  const { plan, root, disk, cmd, log } = opts;
  const b = plan.bootloader;
  const dry = cmd.dryRun;
  if (b.kind === 'none') return { kind: 'none', installed: false };
  if (b.kind === 'grub') {
    for (const tool of ['/usr/sbin/grub-install', '/usr/sbin/update-grub']) {
      if (resolveInRoot(root, tool) === undefined && !dry) {
        throw new StepError('bootloader', `the image has no ${tool}: install grub-pc (BIOS) or grub-efi in the image, or use bootloader extlinux`);
      }
    }
    await withChrootMounts('bootloader', cmd, root, ['/dev', '/proc', '/sys'], async () => {
      await cmd.run('bootloader', ['chroot', root, '/usr/sbin/grub-install', `--target=${b.target}`, disk]);
      await cmd.run('bootloader', ['chroot', root, '/usr/sbin/update-grub']);
    });
    return { kind: 'grub', installed: !dry };
  }
  // extlinux
  const boot = bootPartition(plan)!;
  const separateBoot = boot.mount === '/boot';
  const rel = (p: string): string => (separateBoot ? p.replace(/^\/boot(?=\/)/, '') : p);
  const kernel = resolveInRoot(root, b.kernel);
  if (kernel === undefined && !dry) throw new StepError('bootloader', `the image has no kernel at ${b.kernel} (bootloader.kernel)`);
  const initrd = b.initrd === undefined ? undefined : resolveInRoot(root, b.initrd);
  if (b.initrd !== undefined && initrd === undefined && !dry) throw new StepError('bootloader', `the image has no initrd at ${b.initrd} (bootloader.initrd)`);
  let append = b.append;
  if (!/(^|\s)root=/.test(append)) {
    const rootPart = plan.partitions.find((p) => p.mount === '/');
    const uuid = rootPart === undefined ? undefined : opts.uuids.get(rootPart.number);
    const spec = rootPart?.label !== undefined && plan.fixups.fstab !== 'uuid' ? `LABEL=${rootPart.label}` : uuid !== undefined ? `UUID=${uuid}` : undefined;
    if (spec !== undefined) append = `root=${spec} ${append}`;
  }
  const mbr = findMbrFile(plan.table);
  if (mbr === undefined)
    throw new StepError(
      'bootloader',
      `syslinux's ${plan.table === 'gpt' ? 'gptmbr.bin' : 'mbr.bin'} is not in ${SYSLINUX_MBR_DIRS.join(', ')} (package syslinux-common)`,
    );
  const dir = join(root, 'boot', 'extlinux');
  const conf = extlinuxConf({ kernel: rel(kernel ?? b.kernel), initrd: initrd === undefined ? undefined : rel(initrd), append });
  log.line(
    'bootloader',
    `${dry ? 'would write' : 'write'} ${separateBoot ? '/extlinux' : '/boot/extlinux'}/extlinux.conf: LINUX ${rel(kernel ?? b.kernel)} APPEND ${append}`,
  );
  if (!dry) {
    mkdirSync(dir, { recursive: true });
    writeInPlace(join(dir, 'extlinux.conf'), conf);
  }
  await cmd.run('bootloader', ['extlinux', '--install', dir]);
  const code = readFileSync(mbr).subarray(0, BOOT_CODE_BYTES);
  log.line('bootloader', `${dry ? 'would write' : 'write'} ${mbr} (${code.byteLength} bytes of boot code) to ${disk}`);
  if (!dry) {
    try {
      writeBootCode(disk, code);
    } catch (e) {
      throw new StepError('bootloader', `cannot write the boot code to ${disk}: ${(e as Error).message}`);
    }
  }
  return { kind: 'extlinux', installed: !dry, config: conf };
}
