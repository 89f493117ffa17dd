// The one composer of the sender's source chain: it picks the stages and puts them in order.
// Where the image comes from: a regular file or block device (--file), stdin, or a cpio
// archive of a directory made on the fly (--pack DIR); any of those through a --pipe
// command (udpcast's sender-side pipe, e.g. "gzip -c"), then optionally compressed
// (--compress gzip|lz4, which makes the size unknown to the protocol).
//
// The interface every stage implements is in sender/source-types.ts; the stages are
// sender/file-source.ts, sender/stream-source.ts, sender/pack.ts and sender/compress.ts.

import { spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import { Readable } from 'node:stream';
import { IoError, oneLine } from '../common/errors.js';
import { IMAGE_BYTES_UNKNOWN } from '../protocol/messages/hello.js';
import { CompressSource } from './compress.js';
import { blockDeviceBytes, FileSource } from './file-source.js';
import { type PackFormat, PackSource } from './pack.js';
import type { CompressFormat, Source } from './source-types.js';
import { StreamSource } from './stream-source.js';

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
    report: () => ({ ...pack.report(), ...piped.report() }),
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
