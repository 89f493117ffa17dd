// Writes an ImageTree as a compressed newc archive: entries in sorted order, every mtime
// the build's SOURCE_DATE_EPOCH, uid/gid 0, and compressors run with flags that keep
// timestamps and names out of their headers, so the same inputs give the same bytes.

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { PassThrough, type Writable } from 'node:stream';
import { dataPadding, encodeNewcHeader, encodeTrailer, S_IFDIR, S_IFLNK, S_IFREG } from './cpio-newc.js';
import type { ImageTree } from './tree.js';

export type Compression = 'none' | 'gzip' | 'zstd' | 'xz';
export const COMPRESSIONS: readonly Compression[] = ['none', 'gzip', 'zstd', 'xz'];

/**
 * The compressor command for each choice. gzip -n leaves the name and mtime out of the
 * header. zstd frames have no timestamp; the worker count is fixed, not -T0, so the frames
 * do not depend on the build machine's cores. xz: the kernel's decoder checks CRC32 only
 * (Documentation/staging/xz.rst in the kernel tree), and --block-size with a fixed -T gives
 * blocks that do not depend on the machine either.
 */
export function compressorCommand(c: Exclude<Compression, 'none'>): { readonly cmd: string; readonly args: readonly string[] } {
  switch (c) {
    case 'gzip':
      return { cmd: 'gzip', args: ['-n', '-9', '-c'] };
    case 'zstd':
      return { cmd: 'zstd', args: ['-q', '-19', '-T2', '-c'] };
    case 'xz':
      return { cmd: 'xz', args: ['--check=crc32', '-9', '-T2', '--block-size=32MiB', '-c'] };
  }
}

export interface ArchiveResult {
  readonly rawBytes: number;
  readonly compressedBytes: number;
  readonly sha256: string;
  readonly entries: number;
}

async function write(out: Writable, chunk: Buffer): Promise<void> {
  if (!out.write(chunk)) await once(out, 'drain');
}

/** Writes the uncompressed archive to `out`; returns its length and entry count. */
export async function writeNewcArchive(tree: ImageTree, mtimeSec: number, out: Writable): Promise<{ rawBytes: number; entries: number }> {
  let raw = 0;
  let ino = 0;
  const sorted = tree.sorted();
  for (const [name, e] of sorted) {
    ino += 1;
    if (e.kind === 'dir') {
      const h = encodeNewcHeader({ name, ino, mode: S_IFDIR | e.mode, nlink: 2, mtimeSec, fileBytes: 0 });
      await write(out, h);
      raw += h.length;
    } else if (e.kind === 'symlink') {
      const target = Buffer.from(e.target, 'utf8');
      const h = encodeNewcHeader({ name, ino, mode: S_IFLNK | 0o777, nlink: 1, mtimeSec, fileBytes: target.length });
      const pad = dataPadding(target.length);
      for (const b of [h, target, pad]) await write(out, b);
      raw += h.length + target.length + pad.length;
    } else if (e.kind === 'data') {
      const h = encodeNewcHeader({ name, ino, mode: S_IFREG | e.mode, nlink: 1, mtimeSec, fileBytes: e.data.length });
      const pad = dataPadding(e.data.length);
      for (const b of [h, e.data, pad]) await write(out, b);
      raw += h.length + e.data.length + pad.length;
    } else {
      const h = encodeNewcHeader({ name, ino, mode: S_IFREG | e.mode, nlink: 1, mtimeSec, fileBytes: e.bytes });
      await write(out, h);
      let got = 0;
      for await (const chunk of createReadStream(e.source)) {
        const b = chunk as Buffer;
        got += b.length;
        if (got > e.bytes) break;
        await write(out, b);
      }
      // The header already promised e.bytes: a file that changed while the image was
      // being written would make an archive that lies, so the build fails instead.
      if (got !== e.bytes) throw new Error(`${e.source} changed size while the image was written (${e.bytes} -> ${got} bytes)`);
      const pad = dataPadding(e.bytes);
      await write(out, pad);
      raw += h.length + e.bytes + pad.length;
    }
  }
  const t = encodeTrailer();
  await write(out, t);
  raw += t.length;
  return { rawBytes: raw, entries: sorted.length };
}

/** Writes the archive, compressed, to `path`; hashes what lands in the file. */
export async function writeImage(
  tree: ImageTree,
  opts: { readonly path: string; readonly mtimeSec: number; readonly compression: Compression },
): Promise<ArchiveResult> {
  const file = createWriteStream(opts.path, { mode: 0o644 });
  const fileDone = new Promise<void>((resolve, reject) => {
    file.once('close', resolve);
    file.once('error', reject);
  });
  const hash = createHash('sha256');
  let compressed = 0;
  const tap = (b: Buffer): void => {
    hash.update(b);
    compressed += b.length;
  };
  let input: Writable;
  let exited: Promise<void>;
  let abort: () => void;
  if (opts.compression === 'none') {
    const pass = new PassThrough();
    pass.on('data', tap);
    pass.pipe(file);
    input = pass;
    exited = Promise.resolve();
    abort = () => pass.destroy();
  } else {
    const { cmd, args } = compressorCommand(opts.compression);
    const child = spawn(cmd, [...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr = (stderr + s).slice(-2000)));
    exited = new Promise<void>((resolve, reject) => {
      child.once('error', (e) => reject(new Error(`${cmd}: ${e.message}`)));
      child.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(' ')} exited with ${code}: ${stderr.trim()}`))));
    });
    child.stdout.on('data', tap);
    child.stdout.pipe(file);
    input = child.stdin;
    abort = () => child.kill('SIGKILL');
  }
  let r: { rawBytes: number; entries: number };
  try {
    r = await writeNewcArchive(tree, opts.mtimeSec, input);
    input.end();
    await exited;
    await fileDone;
  } catch (e) {
    abort();
    file.destroy();
    throw e;
  }
  return { rawBytes: r.rawBytes, compressedBytes: compressed, sha256: hash.digest('hex'), entries: r.entries };
}
