// Where the image goes: a regular file (written under a temporary name, renamed only
// after verification), a block or character device (written in place), stdout, a cpio
// unpacker (--unpack DIR), any of those behind a --pipe command (udpcast's receiver-side
// pipe, e.g. "gzip -dc"), and a decompressor in front of it all (--decompress, by default
// chosen by the stream's first bytes).
//
//   network ─► driver (sha256 of the bytes as sent) ─► [gunzip | lz4] ─► [--pipe CMD] ─► disk writer | stdout | cpio unpacker
//
// A receiver that joins late (udp-sender --streaming) gets slices J..end first and the
// head 0..J-1 by repair, so it writes at byte offsets and verifies by reading back what
// it wrote (OffsetSink). Only the disk writer on a regular file or block device can; every
// stream stage says, in one line from offsetSink(), why it cannot.
//
// Back-pressure: the driver awaits each write() before it tells the core the slice is
// written, and the core delivers at most maxQueuedSlices unwritten slices. Every stage
// resolves write() only once its input is consumed and what it made of it has been
// written by the next stage (or sits in that stage's fixed buffers), so the whole
// pipeline holds a bounded amount whatever the image size.

import { spawn, type ChildProcess } from 'node:child_process';
import type { Writable } from 'node:stream';
import { IoError, oneLine } from '../common/errors.js';
import { UnpackSink, type UnpackReport } from './cpio/unpack.js';
import { wrapDecompress, type DecompressMode, type DecompressReport } from './decompress.js';
import { DiskSink, type DiskReport } from './disk.js';

/** What the pipeline's stages did, for the CLI's summary and --json. */
export interface SinkReport {
  readonly decompress?: DecompressReport;
  readonly disk?: DiskReport;
  readonly unpack?: UnpackReport;
}

export interface Sink {
  readonly description: string;
  /** Writes the next bytes of the stream (sequential; one call at a time). Throws IoError. */
  write(buf: Uint8Array): Promise<void>;
  /** Everything is written: flush to stable storage, wait for a pipe command to succeed. Throws IoError. */
  finish(): Promise<void>;
  /** Verified: make the result visible under its name. Throws IoError. */
  commit(): Promise<void>;
  /** Failed: remove what could look like a complete image. Never throws. */
  discard(): Promise<void>;
  report(): SinkReport;
  /** This sink for writing at offsets, or, when it takes bytes only in order, one line saying why (for the user). Call before any write. */
  offsetSink(): OffsetSink | string;
}

/** A sink that takes the image at byte offsets, in any order (a receiver that joined late). */
export interface OffsetSink extends Sink {
  /** Writes `buf` at byte `offset` of the image. Each byte range is written at most once; ranges come in any order. Throws IoError. */
  writeAt(offset: number, buf: Uint8Array): Promise<void>;
  /** After finish(): the SHA-256 of the first `bytes` bytes as written, read back from the file or device. Throws IoError (e.g. shorter than `bytes`). */
  digestWritten(bytes: number): Promise<Uint8Array>;
}

/** Writes to a stream (stdout, a pipe command's stdin), honouring its back-pressure. */
async function writeStream(w: Writable, buf: Uint8Array, description: string): Promise<void> {
  if (w.destroyed || w.writableEnded) throw new IoError(`write ${description}: stream closed`);
  await new Promise<void>((resolve, reject) => {
    const onError = (e: Error) => reject(new IoError(`write ${description}: ${oneLine(e)}`));
    w.once('error', onError);
    const more = w.write(buf, (e) => {
      if (e) onError(e);
    });
    const done = () => {
      w.off('error', onError);
      resolve();
    };
    if (more) done();
    else w.once('drain', done);
  });
}

class StdoutSink implements Sink {
  readonly description = 'stdout';
  async write(buf: Uint8Array): Promise<void> {
    await writeStream(process.stdout, buf, 'stdout');
  }
  async finish(): Promise<void> {
    // Wait until everything queued on stdout has been handed to the OS.
    await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
  }
  async commit(): Promise<void> {}
  async discard(): Promise<void> {}
  report(): SinkReport {
    return {};
  }
  offsetSink(): string {
    return 'stdout takes the image only in order';
  }
}

/** The stream goes through `sh -c CMD`; the command's output goes to the inner sink. */
class PipeSink implements Sink {
  private readonly exit: Promise<void>;
  private readonly copied: Promise<void>;
  /** The pending write's reject, for a command that exits while it waits. */
  private onExit: ((e: unknown) => void) | undefined;
  private exited = false;
  readonly description: string;

