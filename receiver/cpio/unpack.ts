// Why over 500 lines (~530): one Sink whose steps (target, clear, file, link, stat, the
// final defers) share the open file, the link groups and the deferred directories; the
// path helpers (split, joinParts, isDotDot) are the part that could move out next.
//
// udp-receiver --unpack DIR: a Sink that extracts a cpio archive (newc, crc, odc) into
// DIR as it streams in, like `cpio -idm` (plus -u: existing files are replaced), with
// GNU cpio's semantics (`copyin.c`):
// - hard links: in newc/crc the data comes with the last link of an inode, the others
//   have size 0 and are created (linked) once it has arrived; links whose data never
//   came are created as empty files at the end (GNU's create_final_defers). In odc every
//   link carries the data; later links are linked to the first.
// - directories are created 0700 and get their mode, owner and mtime at the end (so a
//   read-only directory can still be filled), deepest last-created first; DIR's own
//   entry "." after the marker is removed.
// - owners only as root; device nodes only as root (otherwise skipped and counted);
//   fifos always; sockets are skipped. mtimes (and atimes) are set to the archive's.
// Safety: names that are absolute or contain "..", and anything that would be written
// through a symlink (made by the archive or already there), are refused with an error.
// Files are opened O_CREAT|O_EXCL|O_NOFOLLOW after removing what was there.
// The marker DIR/.rackcast-incomplete is written before anything else and removed only
// on commit(), i.e. after the trailer, the crc checks and the transfer's digest matched.
//
// Memory: the reader's header (<= 64 KiB) and one write at a time, plus one small record
// per directory (their modes are applied at the end) and per multiply-linked inode.

import { execFile } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  fchmodSync,
  fchownSync,
  constants as fsc,
  promises as fsp,
  write as fsWrite,
  ftruncateSync,
  futimesSync,
  lchownSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  openSync,
  renameSync,
  symlinkSync,
  unlinkSync,
  utimesSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { IoError, oneLine } from '../../common/errors.js';
import { syncFileSystem } from '../../common/syncfs.js';
import type { Sink, SinkReport } from '../sink-types.js';
import { dataRuns } from '../zero-runs.js';
import {
  CpioError,
  type CpioEvent,
  type CpioHeader,
  CpioReader,
  printableName,
  S_IFBLK,
  S_IFCHR,
  S_IFDIR,
  S_IFIFO,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
  S_IFSOCK,
} from './reader.js';

export const INCOMPLETE_MARKER = '.rackcast-incomplete';
const MARKER_BYTES = Buffer.from(INCOMPLETE_MARKER);
const SLASH = 0x2f;
const DOT = 0x2e;
/** Data writes up to this size are made synchronously (a page-cache copy); larger ones on the threadpool. */
const SYNC_WRITE_MAX_BYTES = 64 << 10;
const HOLE_BLOCK_BYTES = 4096;
const PERM_BITS = 0o7777;
const execFileP = promisify(execFile);
const fsWriteP = promisify(fsWrite);

export interface UnpackOptions {
  readonly dir: string;
  /** Leave all-zero 4 KiB blocks of files as holes (like cpio --sparse). */
  readonly sparse: boolean;
  /** Set owners and create device nodes (only root can). */
  readonly asRoot: boolean;
  /** Called for each entry skipped or adjusted (the CLI logs them and prints a count). */
  readonly warn?: (message: string) => void;
}

interface Target {
  /** Path components (no "", ".", ".."). */
  readonly parts: readonly Buffer[];
  readonly rel: Buffer;
  readonly abs: Buffer;
  readonly display: string;
}

interface OpenFile {
  readonly fd: number;
  readonly target: Target;
  readonly header: CpioHeader;
  pos: number;
  holes: boolean;
  /** A multiply-linked inode: once written, its deferred links are made to it. */
  readonly linkKey: string | undefined;
}

