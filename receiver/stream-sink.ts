// The stream stages of the receiver's pipeline: stdout, and a --pipe command (udpcast's
// receiver-side pipe, e.g. "gzip -dc") in front of another sink. Both take the image only
// in order and honour the stream's back-pressure.

import type { ChildProcess } from 'node:child_process';
import type { Writable } from 'node:stream';
import { IoError, oneLine } from '../common/errors.js';
import { ForwardingSink } from './forwarding-sink.js';
import type { Sink, SinkReport } from './sink-types.js';

/** Writes to a stream (stdout, a pipe command's stdin), honouring its back-pressure. */
async function writeStream(w: Writable, buf: Uint8Array, description: string, kind: 'write' | 'pipe'): Promise<void> {
  if (w.destroyed || w.writableEnded) throw new IoError(kind, `write ${description}: stream closed`);
  await new Promise<void>((resolve, reject) => {
    const onError = (e: Error) => reject(new IoError(kind, `write ${description}: ${oneLine(e)}`, { cause: e }));
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

export class StdoutSink implements Sink {
  readonly description = 'stdout';
  private bytes = 0;
  private busyMs = 0;
  async write(buf: Uint8Array): Promise<void> {
    const t0 = performance.now();
    try {
      await writeStream(process.stdout, buf, 'stdout', 'write');
      this.bytes += buf.byteLength;
    } finally {
      this.busyMs += performance.now() - t0;
    }
  }
  async finish(): Promise<void> {
    // Wait until everything queued on stdout has been handed to the OS.
    await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
  }
  async commit(): Promise<void> {}
  async discard(): Promise<void> {}
  report(): SinkReport {
    return { stdout: { bytes: this.bytes, busySeconds: this.busyMs / 1000 } };
  }
  offsetSink(): string {
    return 'stdout takes the image only in order';
  }
}

/**
 * The stream goes through `sh -c CMD`; the command's output goes to the inner sink. Its
 * failures are IoErrors of kind 'pipe' (the receiver reports them as PIPE_FAILED); a
 * failure of the inner sink keeps its own kind.
 */
export class PipeSink extends ForwardingSink {
  private readonly exit: Promise<void>;
  private readonly copied: Promise<void>;
  /** The pending write's reject, for a command that exits while it waits. */
  private onExit: ((e: unknown) => void) | undefined;
  private exited = false;
  private readonly label: string;

  constructor(
    private readonly child: ChildProcess,
    inner: Sink,
    cmd: string,
  ) {
    super(inner);
    this.label = `--pipe "${cmd}"`;
    this.exit = new Promise((resolve, reject) => {
      child.on('error', (e) => reject(new IoError('pipe', `${this.description}: ${oneLine(e)}`, { cause: e })));
      child.on('close', (code, signal) => {
        if (code === 0) resolve();
        else reject(new IoError('pipe', `${this.description} failed (${signal ?? `exit ${code}`})`));
      });
    });
    // One handler for the whole run, not a reaction per write (those would pile up).
    this.exit.then(
      () => {
        this.exited = true;
        this.onExit?.(new IoError('pipe', `${this.description} exited before the end of the image`));
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

  override get description(): string {
    return this.label;
  }

  private bytes = 0;
  private busyMs = 0;

  override report(): SinkReport {
    return { ...this.inner.report(), pipe: { bytes: this.bytes, busySeconds: this.busyMs / 1000 } };
  }

  override async write(buf: Uint8Array): Promise<void> {
    const t0 = performance.now();
    try {
      await new Promise<void>((resolve, reject) => {
        if (this.exited) {
          reject(new IoError('pipe', `${this.description} exited before the end of the image`));
          return;
        }
        this.onExit = reject;
        writeStream(this.child.stdin!, buf, this.description, 'pipe').then(resolve, reject);
      });
    } catch (caught) {
      let e = caught;
      // If the command died, its exit status says more than a closed pipe does.
      if (this.child.exitCode !== null || this.child.signalCode !== null)
        await this.exit.catch((x: unknown) => {
          e = x;
        });
      throw this.copyError ?? e;
    } finally {
      this.onExit = undefined;
      this.busyMs += performance.now() - t0;
    }
    this.bytes += buf.byteLength;
  }

  override async finish(): Promise<void> {
    this.child.stdin!.end();
    const [exit, copied] = await Promise.allSettled([this.exit, this.copied]);
    if (copied.status === 'rejected') throw copied.reason;
    if (exit.status === 'rejected') throw exit.reason;
    await this.inner.finish();
  }

  override async discard(): Promise<void> {
    if (this.child.exitCode === null) this.child.kill('SIGTERM');
    await this.copied.catch(() => undefined);
    await this.inner.discard();
  }

  offsetSink(): string {
    return `${this.description} takes the image only in order`;
  }
}
