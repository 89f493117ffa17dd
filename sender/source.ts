// Where the image comes from: a regular file or block device (--file), stdin, or a cpio
// archive of a directory made on the fly (--pack DIR); any of those through a --pipe
// command (udpcast's sender-side pipe, e.g. "gzip -c"), then optionally compressed
// (--compress gzip|lz4, which makes the size unknown to the protocol).

import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fsp, realpathSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { Readable } from 'node:stream';
import { ChunkReader } from '../common/chunk-reader.js';
import { IoError, oneLine } from '../common/errors.js';
import { IMAGE_BYTES_UNKNOWN } from '../protocol/messages/hello.js';
import { CompressSource, type CompressFormat } from './compress.js';
import { PackSource, type PackFormat } from './pack.js';

export interface Source {
  /** Bytes the source will give, or IMAGE_BYTES_UNKNOWN. */
  readonly sizeBytes: number;
  readonly description: string;
  /** The next `n` bytes (fewer only at the end); null at the end. Throws IoError. */
  read(n: number): Promise<Uint8Array | null>;
  /**
   * Exactly `n` bytes from `offset` again (a late receiver's head, --streaming), into a
   * buffer of their own. Only sources of known size that can seek have it. Throws IoError.
   */
  readAt?(offset: number, n: number): Promise<Uint8Array>;
  close(): Promise<void>;
}

/** A block device's size from sysfs (Node cannot seek to the end of a device). */
function blockDeviceBytes(path: string): number {
  try {
    const name = basename(realpathSync(path));
    const sectors = Number(readFileSync(`/sys/class/block/${name}/size`, 'utf8').trim());
    return Number.isSafeInteger(sectors) ? sectors * 512 : IMAGE_BYTES_UNKNOWN;
  } catch {
    return IMAGE_BYTES_UNKNOWN;
  }
}

class FileSource implements Source {
  private pos = 0;
  constructor(
    private readonly fh: fsp.FileHandle,
    readonly sizeBytes: number,
    readonly description: string,
  ) {}

  async read(n: number): Promise<Uint8Array | null> {
    const buf = Buffer.allocUnsafe(n);
    let have = 0;
    while (have < n) {
      let r;
      try {
        r = await this.fh.read(buf, have, n - have, this.pos);
      } catch (e) {
        throw new IoError('read', `read ${this.description}: ${oneLine(e)}`, { cause: e });
      }
      if (r.bytesRead === 0) break;
      have += r.bytesRead;
      this.pos += r.bytesRead;
    }
    if (this.sizeBytes !== IMAGE_BYTES_UNKNOWN && have < n && this.pos !== this.sizeBytes) {
      throw new IoError('read', `${this.description} shrank while being sent (${this.pos} of ${this.sizeBytes} bytes)`);
    }
    return have === 0 ? null : buf.subarray(0, have);
  }

  async readAt(offset: number, n: number): Promise<Uint8Array> {
    const buf = Buffer.allocUnsafe(n);
    let have = 0;
    while (have < n) {
      let r;
      try {
        r = await this.fh.read(buf, have, n - have, offset + have);
      } catch (e) {
        throw new IoError('read', `read ${this.description} again at ${offset}: ${oneLine(e)}`, { cause: e });
      }
      if (r.bytesRead === 0) throw new IoError('read', `${this.description} shrank while being sent (read again at ${offset})`);
      have += r.bytesRead;
    }
    return buf;
  }

  async close(): Promise<void> {
    await this.fh.close();
  }
}

class StreamSource implements Source {
  readonly sizeBytes = IMAGE_BYTES_UNKNOWN;
  private readonly reader: ChunkReader;
  private exit: Promise<void>;