interface LinkGroup {
  /** Where the inode was created, once it was. */
  path: Buffer | undefined;
  /** newc/crc links seen before the one with the data. */
  deferred: { target: Target; header: CpioHeader }[]; // bounded by the inode's nlink
}

function isDotDot(p: Buffer): boolean {
  return p.length === 2 && p[0] === DOT && p[1] === DOT;
}

function split(name: Buffer): Buffer[] {
  const parts: Buffer[] = [];
  let start = 0;
  for (let i = 0; i <= name.length; i++) {
    if (i === name.length || name[i] === SLASH) {
      const p = name.subarray(start, i);
      if (p.length > 0 && !(p.length === 1 && p[0] === DOT)) parts.push(p);
      start = i + 1;
    }
  }
  return parts;
}

function joinParts(parts: readonly Buffer[]): Buffer {
  const out: Buffer[] = [];
  parts.forEach((p, i) => {
    if (i > 0) out.push(Buffer.from([SLASH]));
    out.push(p);
  });
  return Buffer.concat(out);
}

export class UnpackSink implements Sink {
  private readonly reader = new CpioReader();
  private readonly root: Buffer;
  private readonly marker: string;
  private file: OpenFile | undefined;
  private current = '';
  /** Directories known to be real directories inside DIR (made or checked by us). */
  private readonly knownDirs = new Set<string>(); // UNBOUNDED: one per directory of the archive (GNU cpio keeps as much)
  /** Directory entries whose mode, owner and mtime are applied at the end. */
  private readonly dirs = new Map<string, { abs: Buffer; header: CpioHeader }>(); // UNBOUNDED: one per directory entry
  private readonly links = new Map<string, LinkGroup>(); // UNBOUNDED: one per multiply-linked inode
  private rootHeader: CpioHeader | undefined;
  private mknodSeq = 0;
  private startedAtMs: number | undefined;
  private seconds = 0;
  private busyMs = 0;
  private readonly counts = {
    files: 0,
    directories: 0,
    symlinks: 0,
    hardLinks: 0,
    devices: 0,
    fifos: 0,
    skipped: 0,
    dataBytes: 0,
    holeBytes: 0,
    warnings: 0,
  };

  private constructor(
    private readonly rootPath: string,
    private readonly opts: UnpackOptions,
  ) {
    this.root = Buffer.from(rootPath);
    this.marker = join(rootPath, INCOMPLETE_MARKER);
  }

  /** Creates DIR if needed and writes the incomplete marker into it. */
  static async open(opts: UnpackOptions): Promise<UnpackSink> {
    try {
      await fsp.mkdir(opts.dir, { recursive: true });
      const root = await fsp.realpath(opts.dir);
      if (!(await fsp.stat(root)).isDirectory()) throw new Error('not a directory');
      const sink = new UnpackSink(root, opts);
      await fsp.writeFile(
        sink.marker,
        `rackcast: unpacking into this directory started ${new Date().toISOString()} (pid ${process.pid}); ` +
          'the tree is incomplete or unverified while this file exists\n',
      );
      return sink;
    } catch (e) {
      throw new IoError('open', `cannot unpack into ${opts.dir}: ${oneLine(e)}`, { cause: e });
    }
  }

  get description(): string {
    return `--unpack ${this.rootPath}`;
  }

  private warn(message: string): void {
    this.counts.warnings++;
    this.opts.warn?.(message);
  }

  private wrap(e: unknown): Error {
    if (e instanceof IoError) return e;
    if (e instanceof CpioError) return new IoError('format', e.message, { cause: e });
    return new IoError('write', `cpio: entry ${this.current}: ${oneLine(e)}`, { cause: e });
  }

  private refuse(t: { display: string }, why: string): never {
    throw new IoError('format', `cpio: entry ${t.display}: ${why}`);
  }

