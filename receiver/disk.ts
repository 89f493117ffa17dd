// The disk writer behind --file: coalesces the stream into large aligned writes (two
// 4 MiB buffers: one filling while the other is written), leaves all-zero 4 KiB blocks
// as holes where that is safe (a new regular file, or a device with --sparse), fsyncs at
// the end and reports the rate. A regular file is written as `.NAME.rackcast-PID.part`
// beside NAME and renamed after verification; a block device is written in place, and
// refused while it (or a partition of it) is mounted, used as swap or held by another
// device (device-mapper, md), unless --force.
//
// A receiver that joins late writes at offsets (writeAt): contiguous writes coalesce as
// above, a jump writes out what is buffered and continues at the new offset. It verifies
// by reading back what it wrote (digestWritten), before the rename.
//
// A regular file or block device is also opened with O_DIRECT, and every write whose offset,
// length and buffer are 4 KiB aligned (all but the image's tail, in order) goes through it:
// the bytes go from the coalescing buffer to the device, with no copy into the page cache and
// no write-back at fsync. On the dev VM that copy into fresh page-cache pages was the
// receiver's largest CPU cost writing to disk (about 2.5 s/GB; bench/results/). The rest goes
// through the ordinary descriptor, and fsync covers both. Where O_DIRECT cannot be had (the
// file system refuses it, no native addon for aligned memory, RACKCAST_DIRECT_IO=0) every
// write is buffered, as before. Either way the bytes written are the bytes hashed: the
// buffers hold the delivered slices, whichever descriptor they go through.

import { createHash } from 'node:crypto';
import { constants as fsc, promises as fsp, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { alignedBuffer, DIRECT_IO_ALIGN, isAligned } from '../common/aligned.js';
import { IoError, oneLine } from '../common/errors.js';
import type { DiskKind, OffsetSink, SinkReport } from './sink-types.js';
import { dataRuns } from './zero-runs.js';

/** Bytes per write (and per coalescing buffer). */
export const COALESCE_BYTES = 4 << 20;
/** Granularity of holes: the page and usual file-system block size. */
export const HOLE_BLOCK_BYTES = 4096;

/** Environment variable: `0` keeps every write buffered (no O_DIRECT). */
export const DIRECT_IO_ENV = 'RACKCAST_DIRECT_IO';

/** A second descriptor of `path` with O_DIRECT, or undefined where the kernel or file system refuses it. */
async function openDirect(path: string): Promise<fsp.FileHandle | undefined> {
  if (process.env[DIRECT_IO_ENV] === '0' || alignedBuffer(DIRECT_IO_ALIGN) === undefined) return undefined;
  try {
    return await fsp.open(path, fsc.O_WRONLY | fsc.O_DIRECT);
  } catch {
    return undefined;
  }
}

export interface DiskOptions {
  readonly path: string;
  /** Leave all-zero blocks unwritten on a device too (it must already read as zeros). */
  readonly sparse: boolean;
  /** Write a block device even if it is in use. */
  readonly force: boolean;
}

// Linux dev_t → major/minor (glibc's gnu_dev_major/minor).
function major(dev: number): number {
  return Number((BigInt(dev) >> 8n) & 0xfffn) | Number((BigInt(dev) >> 32n) & ~0xfffn);
}
function minor(dev: number): number {
  return Number(BigInt(dev) & 0xffn) | Number((BigInt(dev) >> 12n) & ~0xffn);
}

/** /proc/self/mountinfo escapes blanks and backslashes as \ooo. */
function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

function readOr(path: string, fallback: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return fallback;
  }
}

/**
 * Why the block device at `path` must not be written: mounted (itself or a partition),
 * active swap, or held by another block device. Empty when it is free.
 */
