// The real (non-busybox) programs the clone agent runs, found on the build host, and the data
// files they read. Each lands at its host path (merged /usr), taking over a busybox applet
// link of the same name; names that are symlinks on the host (mkfs.ext4 -> mke2fs) stay links.

import { existsSync, lstatSync, readlinkSync, realpathSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** Programs the image must have (NETBOOT-CONTRACT.md in the shared notes lists them). */
export const REQUIRED_TOOLS: readonly string[] = [
  'sfdisk',
  'mke2fs',
  'mkfs.ext2',
  'mkfs.ext3',
  'mkfs.ext4',
  'e2fsck',
  'fsck.ext4',
  'tune2fs',
  'mkfs.xfs',
  'xfs_repair',
  'mkfs.fat',
  'mkfs.vfat',
  'fsck.fat',
  'fsck.vfat',
  'mkswap',
  'blkid',
  'wipefs',
  'partx',
  'losetup',
  'blockdev',
  'extlinux',
];

/** Taken when the host has them. */
export const OPTIONAL_TOOLS: readonly string[] = ['sgdisk'];

/** Data files the tools read. */
export const TOOL_DATA: readonly string[] = [
  '/etc/mke2fs.conf',
  '/usr/lib/syslinux/mbr/mbr.bin',
  '/usr/lib/syslinux/mbr/gptmbr.bin',
  '/usr/lib/syslinux/mbr/altmbr.bin',
];

/** The Debian package of each, for a missing one. */
export const TOOL_PACKAGE: Readonly<Record<string, string>> = {
  sfdisk: 'fdisk',
  mke2fs: 'e2fsprogs',
  'mkfs.ext2': 'e2fsprogs',
  'mkfs.ext3': 'e2fsprogs',
  'mkfs.ext4': 'e2fsprogs',
  e2fsck: 'e2fsprogs',
  'fsck.ext4': 'e2fsprogs',
  tune2fs: 'e2fsprogs',
  'mkfs.xfs': 'xfsprogs',
  xfs_repair: 'xfsprogs',
  'fsck.fat': 'dosfstools',
  'fsck.vfat': 'dosfstools',
  partx: 'util-linux',
  losetup: 'mount',
  blockdev: 'util-linux',
  'mkfs.fat': 'dosfstools',
  'mkfs.vfat': 'dosfstools',
  mkswap: 'util-linux',
  blkid: 'util-linux',
  wipefs: 'util-linux',
  extlinux: 'extlinux',
  '/etc/mke2fs.conf': 'e2fsprogs',
  '/usr/lib/syslinux/mbr/mbr.bin': 'syslinux-common',
  '/usr/lib/syslinux/mbr/gptmbr.bin': 'syslinux-common',
  '/usr/lib/syslinux/mbr/altmbr.bin': 'syslinux-common',
};

const SEARCH_DIRS = ['/usr/sbin', '/usr/bin', '/sbin', '/bin'];

export interface FoundTool {
  readonly name: string;
  /** The path the name has on the host (/usr/sbin/mkfs.ext4). */
  readonly path: string;
  /** When that path is a symlink: its target as written (mke2fs). */
  readonly link?: string;
  /** The file with the program (/usr/sbin/mke2fs). */
  readonly real: string;
}

export function findTool(name: string): FoundTool | undefined {
  for (const d of SEARCH_DIRS) {
    const p = join(d, name);
    if (!existsSync(p)) continue;
    const real = realpathSync(p);
    const st = lstatSync(p);
    // A link within the same directory stays a link; any other resolves to its content.
    const link = st.isSymbolicLink() && !readlinkSync(p).includes('/') ? readlinkSync(p) : undefined;
    return { name, path: link !== undefined ? p : join(dirname(p), basename(p)), link, real };
  }
  return undefined;
}
