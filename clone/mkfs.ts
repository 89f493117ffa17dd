// File systems: the mkfs command for a partition of the plan, and the check that decides
// whether a kept partition's file system may stay (its type and label as blkid reads them,
// and a read-only check: e2fsck -f -n, xfs_repair -n, fsck.vfat -n).
//
// ext2/3/4 get the plan's features or a conservative set that older kernels and GRUB read:
// no metadata_csum (it needs crc32c, a module a minimal initramfs may lack, and older
// GRUB/e2fsprogs do not read it), no metadata_csum_seed, no orphan_file (e2fsprogs 1.47).

import type { PartitionPlan } from './plan.js';

export const DEFAULT_EXT_FEATURES = '^metadata_csum,^metadata_csum_seed,^orphan_file';

/** The command making the plan's file system on `dev`, or undefined for fs none. */
export function mkfsCommand(p: PartitionPlan, dev: string): string[] | undefined {
  const extra = [...p.mkfsOptions];
  switch (p.fs) {
    case 'ext2':
    case 'ext3':
    case 'ext4': {
      const a = [`mkfs.${p.fs}`, '-F', '-q'];
      if (p.label !== undefined) a.push('-L', p.label);
      if (p.uuid !== undefined) a.push('-U', p.uuid);
      // ext2/ext3 do not know the ext4-only features: give them only what the plan says.
      const features = p.features ?? (p.fs === 'ext4' ? DEFAULT_EXT_FEATURES : undefined);
      if (features !== undefined) a.push('-O', features);
      return [...a, ...extra, dev];
    }
    case 'xfs': {
      const a = ['mkfs.xfs', '-f', '-q'];
      if (p.label !== undefined) a.push('-L', p.label);
      if (p.uuid !== undefined) a.push('-m', `uuid=${p.uuid}`);
      return [...a, ...extra, dev];
    }
    case 'vfat': {
      const a = ['mkfs.vfat'];
      if (p.label !== undefined) a.push('-n', p.label);
      if (p.uuid !== undefined) a.push('-i', p.uuid.replace('-', ''));
      return [...a, ...extra, dev];
    }
    case 'swap': {
      const a = ['mkswap'];
      if (p.label !== undefined) a.push('-L', p.label);
      if (p.uuid !== undefined) a.push('-U', p.uuid);
      return [...a, ...extra, dev];
    }
    case 'none':
      return undefined;
  }
}

/** The read-only check of a kept file system (exit 0: clean). */
export function fsckCommand(p: PartitionPlan, dev: string): string[] | undefined {
  if (p.fs.startsWith('ext')) return ['e2fsck', '-f', '-n', dev];
  if (p.fs === 'xfs') return ['xfs_repair', '-n', dev];
  if (p.fs === 'vfat') return ['fsck.vfat', '-n', dev];
  return undefined;
}

/** `blkid -o export` output → its keys. */
export function parseBlkid(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) out[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return out;
}