export function blockDeviceUsers(path: string): string[] {
  const rdev = statSync(path).rdev;
  const self = `${major(rdev)}:${minor(rdev)}`;
  const devs = new Map<string, string>([[self, path]]); // maj:min → name for messages; bounded by its partitions
  try {
    const sys = realpathSync(`/sys/dev/block/${self}`);
    for (const d of readdirSync(sys)) {
      const dev = readOr(join(sys, d, 'dev'), '').trim();
      if (dev !== '' && readOr(join(sys, d, 'partition'), '') !== '') devs.set(dev, `/dev/${d}`);
    }
  } catch {
    // No sysfs entry (a container without /sys): the mount table checks still run.
  }
  const why: string[] = [];
  for (const line of readOr('/proc/self/mountinfo', '').split('\n')) {
    const f = line.split(' ');
    if (f.length > 4 && devs.has(f[2]!)) why.push(`${devs.get(f[2]!)} is mounted at ${unescapeMount(f[4]!)}`);
  }
  for (const line of readOr('/proc/self/mounts', '').split('\n')) {
    const [source, mountPoint] = line.split(' ');
    if (source === undefined || !source.startsWith('/') || mountPoint === undefined) continue;
    try {
      const st = statSync(unescapeMount(source));
      const d = `${major(st.rdev)}:${minor(st.rdev)}`;
      const msg = `${devs.get(d)} is mounted at ${unescapeMount(mountPoint)}`;
      if (st.isBlockDevice() && devs.has(d) && !why.includes(msg)) why.push(msg);
    } catch {
      // A source that is not a path we can stat (e.g. "none").
    }
  }
  for (const line of readOr('/proc/swaps', '').split('\n').slice(1)) {
    const file = line.split(/\s+/)[0];
    if (file === undefined || file === '') continue;
    try {
      const st = statSync(unescapeMount(file));
      const d = `${major(st.rdev)}:${minor(st.rdev)}`;
      if (st.isBlockDevice() && devs.has(d)) why.push(`${devs.get(d)} is in use as swap`);
    } catch {
      // A swap file that went away.
    }
  }
  for (const [d, name] of devs) {
    let holders: string[] = [];
    try {
      holders = readdirSync(`/sys/dev/block/${d}/holders`);
    } catch {
      // No sysfs: nothing known.
    }
    if (holders.length > 0) why.push(`${name} is held by ${holders.join(', ')}`);
  }
  return why;
}

/** Whether a process with this PID exists (EPERM: it does, under another user). */
function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes the temporary files of earlier receivers of `path` whose process is gone (a node
 * killed or rebooted mid-transfer and started again): they are partial images under a name
 * no one will rename. One whose PID is alive (or taken by another process) is left alone.
 */
async function removeStaleParts(path: string): Promise<void> {
  const prefix = `.${basename(path)}.rackcast-`;
  let names: string[];
  try {
    names = await fsp.readdir(dirname(path));
  } catch {
    return; // the open below says what is wrong with the directory
  }
  for (const name of names) {
    if (!name.startsWith(prefix) || !name.endsWith('.part')) continue;
    const pid = Number(name.slice(prefix.length, -'.part'.length));
    if (!Number.isSafeInteger(pid) || pid <= 0 || pid === process.pid || pidAlive(pid)) continue;
    await fsp.unlink(join(dirname(path), name)).catch(() => undefined);
  }
}

export class DiskSink implements OffsetSink {
  private readonly bufs: Uint8Array[] = []; // at most 2
  /** Bytes written through the O_DIRECT descriptor (the rest went through the page cache). */
  private directBytes = 0;
  private cur = 0;
  private fill = 0;
  /** Image offset of the current buffer's first byte. */
  private pos = 0;
  /** Sum of the lengths written, for report(). */
  private writtenBytes = 0;
  /** Highest end offset written: a regular file's final size. */
  private endBytes = 0;
  private finished = false;
  private committed = false;
  private inflight: Promise<void> = Promise.resolve();
  private failure: Error | undefined;
  private holeBytes = 0;
  private startedAtMs: number | undefined;
  private seconds = 0;
  private busyMs = 0;
  private fsyncSeconds = 0;
  private closed = false;

  private constructor(
    private readonly fh: fsp.FileHandle,
    private readonly kind: DiskKind,
    private readonly path: string,
    /** Regular file: the temporary name renamed to `path` on commit. */
    private readonly tempPath: string | undefined,
    private readonly sparse: boolean,
    /** The same file with O_DIRECT, for aligned writes; undefined: every write is buffered. */
    private readonly direct: fsp.FileHandle | undefined = undefined,
  ) {}

