// A stream read in order: stdin, a file that cannot be read at offsets (a pipe, a character
// device), or a --pipe command's output, which counts only if the command succeeds.

import type { ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';
import { ChunkReader } from '../common/chunk-reader.js';
import { IoError, oneLine } from '../common/errors.js';
import { IMAGE_BYTES_UNKNOWN } from '../protocol/messages/hello.js';
import type { Source, SourceReport } from './source-types.js';

export class StreamSource implements Source {
  readonly sizeBytes = IMAGE_BYTES_UNKNOWN;
  private readonly reader: ChunkReader;
  private exit: Promise<void>;

  constructor(
    stream: NodeJS.ReadableStream,
    readonly description: string,
    private readonly child?: ChildProcess,
  ) {
    this.reader = new ChunkReader(stream as Readable);
    this.exit = child === undefined ? Promise.resolve() : childExit(child, description);
  }

  async read(n: number): Promise<Uint8Array | null> {
    let b: Buffer | null;
    try {
      b = await this.reader.read(n);
    } catch (e) {
      throw new IoError(this.child === undefined ? 'read' : 'pipe', `read ${this.description}: ${oneLine(e)}`, { cause: e });
    }
    // The pipe's output ended: it counts only if the command succeeded.
    if (b === null) await this.exit;
    return b;
  }

  async close(): Promise<void> {
    if (this.child !== undefined && this.child.exitCode === null) this.child.kill('SIGTERM');
    await this.exit.catch(() => undefined);
  }

  report(): SourceReport {
    return {};
  }
}

export function childExit(child: ChildProcess, description: string): Promise<void> {
  return new Promise((resolve, reject) => {
    child.on('error', (e) => reject(new IoError('pipe', `${description}: ${oneLine(e)}`, { cause: e })));
    child.on('close', (code, signal) => {
      if (code === 0) resolve();
      else reject(new IoError('pipe', `${description} failed (${signal ?? `exit ${code}`})`));
    });
  });
}
