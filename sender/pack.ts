// udp-sender --pack DIR [--pack-format crc|newc]: streams a cpio archive of DIR, as
// `cd DIR && find . -xdev | cpio -o --format=crc` makes it, so a prepared tree is imaged
// in one step (combinable with --compress). Names are relative ("." for DIR itself,
// then "a", "a/b"), sorted bytewise per directory so the same tree gives the same
// archive; mount points inside DIR are archived but not descended (find -xdev).
// As GNU cpio (`copyout.c`):
// - newc/crc hard links: an inode's links share one ino; all but the last in the archive
//   have size 0 and the last carries the data (links are held back until all nlink names
//   were seen, or to the end of the archive);
// - crc: the header's check field is the sum of the data bytes, so a file is read twice
//   (the second time it must give the same sum, or the archive would be wrong);
// - the archive ends with TRAILER!!! and is padded with zeros to a multiple of 512.
// Sockets are skipped with a warning. Inode numbers are renumbered from 1, so 64-bit
// inodes cannot collide in the 32-bit field. A file of 4 GiB or more cannot be stored in
// these formats and fails the transfer, as do unreadable files: an image silently missing
// files is worse than none.
//
// Header (newc 070701, crc 070702): 110 ASCII bytes, 8 upper-case hex digits per field
//   off size field | 0 6 magic | 6 8 ino | 14 8 mode | 22 8 uid | 30 8 gid | 38 8 nlink
//   | 46 8 mtime | 54 8 filesize | 62 8 devmajor | 70 8 devminor | 78 8 rdevmajor
//   | 86 8 rdevminor | 94 8 namesize (with the NUL) | 102 8 check
//   name + NUL padded to a multiple of 4 from the header's start; data padded to 4.

import { type BigIntStats, constants as fsc, promises as fsp } from 'node:fs';
import { addBytes } from '../common/cpio-checksum.js';
import { IoError, oneLine } from '../common/errors.js';
import { IMAGE_BYTES_UNKNOWN } from '../protocol/messages/hello.js';
import type { Source, SourceReport } from './source-types.js';

export type PackFormat = 'newc' | 'crc';

const MAGIC: Readonly<Record<PackFormat, string>> = { newc: '070701', crc: '070702' };
const HEADER_BYTES = 110;
const FIELD_MAX = 0xffff_ffff;
const ARCHIVE_BLOCK_BYTES = 512;
const READ_BYTES = 1 << 20;
const SLASH = Buffer.from('/');
const TRAILER = 'TRAILER!!!';

const S_IFMT = 0o170000n;
const S_IFSOCK = 0o140000n;
const S_IFLNK = 0o120000n;
const S_IFREG = 0o100000n;
const S_IFBLK = 0o060000n;
const S_IFCHR = 0o020000n;

/** The fields of one newc/crc header. */
export interface NewcFields {
  readonly ino: number;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly nlink: number;
  readonly mtime: number;
  readonly fileBytes: number;
  readonly devMajor: number;
  readonly devMinor: number;
  readonly rdevMajor: number;
  readonly rdevMinor: number;
  readonly check: number;
}

function pad4(n: number): number {
  return Math.ceil(n / 4) * 4;
}

/** Header, name, NUL and padding of one entry (the data and its padding follow). */
export function encodeNewcHeader(format: PackFormat, f: NewcFields, name: Uint8Array): Buffer {
  const values = [f.ino, f.mode, f.uid, f.gid, f.nlink, f.mtime, f.fileBytes, f.devMajor, f.devMinor, f.rdevMajor, f.rdevMinor, name.byteLength + 1, f.check];
  let text = MAGIC[format];
  for (const v of values) {
    if (!Number.isInteger(v) || v < 0 || v > FIELD_MAX) throw new RangeError(`cpio header field out of range: ${v}`);
    text += v.toString(16).toUpperCase().padStart(8, '0');
  }
  const out = Buffer.alloc(pad4(HEADER_BYTES + name.byteLength + 1));
  out.write(text, 0, 'latin1');
  out.set(name, HEADER_BYTES);
  return out;
}

/** The trailer and the zeros that pad the archive to a multiple of 512 bytes. */
export function encodeTrailer(format: PackFormat, archiveBytesBefore: number): Buffer {
  const h = encodeNewcHeader(
    format,
    { ino: 0, mode: 0, uid: 0, gid: 0, nlink: 1, mtime: 0, fileBytes: 0, devMajor: 0, devMinor: 0, rdevMajor: 0, rdevMinor: 0, check: 0 },
    Buffer.from(TRAILER),
  );
  const total = archiveBytesBefore + h.byteLength;
  const padded = Math.ceil(total / ARCHIVE_BLOCK_BYTES) * ARCHIVE_BLOCK_BYTES;
  return Buffer.concat([h, Buffer.alloc(padded - total)]);
}

