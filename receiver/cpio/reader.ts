// A streaming cpio reader: pure (no I/O), fed chunks split anywhere, polled for events
// (as the cores are: docs/ARCHITECTURE.md, principle 1). It keeps only the header being read (at most HEADER + MAX_NAME_BYTES) and a
// symlink's target; file data is handed out as views of the chunk it came in. It checks
// every header field, and the crc format's checksum per file. Formats, as GNU cpio
// writes them (cpio(5), GNU cpio `copyin.c`):
//
// newc (070701) and crc (070702): 110-byte ASCII header, 8 hex digits per field
//   off size field | 0 6 magic | 6 8 ino | 14 8 mode | 22 8 uid | 30 8 gid | 38 8 nlink
//   | 46 8 mtime | 54 8 filesize | 62 8 devmajor | 70 8 devminor | 78 8 rdevmajor
//   | 86 8 rdevminor | 94 8 namesize (with the NUL) | 102 8 check (crc: sum of the data bytes)
//   then the name and NUL, padded to a multiple of 4 counting from the header's start;
//   then the data, padded to a multiple of 4.
// odc (070707): 76-byte ASCII header, octal digits
//   off size field | 0 6 magic | 6 6 dev | 12 6 ino | 18 6 mode | 24 6 uid | 30 6 gid
//   | 36 6 nlink | 42 6 rdev | 48 11 mtime | 59 6 namesize | 65 11 filesize
//   then the name and NUL, then the data; no padding.
// The entry named TRAILER!!! ends the archive; what follows it (GNU cpio pads to 512
// bytes) is ignored.

import { addBytes } from '../../common/cpio-checksum.js';

/** Re-exported: tests and callers check crc sums through the reader's module. */
export { addBytes };

export type CpioFormat = 'newc' | 'crc' | 'odc';

export const MAGIC_NEWC = '070701';
export const MAGIC_CRC = '070702';
export const MAGIC_ODC = '070707';
export const TRAILER_NAME = 'TRAILER!!!';
export const NEWC_HEADER_BYTES = 110;
export const ODC_HEADER_BYTES = 76;
const MAGIC_BYTES = 6;
/** Longest name accepted (with its NUL); Linux takes at most 4096 per path. */
export const MAX_NAME_BYTES = 65536;
/** Longest symlink target accepted; Linux takes at most 4095. */
export const MAX_SYMLINK_BYTES = 65536;

// newc/crc field offsets
const N_INO = 6;
const N_MODE = 14;
const N_UID = 22;
const N_GID = 30;
const N_NLINK = 38;
const N_MTIME = 46;
const N_FILESIZE = 54;
const N_DEVMAJOR = 62;
const N_DEVMINOR = 70;
const N_RDEVMAJOR = 78;
const N_RDEVMINOR = 86;
const N_NAMESIZE = 94;
const N_CHECK = 102;
const N_FIELD = 8;
// odc field offsets and widths
const O_DEV = 6;
const O_INO = 12;
const O_MODE = 18;
const O_UID = 24;
const O_GID = 30;
const O_NLINK = 36;
const O_RDEV = 42;
const O_MTIME = 48;
const O_NAMESIZE = 59;
const O_FILESIZE = 65;
const O_FIELD = 6;
const O_WIDE = 11;

export const S_IFMT = 0o170000;
export const S_IFSOCK = 0o140000;
export const S_IFLNK = 0o120000;
export const S_IFREG = 0o100000;
export const S_IFBLK = 0o060000;
export const S_IFDIR = 0o040000;
export const S_IFCHR = 0o020000;
export const S_IFIFO = 0o010000;

export interface CpioHeader {
  readonly format: CpioFormat;
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
  /** crc: the sum of the data bytes (mod 2^32); 0 otherwise. */
  readonly check: number;
  /** The name's bytes without the NUL (not necessarily UTF-8). */
  readonly name: Buffer;
}

export type CpioEvent =
  /** An entry starts. A symlink's entry carries its target and has no data events. */
  | { readonly kind: 'entry'; readonly header: CpioHeader; readonly symlinkTarget?: Buffer }
  /** The entry's data, in order; a view of the chunk given to feed(): use it before the next feed(). */
  | { readonly kind: 'data'; readonly bytes: Uint8Array }
  /** The entry's data is complete (and its crc checksum matched). */
  | { readonly kind: 'entryEnd'; readonly header: CpioHeader }
  | { readonly kind: 'trailer' };

export type CpioErrorCode = 'ERR_CPIO_BAD_MAGIC' | 'ERR_CPIO_BAD_HEADER' | 'ERR_CPIO_NAME' | 'ERR_CPIO_CHECKSUM' | 'ERR_CPIO_TRUNCATED' | 'ERR_CPIO_MISUSE';