  async write(buf: Uint8Array): Promise<void> {
    const t0 = performance.now();
    this.startedAtMs ??= t0;
    try {
      this.reader.feed(buf);
      for (let ev = this.reader.poll(); ev !== undefined; ev = this.reader.poll()) await this.onEvent(ev);
    } catch (e) {
      throw this.wrap(e);
    } finally {
      // One write() at a time (the Sink contract): the sum is the stage's busy time.
      this.busyMs += performance.now() - t0;
    }
  }

  private async onEvent(ev: CpioEvent): Promise<void> {
    switch (ev.kind) {
      case 'entry':
        this.current = printableName(ev.header.name);
        await this.onEntry(ev.header, ev.symlinkTarget);
        break;
      case 'data':
        if (this.file !== undefined) await this.writeData(this.file, ev.bytes);
        break;
      case 'entryEnd':
        if (this.file !== undefined) this.closeFile(this.file);
        break;
      case 'trailer':
        break;
    }
  }

  /** The entry's place under DIR, or undefined for DIR itself ("."). Refuses escapes. */
  private target(h: CpioHeader): Target | undefined {
    const display = printableName(h.name);
    if (h.name[0] === SLASH) this.refuse({ display }, 'absolute path refused (it would be written outside the directory)');
    const parts = split(h.name);
    if (parts.some(isDotDot)) this.refuse({ display }, '".." in the path refused (it could be written outside the directory)');
    if (parts.length === 0) return undefined;
    if (parts.length === 1 && parts[0]!.equals(MARKER_BYTES)) this.refuse({ display }, `${INCOMPLETE_MARKER} is rackcast's own marker name`);
    const rel = joinParts(parts);
    return { parts, rel, abs: Buffer.concat([this.root, Buffer.from([SLASH]), rel]), display };
  }

  /** Every parent of `t` is a real directory inside DIR: made here if missing, never a symlink. */
  private ensureParents(t: Target): void {
    let rel: Buffer | undefined;
    for (let i = 0; i < t.parts.length - 1; i++) {
      rel = rel === undefined ? t.parts[0] : Buffer.concat([rel, Buffer.from([SLASH]), t.parts[i]!]);
      const key = rel!.toString('latin1');
      if (this.knownDirs.has(key)) continue;
      const abs = Buffer.concat([this.root, Buffer.from([SLASH]), rel!]);
      const st = lstatSync(abs, { throwIfNoEntry: false });
      if (st === undefined) {
        mkdirSync(abs, 0o755);
      } else if (st.isSymbolicLink()) {
        this.refuse(t, `refusing to write through the symlink ${printableName(rel!)} (it could lead outside the directory)`);
      } else if (!st.isDirectory()) {
        this.refuse(t, `${printableName(rel!)} is not a directory`);
      }
      this.knownDirs.add(key);
    }
  }

  /** Removes what is at `t` (not a directory). Returns true if a directory is there and may stay. */
  private clear(t: Target, keepDirectory: boolean): boolean {
    const st = lstatSync(t.abs, { throwIfNoEntry: false });
    if (st === undefined) return false;
    if (st.isDirectory()) {
      if (keepDirectory) return true;
      this.refuse(t, 'a directory of that name exists');
    }
    unlinkSync(t.abs);
    return false;
  }

