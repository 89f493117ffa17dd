// Where the image goes: a regular file (written under a temporary name, renamed only
// after verification), a block or character device (written in place), stdout, and any
// of those behind a --pipe command (udpcast's receiver-side pipe, e.g. "gzip -dc").

import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fsp, constants as fsc } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Writable } from 'node:stream';
import { IoError, oneLine } from '../common/errors.js';

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
}

/** A regular file: written as `.NAME.rackcast-PID.part` beside it, renamed after verification. */
class TempFileSink implements Sink {
  private pos = 0;
  private closed = false;
  constructor(
    private readonly fh: fsp.FileHandle,
    private readonly tempPath: string,
    private readonly finalPath: string,
  ) {}

  get description(): string {
    return this.finalPath;
  }

  async write(buf: Uint8Array): Promise<void> {
    try {
      let off = 0;
      while (off < buf.byteLength) {
        const r = await this.fh.write(buf, off, buf.byteLength - off, this.pos);
        off += r.bytesWritten;
        this.pos += r.bytesWritten;
      }
    } catch (e) {
      throw new IoError(`write ${this.finalPath}: ${oneLine(e)}`);
    }
  }

  async finish(): Promise<void> {
    try {
      await this.fh.sync();
      this.closed = true;
      await this.fh.close();
    } catch (e) {
      throw new IoError(`flush ${this.finalPath}: ${oneLine(e)}`);
    }
  }

  async commit(): Promise<void> {
    try {
      await fsp.rename(this.tempPath, this.finalPath);
      // The rename itself must survive a crash: sync the directory entry too.
      const dir = await fsp.open(dirname(this.finalPath), fsc.O_RDONLY);
      await dir.sync().finally(() => dir.close());
    } catch (e) {
      throw new IoError(`rename to ${this.finalPath}: ${oneLine(e)}`);
    }
  }

  async discard(): Promise<void> {
    if (!this.closed) await this.fh.close().catch(() => undefined);
    this.closed = true;
    await fsp.unlink(this.tempPath).catch(() => undefined);
  }
}

/** A device (or an existing non-regular file such as /dev/null): written in place; nothing to rename. */
class DeviceSink implements Sink {
  private pos = 0;
  private closed = false;
  constructor(
    private readonly fh: fsp.FileHandle,
    readonly description: string,
    private readonly seekable: boolean,
  ) {}

  async write(buf: Uint8Array): Promise<void> {
    try {
      let off = 0;
      while (off < buf.byteLength) {
        const r = await this.fh.write(buf, off, buf.byteLength - off, this.seekable ? this.pos : null);
        off += r.bytesWritten;
        this.pos += r.bytesWritten;
      }
    } catch (e) {
      throw new IoError(`write ${this.description}: ${oneLine(e)}`);
    }
  }

  async finish(): Promise<void> {
    try {
      if (this.seekable) await this.fh.sync();
      this.closed = true;
      await this.fh.close();
    } catch (e) {
      throw new IoError(`flush ${this.description}: ${oneLine(e)}`);
    }
  }

  async commit(): Promise<void> {}

  async discard(): Promise<void> {
    // A device cannot be un-written; the exit code and the sender's table say it failed.
    if (!this.closed) await this.fh.close().catch(() => undefined);
    this.closed = true;
  }
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
}

/** The stream goes through `sh -c CMD`; the command's output goes to the inner sink. */
class PipeSink implements Sink {
  private readonly exit: Promise<void>;
  private readonly copied: Promise<void>;
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
    this.exit.catch(() => undefined);
    child.stdin!.on('error', () => undefined); // a command that exits early: its exit code tells
    // Copy the command's output to the inner sink, one chunk at a time.
    this.copied = (async () => {
      for await (const chunk of child.stdout!) await inner.write(chunk as Buffer);
    })();
    this.copied.catch(() => child.kill('SIGTERM'));
  }

  async write(buf: Uint8Array): Promise<void> {
    try {
      await Promise.race([
        writeStream(this.child.stdin!, buf, this.description),
        this.exit.then(() => {
          throw new IoError(`${this.description} exited before the end of the image`);
        }),
      ]);
    } catch (e) {
      // If the command died, its exit status says more than a closed pipe does.
      if (this.child.exitCode !== null || this.child.signalCode !== null) await this.exit;
      throw e;
    }
  }

  async finish(): Promise<void> {
    this.child.stdin!.end();
    await this.exit;
    await this.copied;
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
}

async function openTarget(path: string | undefined): Promise<Sink> {
  if (path === undefined) return new StdoutSink();
  let st;
  try {
    st = await fsp.stat(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new IoError(`cannot write ${path}: ${oneLine(e)}`);
  }
  try {
    if (st?.isDirectory()) throw new Error('is a directory');
    if (st !== undefined && !st.isFile()) {
      const fh = await fsp.open(path, st.isBlockDevice() ? 'r+' : 'w');
      return new DeviceSink(fh, path, st.isBlockDevice());
    }
    const temp = join(dirname(path), `.${basename(path)}.rackcast-${process.pid}.part`);
    const fh = await fsp.open(temp, 'w', 0o644);
    return new TempFileSink(fh, temp, path);
  } catch (e) {
    throw new IoError(`cannot write ${path}: ${oneLine(e)}`);
  }
}

export async function openSink(opts: { file: string | undefined; pipe: string | undefined }): Promise<Sink> {
  const target = await openTarget(opts.file);
  if (opts.pipe === undefined) return target;
  const child = spawn('/bin/sh', ['-c', opts.pipe], { stdio: ['pipe', 'pipe', 'inherit'] });
  return new PipeSink(child, target, opts.pipe);
}