export class CpioError extends Error {
  constructor(
    readonly code: CpioErrorCode,
    message: string,
    /** The entry it concerns, if any (for messages). */
    readonly entry?: string,
  ) {
    super(message);
    this.name = 'CpioError';
  }
}

/** A name for messages: UTF-8 where it is, escapes elsewhere, one line. */
export function printableName(name: Uint8Array): string {
  const s = Buffer.from(name.buffer, name.byteOffset, name.byteLength).toString('utf8');
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this escapes
  return s.replace(/[\u0000-\u001f\u007f\ufffd]/g, (c) => (c === '\ufffd' ? '?' : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`));
}

/** Linux's major()/minor() of a dev_t, as GNU cpio decodes odc's dev and rdev fields. */
export function devMajor(dev: number): number {
  return Math.floor(dev / 256) & 0xfff;
}
export function devMinor(dev: number): number {
  return (dev & 0xff) | (Math.floor(dev / 4096) & ~0xff);
}

type State = 'header' | 'name' | 'data' | 'symlink' | 'pad' | 'done';

const HEX: Int8Array = (() => {
  const t = new Int8Array(256).fill(-1);
  for (let i = 0; i < 10; i++) t[0x30 + i] = i;
  for (let i = 0; i < 6; i++) {
    t[0x41 + i] = 10 + i;
    t[0x61 + i] = 10 + i;
  }
  return t;
})();

export class CpioReader {
  private state: State = 'header';
  private chunk: Uint8Array = new Uint8Array(0);
  private pos = 0;
  /** Header + name (+ padding) being gathered. */
  private acc: Buffer = Buffer.allocUnsafe(NEWC_HEADER_BYTES + 4);
  private accHave = 0;
  private need = MAGIC_BYTES;
  private format: CpioFormat | undefined;
  /** Fields of the header being read, until its name is in. */
  private fields: Omit<CpioHeader, 'name'> | undefined;
  private nameBytes = 0;
  private header: CpioHeader | undefined;
  /** A symlink's entry was returned: its entryEnd comes next. */
  private pendingEnd = false;
  private dataLeft = 0;
  private padLeft = 0;
  private sum = 0;
  private archiveOffset = 0;
  private entryOffset = 0;
  private entries = 0;
  /** Bytes after the trailer (GNU cpio's padding to 512, or anything else): ignored, counted. */
  trailingBytes = 0;

  get archiveFormat(): CpioFormat | undefined {
    return this.format;
  }

  get entryCount(): number {
    return this.entries;
  }

  get done(): boolean {
    return this.state === 'done';
  }

  /** The next chunk; the previous one must have been polled to the end. */
  feed(chunk: Uint8Array): void {
    if (this.pos < this.chunk.byteLength) throw new CpioError('ERR_CPIO_MISUSE', 'cpio reader: feed() before the previous chunk was polled to the end');
    this.chunk = chunk;
    this.pos = 0;
  }

  /** The next event, or undefined when the chunk is used up. Throws CpioError on a bad archive. */
  poll(): CpioEvent | undefined {
    if (this.pendingEnd) {
      // A symlink's entry event is followed by its entryEnd.
      this.pendingEnd = false;
      return { kind: 'entryEnd', header: this.header! };
    }
    for (;;) {
      const avail = this.chunk.byteLength - this.pos;
      switch (this.state) {
        case 'done':
          this.trailingBytes += avail;
          this.archiveOffset += avail;
          this.pos = this.chunk.byteLength;
          return undefined;
        case 'data': {
          if (this.dataLeft === 0) return this.endData();
          if (avail === 0) return undefined;
          const take = Math.min(avail, this.dataLeft);
          const bytes = this.chunk.subarray(this.pos, this.pos + take);
          this.pos += take;
          this.archiveOffset += take;
          this.dataLeft -= take;
          if (this.header!.format === 'crc') this.sum = addBytes(this.sum, bytes);
          return { kind: 'data', bytes };
        }
        case 'pad': {
          const take = Math.min(avail, this.padLeft);
          this.pos += take;
          this.archiveOffset += take;
          this.padLeft -= take;
          if (this.padLeft > 0) return undefined;
          this.startHeader();
          continue;
        }
        default: {
          // header, name, symlink: gather `need` bytes into acc.
          if (avail === 0) return undefined;
          const take = Math.min(avail, this.need - this.accHave);
          this.acc.set(this.chunk.subarray(this.pos, this.pos + take), this.accHave);
          this.pos += take;
          this.archiveOffset += take;
          this.accHave += take;
          if (this.accHave < this.need) return undefined;
          const ev = this.onGathered();
          if (ev !== undefined) return ev;
        }
      }
    }
  }

  /** The input ended: it must have ended after the trailer. */
  end(): void {
    if (this.state === 'done') return;
    const where = this.header === undefined || this.state === 'header' ? `after ${this.entries} entries` : `in entry ${printableName(this.header.name)}`;
    const name = this.state === 'header' || this.header === undefined ? undefined : printableName(this.header.name);
    if (this.archiveOffset === 0) throw new CpioError('ERR_CPIO_TRUNCATED', 'cpio: empty archive (no entries, no trailer)');
    throw new CpioError('ERR_CPIO_TRUNCATED', `cpio: archive truncated ${where} (at byte ${this.archiveOffset}, no TRAILER!!!)`, name);
  }

  private startHeader(): void {
    this.state = 'header';
    this.accHave = 0;
    this.need = MAGIC_BYTES;
    this.header = undefined;
    this.entryOffset = this.archiveOffset;
  }

  private grow(bytes: number): void {
    if (this.acc.byteLength >= bytes) return;
    const b = Buffer.allocUnsafe(Math.max(bytes, this.acc.byteLength * 2));
    this.acc.copy(b, 0, 0, this.accHave);
    this.acc = b;
  }

  private bad(code: CpioErrorCode, what: string): never {
    const name = this.header === undefined ? undefined : printableName(this.header.name);
    const where = name === undefined ? `header at byte ${this.entryOffset}` : `entry ${name}`;
    throw new CpioError(code, `cpio: ${where}: ${what}`, name);
  }

  private onGathered(): CpioEvent | undefined {
    switch (this.state) {
      case 'header': {
        if (this.need === MAGIC_BYTES) {
          const magic = this.acc.toString('latin1', 0, MAGIC_BYTES);
          const format: CpioFormat | undefined = magic === MAGIC_NEWC ? 'newc' : magic === MAGIC_CRC ? 'crc' : magic === MAGIC_ODC ? 'odc' : undefined;
          if (format === undefined) {
            this.bad('ERR_CPIO_BAD_MAGIC', `not a cpio header (magic "${printableName(this.acc.subarray(0, MAGIC_BYTES))}"; newc, crc and odc are read)`);
          }
          if (this.format !== undefined && (this.format === 'odc') !== (format === 'odc')) {
            this.bad('ERR_CPIO_BAD_MAGIC', `${format} header in a ${this.format} archive`);
          }
          this.format ??= format;
          this.need = format === 'odc' ? ODC_HEADER_BYTES : NEWC_HEADER_BYTES;
          this.grow(this.need);
          return undefined;
        }
        this.parseHeaderFields();
        return undefined;
      }
      case 'name':
        return this.onName();
      case 'symlink': {
        const target = Buffer.from(this.acc.subarray(0, this.accHave));
        this.state = 'pad';
        this.padLeft = this.dataPad(this.header!.fileBytes);
        this.pendingEnd = true;
        return { kind: 'entry', header: this.header!, symlinkTarget: target };
      }
      default:
        throw new Error(`unreachable state ${this.state}`);
    }
  }

  private num(off: number, width: number, radix: 8 | 16, field: string): number {
    let v = 0;
    for (let i = off; i < off + width; i++) {
      const d = HEX[this.acc[i]!]!;
      if (d < 0 || d >= radix) {
        this.bad('ERR_CPIO_BAD_HEADER', `bad ${field} field "${printableName(this.acc.subarray(off, off + width))}"`);
      }
      v = v * radix + d;
    }
    return v;
  }

  private parseHeaderFields(): void {
    const fmt = this.acc.toString('latin1', 0, MAGIC_BYTES);
    if (fmt === MAGIC_ODC) {
      const dev = this.num(O_DEV, O_FIELD, 8, 'dev');
      const rdev = this.num(O_RDEV, O_FIELD, 8, 'rdev');
      this.fields = {
        format: 'odc',
        ino: this.num(O_INO, O_FIELD, 8, 'ino'),
        mode: this.num(O_MODE, O_FIELD, 8, 'mode'),
        uid: this.num(O_UID, O_FIELD, 8, 'uid'),
        gid: this.num(O_GID, O_FIELD, 8, 'gid'),
        nlink: this.num(O_NLINK, O_FIELD, 8, 'nlink'),
        mtime: this.num(O_MTIME, O_WIDE, 8, 'mtime'),
        fileBytes: this.num(O_FILESIZE, O_WIDE, 8, 'filesize'),
        devMajor: devMajor(dev),
        devMinor: devMinor(dev),
        rdevMajor: devMajor(rdev),
        rdevMinor: devMinor(rdev),
        check: 0,
      };
      this.nameBytes = this.num(O_NAMESIZE, O_FIELD, 8, 'namesize');
    } else {
      this.fields = {
        format: fmt === MAGIC_CRC ? 'crc' : 'newc',
        ino: this.num(N_INO, N_FIELD, 16, 'ino'),
        mode: this.num(N_MODE, N_FIELD, 16, 'mode'),
        uid: this.num(N_UID, N_FIELD, 16, 'uid'),
        gid: this.num(N_GID, N_FIELD, 16, 'gid'),
        nlink: this.num(N_NLINK, N_FIELD, 16, 'nlink'),
        mtime: this.num(N_MTIME, N_FIELD, 16, 'mtime'),
        fileBytes: this.num(N_FILESIZE, N_FIELD, 16, 'filesize'),
        devMajor: this.num(N_DEVMAJOR, N_FIELD, 16, 'devmajor'),
        devMinor: this.num(N_DEVMINOR, N_FIELD, 16, 'devminor'),
        rdevMajor: this.num(N_RDEVMAJOR, N_FIELD, 16, 'rdevmajor'),
        rdevMinor: this.num(N_RDEVMINOR, N_FIELD, 16, 'rdevminor'),
        check: this.num(N_CHECK, N_FIELD, 16, 'check'),
      };
      this.nameBytes = this.num(N_NAMESIZE, N_FIELD, 16, 'namesize');
    }
    if (this.nameBytes < 1) this.bad('ERR_CPIO_NAME', 'empty name (namesize 0)');
    if (this.nameBytes > MAX_NAME_BYTES) this.bad('ERR_CPIO_NAME', `name of ${this.nameBytes} bytes is longer than ${MAX_NAME_BYTES}`);
    const hdr = this.need;
    // newc/crc: header + name padded to a multiple of 4.
    this.need = this.fields.format === 'odc' ? hdr + this.nameBytes : pad4(hdr + this.nameBytes);
    this.grow(this.need);
    this.state = 'name';
  }

  private onName(): CpioEvent | undefined {
    const f = this.fields!;
    const hdr = f.format === 'odc' ? ODC_HEADER_BYTES : NEWC_HEADER_BYTES;
    const nameEnd = hdr + this.nameBytes - 1;
    const name = Buffer.from(this.acc.subarray(hdr, nameEnd));
    this.header = { ...f, name };
    if (this.acc[nameEnd] !== 0) this.bad('ERR_CPIO_NAME', 'name is not NUL-terminated');
    if (name.includes(0)) this.bad('ERR_CPIO_NAME', 'NUL byte inside the name');
    if (name.byteLength === TRAILER_NAME.length && name.toString('latin1') === TRAILER_NAME) {
      this.state = 'done';
      this.trailingBytes = 0;
      return { kind: 'trailer' };
    }
    this.entries++;
    this.sum = 0;
    if ((f.mode & S_IFMT) === S_IFLNK) {
      if (f.fileBytes > MAX_SYMLINK_BYTES) this.bad('ERR_CPIO_BAD_HEADER', `symlink target of ${f.fileBytes} bytes`);
      this.state = 'symlink';
      this.accHave = 0;
      this.need = f.fileBytes;
      this.grow(this.need);
      if (this.need === 0) {
        this.state = 'pad';
        this.padLeft = 0;
        this.pendingEnd = true;
        return { kind: 'entry', header: this.header, symlinkTarget: Buffer.alloc(0) };
      }
      return undefined;
    }
    this.state = 'data';
    this.dataLeft = f.fileBytes;
    return { kind: 'entry', header: this.header };
  }

  private dataPad(bytes: number): number {
    return this.header!.format === 'odc' ? 0 : pad4(bytes) - bytes;
  }

  /** Data complete: check the crc, then skip the padding. */
  private endData(): CpioEvent {
    const h = this.header!;
    if (h.format === 'crc' && (h.mode & S_IFMT) === S_IFREG && this.sum !== h.check) {
      this.bad('ERR_CPIO_CHECKSUM', `checksum mismatch (header ${hex8(h.check)}, data ${hex8(this.sum)})`);
    }
    this.state = 'pad';
    this.padLeft = this.dataPad(h.fileBytes);
    return { kind: 'entryEnd', header: h };
  }
}

function pad4(n: number): number {
  return Math.ceil(n / 4) * 4;
}

function hex8(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}