  private async onEntry(h: CpioHeader, symlinkTarget: Buffer | undefined): Promise<void> {
    const t = this.target(h);
    const type = h.mode & S_IFMT;
    if (t === undefined) {
      if (type !== S_IFDIR) this.refuse({ display: printableName(h.name) }, 'the archive root "." is not a directory');
      this.rootHeader = h;
      this.counts.directories++;
      return;
    }
    this.ensureParents(t);
    switch (type) {
      case S_IFDIR: {
        if (!this.clear(t, true)) mkdirSync(t.abs, 0o700);
        const key = t.rel.toString('latin1');
        this.knownDirs.add(key);
        this.dirs.delete(key); // a repeated entry: its last header wins, applied in its new place
        this.dirs.set(key, { abs: t.abs, header: h });
        this.counts.directories++;
        return;
      }
      case S_IFREG:
        this.onFile(t, h);
        return;
      case S_IFLNK:
        this.clear(t, false);
        symlinkSync(symlinkTarget ?? Buffer.alloc(0), t.abs);
        if (this.opts.asRoot) lchownSync(t.abs, h.uid, h.gid);
        lutimesSync(t.abs, h.mtime, h.mtime);
        this.counts.symlinks++;
        return;
      case S_IFCHR:
      case S_IFBLK:
        if (!this.opts.asRoot) {
          this.counts.skipped++;
          this.warn(`${t.display}: ${type === S_IFCHR ? 'character' : 'block'} device not created (needs root)`);
          return;
        }
        await this.mknod(t, h, type === S_IFCHR ? 'c' : 'b');
        this.counts.devices++;
        return;
      case S_IFIFO:
        await this.mknod(t, h, 'p');
        this.counts.fifos++;
        return;
      case S_IFSOCK:
        this.counts.skipped++;
        this.warn(`${t.display}: socket not created`);
        return;
      default:
        this.refuse(t, `unknown file type (mode 0${h.mode.toString(8)})`);
    }
  }

  private onFile(t: Target, h: CpioHeader): void {
    let linkKey: string | undefined;
    if (h.nlink > 1) {
      linkKey = `${h.devMajor}:${h.devMinor}:${h.ino}`;
      let g = this.links.get(linkKey);
      if (g === undefined) {
        g = { path: undefined, deferred: [] };
        this.links.set(linkKey, g);
      }
      if (g.path !== undefined) {
        // The inode exists already: link to it; this entry's data (if any) is dropped, as GNU cpio does.
        this.makeLink(g.path, t);
        return;
      }
      if (h.format !== 'odc' && h.fileBytes === 0) {
        g.deferred.push({ target: t, header: h });
        return;
      }
    }
    this.clear(t, false);
    const fd = openSync(t.abs, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o600);
    this.file = { fd, target: t, header: h, pos: 0, holes: false, linkKey };
    this.counts.files++;
  }

  private makeLink(existing: Buffer, t: Target): void {
    this.ensureParents(t);
    this.clear(t, false);
    linkSync(existing, t.abs);
    this.counts.hardLinks++;
  }

  private async writeData(f: OpenFile, bytes: Uint8Array): Promise<void> {
    if (this.opts.sparse) {
      let written = 0;
      for (const [s, e] of dataRuns(bytes, f.pos, HOLE_BLOCK_BYTES)) {
        await this.writeAt(f.fd, bytes.subarray(s, e), f.pos + s);
        written += e - s;
      }
      if (written < bytes.byteLength) f.holes = true;
      this.counts.holeBytes += bytes.byteLength - written;
    } else {
      await this.writeAt(f.fd, bytes, f.pos);
    }
    f.pos += bytes.byteLength;
    this.counts.dataBytes += bytes.byteLength;
  }

  private async writeAt(fd: number, b: Uint8Array, at: number): Promise<void> {
    let off = 0;
    while (off < b.byteLength) {
      const n =
        b.byteLength <= SYNC_WRITE_MAX_BYTES
          ? writeSync(fd, b, off, b.byteLength - off, at + off)
          : (await fsWriteP(fd, b, off, b.byteLength - off, at + off)).bytesWritten;
      off += n;
    }
  }

  /** Data complete: size, owner, mode (after chown, which clears set-id bits), times. */
  private closeFile(f: OpenFile): void {
    this.file = undefined;
    try {
      if (f.holes) ftruncateSync(f.fd, f.header.fileBytes);
      this.applyStat(f.fd, f.header);
    } finally {
      closeSync(f.fd);
    }
    if (f.linkKey !== undefined) {
      const g = this.links.get(f.linkKey)!;
      g.path = f.target.abs;
      for (const d of g.deferred) this.makeLink(g.path, d.target);
      g.deferred = [];
    }
  }

