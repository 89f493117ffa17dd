// The one composer of the receiver's pipeline: it picks the stages and puts them in order.
// Where the image goes: a regular file (written under a temporary name, renamed only
// after verification), a block or character device (written in place), stdout, a cpio
// unpacker (--unpack DIR), any of those behind a --pipe command (udpcast's receiver-side
// pipe, e.g. "gzip -dc"), and a decompressor in front of it all (--decompress, by default
// chosen by the stream's first bytes).
//
//   network ─► driver (sha256 of the bytes as sent) ─► [gunzip | lz4] ─► [--pipe CMD] ─► disk writer | stdout | cpio unpacker
//
// The interfaces every stage implements are in receiver/sink-types.ts; the stages are
// receiver/decompress.ts, receiver/stream-sink.ts, receiver/disk.ts and receiver/cpio/unpack.ts.
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

import { spawn } from 'node:child_process';
import { UnpackSink } from './cpio/unpack.js';
import { type DecompressMode, wrapDecompress } from './decompress.js';
import { DiskSink } from './disk.js';
import type { Sink } from './sink-types.js';
import { PipeSink, StdoutSink } from './stream-sink.js';

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