  constructor(
    stream: NodeJS.ReadableStream,
    readonly description: string,
    private readonly child?: ChildProcess,
  ) {
    this.reader = new ChunkReader(stream as import('node:stream').Readable);
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
}

function childExit(child: ChildProcess, description: string): Promise<void> {
  return new Promise((resolve, reject) => {
    child.on('error', (e) => reject(new IoError('pipe', `${description}: ${oneLine(e)}`, { cause: e })));
    child.on('close', (code, signal) => {
      if (code === 0) resolve();
      else reject(new IoError('pipe', `${description} failed (${signal ?? `exit ${code}`})`));
    });
  });
}

export interface SourceOptions {
  readonly file: string | undefined;
  readonly pipe: string | undefined;
  /** Stream a cpio archive of this directory (excludes file). */
  readonly pack?: { readonly dir: string; readonly format: PackFormat };
  readonly compress?: { readonly format: CompressFormat; readonly level?: number };
  /** Entries --pack skips (sockets). */
  readonly warn?: (message: string) => void;
}

export async function openSource(opts: SourceOptions): Promise<Source> {
  const base = opts.pack !== undefined ? await openPack(opts) : await openPlain(opts);
  return opts.compress === undefined ? base : new CompressSource(base, opts.compress);
}

async function openPack(opts: SourceOptions): Promise<Source> {
  const pack = await PackSource.open({ dir: opts.pack!.dir, format: opts.pack!.format, warn: opts.warn });
  if (opts.pipe === undefined) return pack;
  const child = spawn('/bin/sh', ['-c', opts.pipe], { stdio: ['pipe', 'pipe', 'inherit'] });
  const input = Readable.from(
    (async function* () {
      for (let b = await pack.read(1 << 20); b !== null; b = await pack.read(1 << 20)) yield b;
    })(),
  );
  // A failure of the archive must fail the transfer even if the command exits 0 on the short input.
  let packError: Error | undefined;
  input.on('error', (e: Error) => {
    packError = e;
    child.stdin!.destroy(e);
  });
  input.pipe(child.stdin!);
  child.stdin!.on('error', () => undefined); // the command may exit without reading it all; its exit code says
  const piped = new StreamSource(child.stdout!, `--pipe "${opts.pipe}"`, child);
  return {
    sizeBytes: piped.sizeBytes,
    description: `${pack.description} | ${piped.description}`,
    async read(n: number): Promise<Uint8Array | null> {
      const b = await piped.read(n).catch((e: unknown) => {
        throw packError ?? e;
      });
      if (packError !== undefined) throw packError;
      return b;
    },
    async close(): Promise<void> {
      await piped.close();
      await pack.close();
    },
  };
}

async function openPlain(opts: SourceOptions): Promise<Source> {
  let fh: fsp.FileHandle | undefined;
  let size = IMAGE_BYTES_UNKNOWN;
  if (opts.file !== undefined) {
    try {
      fh = await fsp.open(opts.file, 'r');
      const st = await fh.stat();
      if (st.isDirectory()) throw new Error('is a directory');
      if (st.isFile()) size = st.size;
      else if (st.isBlockDevice()) size = blockDeviceBytes(opts.file);
    } catch (e) {
      await fh?.close().catch(() => undefined);
      throw new IoError('open', `cannot read ${opts.file}: ${oneLine(e)}`, { cause: e });
    }
  }
  if (opts.pipe !== undefined) {
    const child = spawn('/bin/sh', ['-c', opts.pipe], { stdio: ['pipe', 'pipe', 'inherit'] });
    // The stream owns the FileHandle: a bare fd would be closed under it when the handle is collected.
    const input = fh !== undefined ? fh.createReadStream() : process.stdin;
    input.on('error', (e: Error) => child.stdin!.destroy(e));
    input.pipe(child.stdin!);
    child.stdin!.on('error', () => undefined); // the command may exit without reading it all; its exit code says
    return new StreamSource(child.stdout!, `--pipe "${opts.pipe}"`, child);
  }
  if (fh !== undefined) {
    if (size !== IMAGE_BYTES_UNKNOWN) return new FileSource(fh, size, opts.file!);
    return new StreamSource(fh.createReadStream(), opts.file!);
  }
  return new StreamSource(process.stdin, 'stdin');
}