  private applyStat(fd: number, h: CpioHeader): void {
    if (this.opts.asRoot) fchownSync(fd, h.uid, h.gid);
    fchmodSync(fd, h.mode & PERM_BITS);
    futimesSync(fd, h.mtime, h.mtime);
  }

  /** Node has no mknod(2): the mknod command makes the node under a plain name, then it is renamed into place. */
  private async mknod(t: Target, h: CpioHeader, kind: 'c' | 'b' | 'p'): Promise<void> {
    this.clear(t, false);
    const tmp = join(this.rootPath, `.rackcast-mknod-${process.pid}-${++this.mknodSeq}`);
    const args = kind === 'p' ? [tmp, 'p'] : [tmp, kind, String(h.rdevMajor), String(h.rdevMinor)];
    try {
      await execFileP('mknod', ['-m', '600', ...args]);
    } catch (e) {
      throw new IoError('write', `cpio: entry ${t.display}: mknod failed: ${oneLine((e as { stderr?: string }).stderr || e)}`, { cause: e });
    }
    renameSync(tmp, t.abs);
    if (this.opts.asRoot) lchownSync(t.abs, h.uid, h.gid);
    chmodSync(t.abs, h.mode & PERM_BITS);
    utimesSync(t.abs, h.mtime, h.mtime);
  }

  /** Links whose inode's data never came (empty files with several names): create the first, link the rest. */
  private finalDefers(): void {
    for (const g of this.links.values()) {
      if (g.path !== undefined || g.deferred.length === 0) continue;
      const [first, ...rest] = g.deferred;
      this.current = first!.target.display;
      this.ensureParents(first!.target);
      this.clear(first!.target, false);
      const fd = openSync(first!.target.abs, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o600);
      try {
        this.applyStat(fd, first!.header);
      } finally {
        closeSync(fd);
      }
      this.counts.files++;
      g.path = first!.target.abs;
      for (const d of rest) this.makeLink(g.path, d.target);
      g.deferred = [];
    }
  }

  private applyDirStat(abs: Buffer, h: CpioHeader): void {
    if (this.opts.asRoot) lchownSync(abs, h.uid, h.gid);
    chmodSync(abs, h.mode & PERM_BITS);
    utimesSync(abs, h.mtime, h.mtime);
  }

  async finish(): Promise<void> {
    this.startedAtMs ??= performance.now();
    try {
      this.reader.end();
      this.finalDefers();
      // Last made first: children before their parents.
      for (const { abs, header } of [...this.dirs.values()].reverse()) {
        this.current = printableName(header.name);
        this.applyDirStat(abs, header);
      }
    } catch (e) {
      throw this.wrap(e);
    }
    // Everything on stable storage before the tree is declared complete (syncfs(2); a
    // busybox initramfs has no GNU `sync --file-system`).
    await syncFileSystem(this.rootPath);
    this.seconds = (performance.now() - this.startedAtMs) / 1000;
  }

  async commit(): Promise<void> {
    try {
      await fsp.unlink(this.marker);
      if (this.rootHeader !== undefined) this.applyDirStat(this.root, this.rootHeader);
      const dir = await fsp.open(this.rootPath, fsc.O_RDONLY);
      await dir.sync().finally(() => dir.close());
    } catch (e) {
      throw new IoError('write', `cannot complete ${this.rootPath}: ${oneLine(e)}`, { cause: e });
    }
  }

  async discard(): Promise<void> {
    // The tree stays, marked incomplete by the marker file.
    if (this.file !== undefined) {
      try {
        closeSync(this.file.fd);
      } catch {
        // Already closed.
      }
      this.file = undefined;
    }
  }

  offsetSink(): string {
    return '--unpack takes the archive only in order';
  }

  report(): SinkReport {
    return {
      unpack: {
        dir: this.rootPath,
        format: this.reader.archiveFormat,
        entries: this.reader.entryCount,
        ...this.counts,
        seconds: this.seconds,
        busySeconds: this.busyMs / 1000,
      },
    };
  }
}