  constructor(
    private readonly child: ChildProcess,
    private readonly inner: Sink,
    cmd: string,
  ) {
    this.description = `--pipe "${cmd}"`;
    this.exit = new Promise((resolve, reject) => {
      child.on('error', (e) => reject(new IoError(`${this.description}: ${oneLine(e)}`)));
      child.on('close', (code, signal) => {
        if (code === 0) resolve();
        else reject(new IoError(`${this.description} failed (${signal ?? `exit ${code}`})`));
      });
    });
    // One handler for the whole run, not a reaction per write (those would pile up).
    this.exit.then(
      () => {
        this.exited = true;
        this.onExit?.(new IoError(`${this.description} exited before the end of the image`));
      },
      (e: unknown) => {
        this.exited = true;
        this.onExit?.(e);
      },
    );
    child.stdin!.on('error', () => undefined); // a command that exits early: its exit code tells
    // Copy the command's output to the inner sink, one chunk at a time.
    this.copied = (async () => {
      for await (const chunk of child.stdout!) await inner.write(chunk as Buffer);
    })();
    this.copied.catch((e: unknown) => {
      this.copyError = e;
      child.kill('SIGTERM');
    });
  }

  /** The inner sink's failure says more than the command's death it caused. */
  private copyError: unknown;

  async write(buf: Uint8Array): Promise<void> {
    try {
      await new Promise<void>((resolve, reject) => {
        if (this.exited) {
          reject(new IoError(`${this.description} exited before the end of the image`));
          return;
        }
        this.onExit = reject;
        writeStream(this.child.stdin!, buf, this.description).then(resolve, reject);
      });
    } catch (e) {
      // If the command died, its exit status says more than a closed pipe does.
      if (this.child.exitCode !== null || this.child.signalCode !== null) await this.exit.catch((x: unknown) => (e = x));
      throw this.copyError ?? e;
    } finally {
      this.onExit = undefined;
    }
  }

  async finish(): Promise<void> {
    this.child.stdin!.end();
    const [exit, copied] = await Promise.allSettled([this.exit, this.copied]);
    if (copied.status === 'rejected') throw copied.reason;
    if (exit.status === 'rejected') throw exit.reason;
    await this.inner.finish();
  }

  async commit(): Promise<void> {
    await this.inner.commit();
  }

  async discard(): Promise<void> {
    if (this.child.exitCode === null) this.child.kill('SIGTERM');
    await this.copied.catch(() => undefined);
    await this.inner.discard();
  }

  report(): SinkReport {
    return this.inner.report();
  }

  offsetSink(): string {
    return `${this.description} takes the image only in order`;
  }
}

export interface SinkOptions {
  /** A file or device; undefined: stdout (unless unpack). */
  readonly file: string | undefined;
  readonly pipe: string | undefined;
  /** Extract a cpio archive into this directory. */
  readonly unpack?: string;
  readonly decompress?: DecompressMode;
  /** Holes for all-zero blocks on a device / in unpacked files (a new regular --file always gets them). */
  readonly sparse?: boolean;
  /** Write a block device even when it is mounted or in use. */
  readonly force?: boolean;
  /** Unpack: set owners and make device nodes (default: running as root). */
  readonly asRoot?: boolean;
  readonly warn?: (message: string) => void;
}

/**
 * `auto` decompresses by magic bytes, except where the user asked for the bytes as sent:
 * behind --pipe (the command decides) or into a --file named *.gz, *.tgz, *.lz4 or *.zst.
 */
export function effectiveDecompress(opts: Pick<SinkOptions, 'file' | 'pipe' | 'unpack' | 'decompress'>): DecompressMode {
  const mode = opts.decompress ?? 'auto';
  if (mode !== 'auto') return mode;
  if (opts.pipe !== undefined) return 'none';
  if (opts.unpack === undefined && opts.file !== undefined && /\.(gz|tgz|lz4|zst)$/i.test(opts.file)) return 'none';
  return 'auto';
}

export async function openSink(opts: SinkOptions): Promise<Sink> {
  const asRoot = opts.asRoot ?? process.geteuid?.() === 0;
  let target: Sink;
  if (opts.unpack !== undefined) {
    target = await UnpackSink.open({ dir: opts.unpack, sparse: opts.sparse === true, asRoot, warn: opts.warn });
  } else if (opts.file !== undefined) {
    target = await DiskSink.open({ path: opts.file, sparse: opts.sparse === true, force: opts.force === true });
  } else {
    target = new StdoutSink();
  }
  if (opts.pipe !== undefined) {
    const child = spawn('/bin/sh', ['-c', opts.pipe], { stdio: ['pipe', 'pipe', 'inherit'] });
    target = new PipeSink(child, target, opts.pipe);
  }
  return wrapDecompress(target, effectiveDecompress(opts));
}
