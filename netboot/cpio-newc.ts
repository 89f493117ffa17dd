// The initramfs archive: cpio "newc" (070701), the format the kernel unpacks
// (Documentation/filesystems/ramfs-rootfs-initramfs.rst in the kernel tree), written so that
// the same tree always gives the same bytes: entries in the order given (the caller sorts
// them), inode numbers counted from 1 in that order, uid/gid 0, nlink 1 (2 for a directory),
// one fixed mtime, no device numbers. Hard links are never written: a file that appears
// twice is stored twice (the kernel would link them only if nlink and ino said so).
//
//   off size field | 0 6 magic "070701" | 6 8 ino | 14 8 mode | 22 8 uid | 30 8 gid
//   | 38 8 nlink | 46 8 mtime | 54 8 filesize | 62 8 devmajor | 70 8 devminor
//   | 78 8 rdevmajor | 86 8 rdevminor | 94 8 namesize (with the NUL) | 102 8 check (0)
//   then the name and its NUL, padded to a multiple of 4 from the header's start; then the
//   data (a symlink's data is its target), padded to a multiple of 4.
// The entry TRAILER!!! ends the archive (the layout receiver/cpio/reader.ts reads).

export const NEWC_MAGIC = '070701';
export const NEWC_HEADER_BYTES = 110;
export const TRAILER_NAME = 'TRAILER!!!';
const OFF_INO = 6;
const OFF_MODE = 14;
const OFF_UID = 22;
const OFF_GID = 30;
const OFF_NLINK = 38;
const OFF_MTIME = 46;
const OFF_FILESIZE = 54;
const OFF_DEVMAJOR = 62;
const OFF_DEVMINOR = 70;
const OFF_RDEVMAJOR = 78;
const OFF_RDEVMINOR = 86;
const OFF_NAMESIZE = 94;
const OFF_CHECK = 102;
const FIELD_CHARS = 8;
const MAX_FIELD = 0xffff_ffff;

export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;

export interface NewcHeader {
  /** Path inside the archive, without a leading slash ("usr/bin/node"). */
  readonly name: string;
  readonly ino: number;
  /** File type and permission bits (S_IFREG | 0o755). */
  readonly mode: number;
  readonly nlink: number;
  readonly mtimeSec: number;
  readonly fileBytes: number;
}

function putField(buf: Buffer, off: number, value: number): void {
  if (!Number.isInteger(value) || value < 0 || value > MAX_FIELD) throw new RangeError(`cpio field out of range: ${value}`);
  buf.write(value.toString(16).padStart(FIELD_CHARS, '0'), off, FIELD_CHARS, 'latin1');
}

function pad4(n: number): number {
  return (4 - (n & 3)) & 3;
}

/** The header, the name, its NUL and the padding that aligns the data that follows. */
export function encodeNewcHeader(h: NewcHeader): Buffer {
  const name = Buffer.from(h.name, 'utf8');
  if (name.length === 0 || name.includes(0)) throw new RangeError(`bad cpio name: ${JSON.stringify(h.name)}`);
  const nameBytes = name.length + 1;
  const total = NEWC_HEADER_BYTES + nameBytes + pad4(NEWC_HEADER_BYTES + nameBytes);
  const buf = Buffer.alloc(total);
  buf.write(NEWC_MAGIC, 0, 'latin1');
  putField(buf, OFF_INO, h.ino);
  putField(buf, OFF_MODE, h.mode);
  putField(buf, OFF_UID, 0);
  putField(buf, OFF_GID, 0);
  putField(buf, OFF_NLINK, h.nlink);
  putField(buf, OFF_MTIME, h.mtimeSec);
  putField(buf, OFF_FILESIZE, h.fileBytes);
  putField(buf, OFF_DEVMAJOR, 0);
  putField(buf, OFF_DEVMINOR, 0);
  putField(buf, OFF_RDEVMAJOR, 0);
  putField(buf, OFF_RDEVMINOR, 0);
  putField(buf, OFF_NAMESIZE, nameBytes);
  putField(buf, OFF_CHECK, 0);
  name.copy(buf, NEWC_HEADER_BYTES);
  return buf;
}

/** Zero bytes that align data of `fileBytes` to 4. */
export function dataPadding(fileBytes: number): Buffer {
  return Buffer.alloc(pad4(fileBytes));
}

/** The TRAILER!!! entry. */
export function encodeTrailer(): Buffer {
  return encodeNewcHeader({ name: TRAILER_NAME, ino: 0, mode: 0, nlink: 1, mtimeSec: 0, fileBytes: 0 });
}