  static async open(opts: DiskOptions): Promise<DiskSink> {
    const { path } = opts;
    let st;
    try {
      st = await fsp.stat(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new IoError('open', `cannot write ${path}: ${oneLine(e)}`, { cause: e });
    }
    if (st?.isDirectory()) throw new IoError('open', `cannot write ${path}: is a directory (to unpack an archive into it, give --unpack)`);
    if (st?.isBlockDevice()) {
      if (!opts.force) {
        const why = blockDeviceUsers(path);
        if (why.length > 0) throw new IoError('open', `refusing to write ${path}: ${why.join('; ')} (give --force to write it anyway)`);
      }
      let fh;
      try {
        // O_EXCL on a block device: the kernel refuses it while mounted or claimed.
        fh = await fsp.open(path, fsc.O_WRONLY | (opts.force ? 0 : fsc.O_EXCL));
      } catch (e) {
        throw new IoError(
          'open',
          `cannot write ${path}: ${oneLine(e)}${(e as NodeJS.ErrnoException).code === 'EBUSY' ? ' (in use; --force to write anyway)' : ''}`,
          { cause: e },
        );
      }
      return new DiskSink(fh, 'block', path, undefined, opts.sparse, await openDirect(path));
    }
    if (st !== undefined && !st.isFile()) {
      try {
        return new DiskSink(await fsp.open(path, 'w'), 'other', path, undefined, false);
      } catch (e) {
        throw new IoError('open', `cannot write ${path}: ${oneLine(e)}`, { cause: e });
      }
    }
    const temp = join(dirname(path), `.${basename(path)}.rackcast-${process.pid}.part`);
    await removeStaleParts(path);
    try {
      // A new file: holes are safe, the final size is set with ftruncate.
      const fh = await fsp.open(temp, 'w', 0o644);
      return new DiskSink(fh, 'file', path, temp, true, await openDirect(temp));
    } catch (e) {
      throw new IoError('open', `cannot write ${path}: ${oneLine(e)}`, { cause: e });
    }
  }

  get description(): string {
    return this.path;
  }

  private buffer(i: number): Uint8Array {
    this.bufs[i] ??= (this.direct !== undefined ? alignedBuffer(COALESCE_BYTES) : undefined) ?? Buffer.allocUnsafe(COALESCE_BYTES);
    return this.bufs[i];
  }

  offsetSink(): OffsetSink | string {
    if (this.kind === 'other') return `${this.path} is not a regular file or block device, so it cannot be written out of order`;
    return this;
  }

  async write(data: Uint8Array): Promise<void> {
    await this.append(data);
  }

  async writeAt(offset: number, data: Uint8Array): Promise<void> {
    if (this.kind === 'other') throw new TypeError(`writeAt on ${this.path}: not a regular file or block device`);
    if (!Number.isSafeInteger(offset) || offset < 0) throw new RangeError(`writeAt: bad offset ${offset}`);
    if (this.failure !== undefined) throw this.failure;
    if (offset !== this.pos + this.fill) {
      // A jump: what is buffered goes out at its own position.
      if (this.fill > 0) await this.rotate();
      this.pos = offset;
    }
    await this.append(data);
  }

  /** Appends at pos + fill, writing each buffer out when it is full. */
  private async append(data: Uint8Array): Promise<void> {
    if (this.failure !== undefined) throw this.failure;
    this.startedAtMs ??= performance.now();
    let off = 0;
    while (off < data.byteLength) {
      const b = this.buffer(this.cur);
      // After a jump to an unaligned offset, the buffer ends at the next COALESCE_BYTES
      // boundary, so the writes after it are aligned again. In order, pos is always a
      // multiple of COALESCE_BYTES and this is the whole buffer.
      const cap = COALESCE_BYTES - (this.pos % COALESCE_BYTES);
      const take = Math.min(cap - this.fill, data.byteLength - off);
      b.set(data.subarray(off, off + take), this.fill);
      this.fill += take;
      off += take;
      if (this.fill === cap) await this.rotate();
    }
    this.writtenBytes += data.byteLength;
    this.endBytes = Math.max(this.endBytes, this.pos + this.fill);
  }

  /** The current buffer is complete: write it while the other one fills. */
  private async rotate(): Promise<void> {
    await this.inflight;
    if (this.failure !== undefined) throw this.failure;
    const b = this.buffer(this.cur);
    const n = this.fill;
    const at = this.pos;
    this.inflight = this.writeOut(b.subarray(0, n), at).catch((e: unknown) => {
      this.failure = new IoError('write', `write ${this.path}: ${oneLine(e)}`, { cause: e });
    });
    this.pos += n;
    this.fill = 0;
    this.cur ^= 1;
  }

  private async writeOut(b: Uint8Array, at: number): Promise<void> {
    const t0 = performance.now();
    try {
      if (!this.sparse) {
        await this.writeAll(b, at);
        return;
      }
      let written = 0;
      for (const [s, e] of dataRuns(b, at, HOLE_BLOCK_BYTES)) {
        await this.writeAll(b.subarray(s, e), at + s);
        written += e - s;
      }
      this.holeBytes += b.byteLength - written;
    } finally {
      // One writeOut at a time (rotate awaits the previous one): the sum is busy time.
      this.busyMs += performance.now() - t0;
    }
  }

  private async writeAll(b: Uint8Array, at: number): Promise<void> {
    let off = 0;
    // The aligned head through O_DIRECT, the tail (under 4 KiB, or all of an unaligned write) buffered.
    if (this.direct !== undefined && at % DIRECT_IO_ALIGN === 0 && isAligned(b)) {
      const head = b.byteLength - (b.byteLength % DIRECT_IO_ALIGN);
      while (off < head) {
        const r = await this.direct.write(b, off, head - off, at + off);
        off += r.bytesWritten;
      }
      this.directBytes += head;
    }
    while (off < b.byteLength) {
      const r = await this.fh.write(b, off, b.byteLength - off, this.kind === 'other' ? null : at + off);
      off += r.bytesWritten;
    }
  }

  async finish(): Promise<void> {
    this.startedAtMs ??= performance.now();
    if (this.fill > 0) await this.rotate();
    await this.inflight;
    if (this.failure !== undefined) throw this.failure;
    try {
      // Holes at the end are not written: the size comes from ftruncate.
      if (this.kind === 'file') await this.fh.truncate(this.endBytes);
      const t0 = performance.now();
      // One fsync per file covers what went through either descriptor.
      if (this.kind !== 'other') await this.fh.sync();
      this.fsyncSeconds = (performance.now() - t0) / 1000;
      this.closed = true;
      await this.direct?.close();
      await this.fh.close();
    } catch (e) {
      throw new IoError('write', `flush ${this.path}: ${oneLine(e)}`, { cause: e });
    }
    this.seconds = (performance.now() - this.startedAtMs) / 1000;
    this.bufs.length = 0;
    this.finished = true;
  }

  async digestWritten(bytes: number): Promise<Uint8Array> {
    if (this.kind === 'other') throw new TypeError(`digestWritten on ${this.path}: not a regular file or block device`);
    if (!this.finished) throw new TypeError('digestWritten() before finish()');
    if (!Number.isSafeInteger(bytes) || bytes < 0) throw new RangeError(`digestWritten: bad length ${bytes}`);
    // Until commit, a regular file is still under its temporary name.
    const readPath = this.committed || this.tempPath === undefined ? this.path : this.tempPath;
    const fail = (e: unknown) => (e instanceof IoError ? e : new IoError('read', `read back ${this.path}: ${oneLine(e)}`, { cause: e }));
    let fh: fsp.FileHandle;
    try {
      fh = await fsp.open(readPath, fsc.O_RDONLY);
    } catch (e) {
      throw fail(e);
    }
    // Two buffers: the next read runs on the thread pool while this one is hashed.
    const chunk = Math.min(bytes, COALESCE_BYTES);
    const bufs = [Buffer.allocUnsafe(chunk), Buffer.allocUnsafe(chunk)];
    const hash = createHash('sha256');
    let pending: Promise<{ bytesRead: number }> | undefined;
    try {
      let off = 0;
      let i = 0;
      if (bytes > 0) pending = fh.read(bufs[i]!, 0, Math.min(chunk, bytes), 0);
      while (pending !== undefined) {
        const { bytesRead } = await pending;
        pending = undefined;
        if (bytesRead === 0) throw new IoError('read', `read back ${this.path}: it ends after ${off} of the ${bytes} bytes expected`);
        const got = bufs[i]!.subarray(0, bytesRead);
        off += bytesRead;
        i ^= 1;
        if (off < bytes) pending = fh.read(bufs[i]!, 0, Math.min(chunk, bytes - off), off);
        hash.update(got);
      }
      return new Uint8Array(hash.digest());
    } catch (e) {
      throw fail(e);
    } finally {
      await pending?.catch(() => undefined);
      await fh.close().catch(() => undefined);
    }
  }

  async commit(): Promise<void> {
    if (this.tempPath === undefined) return;
    try {
      await fsp.rename(this.tempPath, this.path);
      this.committed = true;
      // The rename itself must survive a crash: sync the directory entry too.
      const dir = await fsp.open(dirname(this.path), fsc.O_RDONLY);
      await dir.sync().finally(() => dir.close());
    } catch (e) {
      throw new IoError('write', `rename to ${this.path}: ${oneLine(e)}`, { cause: e });
    }
  }

  async discard(): Promise<void> {
    // A device cannot be un-written; the exit code and the sender's table say it failed.
    await this.inflight.catch(() => undefined);
    if (!this.closed) {
      await this.direct?.close().catch(() => undefined);
      await this.fh.close().catch(() => undefined);
    }
    this.closed = true;
    this.bufs.length = 0;
    if (this.tempPath !== undefined) await fsp.unlink(this.tempPath).catch(() => undefined);
  }

  report(): SinkReport {
    return {
      disk: {
        path: this.path,
        kind: this.kind,
        bytes: this.writtenBytes,
        holeBytes: this.holeBytes,
        seconds: this.seconds,
        busySeconds: this.busyMs / 1000 + this.fsyncSeconds,
        fsyncSeconds: this.fsyncSeconds,
        directBytes: this.directBytes,
      },
    };
  }
}