// Linux dev_t → major/minor (glibc's gnu_dev_major/minor).
function major(dev: bigint): number {
  return Number(((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn));
}
function minor(dev: bigint): number {
  return Number((dev & 0xffn) | ((dev >> 12n) & ~0xffn));
}

interface Entry {
  /** Name in the archive. */
  readonly name: Buffer;
  readonly abs: Buffer;
  readonly st: BigIntStats;
}

function show(b: Buffer): string {
  return b.toString('utf8');
}

export interface PackOptions {
  readonly dir: string;
  readonly format: PackFormat;
  /** Entries skipped (sockets). */
  readonly warn?: (message: string) => void;
}

export class PackSource implements Source {
  readonly sizeBytes = IMAGE_BYTES_UNKNOWN;
  readonly description: string;
  private readonly chunks: AsyncGenerator<Uint8Array>;
  private pending: Uint8Array = new Uint8Array(0);
  private nextIno = 1;
  private readonly linkInos = new Map<string, number>(); // UNBOUNDED: one per multiply-linked inode
  private readonly groups = new Map<string, Entry[]>(); // UNBOUNDED: links held back until their last name
  private archiveBytes = 0;
  private closed = false;
  entries = 0;

  private constructor(
    private readonly root: Buffer,
    private readonly rootDev: bigint,
    private readonly opts: PackOptions,
  ) {
    this.description = `--pack ${opts.dir} (${opts.format})`;
    this.chunks = this.archive();
  }

  static async open(opts: PackOptions): Promise<PackSource> {
    try {
      const root = await fsp.realpath(opts.dir);
      const st = await fsp.stat(root, { bigint: true });
      if (!st.isDirectory()) throw new Error('not a directory');
      return new PackSource(Buffer.from(root), st.dev, opts);
    } catch (e) {
      throw new IoError('open', `cannot pack ${opts.dir}: ${oneLine(e)}`, { cause: e });
    }
  }

  async read(n: number): Promise<Uint8Array | null> {
    const out = Buffer.allocUnsafe(n);
    let have = 0;
    while (have < n) {
      if (this.pending.byteLength === 0) {
        let r: IteratorResult<Uint8Array>;
        try {
          r = await this.chunks.next();
        } catch (e) {
          throw e instanceof IoError ? e : new IoError('read', `--pack ${this.opts.dir}: ${oneLine(e)}`, { cause: e });
        }
        if (r.done === true) break;
        this.pending = r.value;
        continue;
      }
      const take = Math.min(n - have, this.pending.byteLength);
      out.set(this.pending.subarray(0, take), have);
      this.pending = this.pending.subarray(take);
      have += take;
    }
    if (have === 0) return null;
    return have === n ? out : out.subarray(0, have);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.chunks.return(undefined);
  }

  report(): SourceReport {
    return {};
  }

  private emit(b: Uint8Array): Uint8Array {
    this.archiveBytes += b.byteLength;
    return b;
  }

  private async *archive(): AsyncGenerator<Uint8Array> {
    const rootSt = await fsp.lstat(this.root, { bigint: true });
    yield* this.entry({ name: Buffer.from('.'), abs: this.root, st: rootSt }, true);
    for await (const e of this.walk(this.root, undefined)) {
      const type = e.st.mode & S_IFMT;
      if (type === S_IFSOCK) {
        this.opts.warn?.(`${show(e.name)}: socket skipped`);
        continue;
      }
      if (type === S_IFREG && e.st.nlink > 1n) {
        const key = `${e.st.dev}:${e.st.ino}`;
        const group = this.groups.get(key) ?? [];
        group.push(e);
        if (BigInt(group.length) < e.st.nlink) {
          this.groups.set(key, group);
          continue;
        }
        this.groups.delete(key);
        yield* this.linkGroup(group);
        continue;
      }
      yield* this.entry(e, true);
    }
    // Inodes with links outside DIR: the last name seen carries the data.
    for (const group of this.groups.values()) yield* this.linkGroup(group);
    this.groups.clear();
    yield this.emit(encodeTrailer(this.opts.format, this.archiveBytes));
  }

  /** Pre-order, names sorted bytewise, not crossing into other file systems. */
  private async *walk(dir: Buffer, rel: Buffer | undefined): AsyncGenerator<Entry> {
    let names: Buffer[];
    try {
      names = await fsp.readdir(dir, { encoding: 'buffer' });
    } catch (e) {
      throw new IoError('read', `--pack: cannot read directory ${show(rel ?? Buffer.from('.'))}: ${oneLine(e)}`, { cause: e });
    }
    names.sort(Buffer.compare);
    for (const n of names) {
      const abs = Buffer.concat([dir, SLASH, n]);
      const name = rel === undefined ? n : Buffer.concat([rel, SLASH, n]);
      let st: BigIntStats;
      try {
        st = await fsp.lstat(abs, { bigint: true });
      } catch (e) {
        throw new IoError('read', `--pack: cannot stat ${show(name)}: ${oneLine(e)}`, { cause: e });
      }
      yield { name, abs, st };
      if (st.isDirectory() && st.dev === this.rootDev) yield* this.walk(abs, name);
    }
  }

  private async *linkGroup(group: readonly Entry[]): AsyncGenerator<Uint8Array> {
    for (let i = 0; i < group.length; i++) yield* this.entry(group[i]!, i === group.length - 1);
  }

  private inoFor(e: Entry): number {
    if (e.st.nlink > 1n && !e.st.isDirectory()) {
      const key = `${e.st.dev}:${e.st.ino}`;
      let ino = this.linkInos.get(key);
      if (ino === undefined) {
        ino = this.nextIno++;
        this.linkInos.set(key, ino);
      }
      return ino;
    }
    return this.nextIno++;
  }

  /** One entry: header, then (if `withData`) the file's data or the symlink's target. */
  private async *entry(e: Entry, withData: boolean): AsyncGenerator<Uint8Array> {
    const st = e.st;
    const type = st.mode & S_IFMT;
    let data: Buffer | undefined;
    let fileBytes = 0;
    let check = 0;
    if (type === S_IFLNK) {
      try {
        data = await fsp.readlink(e.abs, { encoding: 'buffer' });
      } catch (err) {
        throw new IoError('read', `--pack: cannot read symlink ${show(e.name)}: ${oneLine(err)}`, { cause: err });
      }
      fileBytes = data.byteLength;
    } else if (type === S_IFREG && withData) {
      if (st.size > BigInt(FIELD_MAX)) {
        throw new IoError('format', `--pack: ${show(e.name)} is ${st.size} bytes: cpio ${this.opts.format} stores at most 4 GiB - 1 per file`);
      }
      fileBytes = Number(st.size);
      if (this.opts.format === 'crc') check = await this.checksum(e, fileBytes);
    }
    const isDev = type === S_IFCHR || type === S_IFBLK;
    const mtime = Math.min(FIELD_MAX, Math.max(0, Number(st.mtimeMs / 1000n)));
    const fields: NewcFields = {
      ino: this.inoFor(e),
      mode: Number(st.mode),
      uid: Number(st.uid),
      gid: Number(st.gid),
      nlink: Math.min(FIELD_MAX, Number(st.nlink)),
      mtime,
      fileBytes,
      devMajor: major(st.dev),
      devMinor: minor(st.dev),
      rdevMajor: isDev ? major(st.rdev) : 0,
      rdevMinor: isDev ? minor(st.rdev) : 0,
      check,
    };
    this.entries++;
    yield this.emit(encodeNewcHeader(this.opts.format, fields, e.name));
    if (data !== undefined) {
      yield this.emit(data);
    } else if (fileBytes > 0) {
      yield* this.fileData(e, fileBytes, check);
    }
    const pad = pad4(fileBytes) - fileBytes;
    if (pad > 0) yield this.emit(Buffer.alloc(pad));
  }

  private async open(e: Entry): Promise<fsp.FileHandle> {
    try {
      return await fsp.open(e.abs, fsc.O_RDONLY | fsc.O_NOFOLLOW);
    } catch (err) {
      throw new IoError('read', `--pack: cannot read ${show(e.name)}: ${oneLine(err)}`, { cause: err });
    }
  }

  /** The crc checksum of the file's first `bytes` bytes (the first of two reads). */
  private async checksum(e: Entry, bytes: number): Promise<number> {
    const fh = await this.open(e);
    const buf = Buffer.allocUnsafe(Math.min(READ_BYTES, Math.max(1, bytes)));
    let sum = 0;
    try {
      for (let pos = 0; pos < bytes; ) {
        const r = await fh.read(buf, 0, Math.min(buf.byteLength, bytes - pos), pos);
        if (r.bytesRead === 0) throw new IoError('read', `--pack: ${show(e.name)} shrank while being packed`);
        sum = addBytes(sum, buf.subarray(0, r.bytesRead));
        pos += r.bytesRead;
      }
    } finally {
      await fh.close();
    }
    return sum;
  }

  private async *fileData(e: Entry, bytes: number, check: number): AsyncGenerator<Uint8Array> {
    const fh = await this.open(e);
    let sum = 0;
    try {
      for (let pos = 0; pos < bytes; ) {
        // A fresh buffer per chunk: read() may still hold the previous one.
        const buf = Buffer.allocUnsafe(Math.min(READ_BYTES, bytes - pos));
        let r;
        try {
          r = await fh.read(buf, 0, buf.byteLength, pos);
        } catch (err) {
          throw new IoError('read', `--pack: cannot read ${show(e.name)}: ${oneLine(err)}`, { cause: err });
        }
        if (r.bytesRead === 0) throw new IoError('read', `--pack: ${show(e.name)} shrank while being packed`);
        const chunk = buf.subarray(0, r.bytesRead);
        if (this.opts.format === 'crc') sum = addBytes(sum, chunk);
        pos += r.bytesRead;
        yield this.emit(chunk);
      }
    } finally {
      await fh.close();
    }
    if (this.opts.format === 'crc' && sum !== check) throw new IoError('read', `--pack: ${show(e.name)} changed while being packed`);
  }
}
