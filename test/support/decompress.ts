// Data and sinks for the tests of the receiver's decompressors (receiver/decompress.ts,
// lz4-frame.ts, lz4-block.ts): seeded data that compresses somewhat, random chunking, a
// sink that collects what it is given, and a run of bytes through a decompressing sink.

import { type DecompressMode, wrapDecompress } from '../../receiver/decompress.js';
import { type Lz4BlockDecoder, loadLz4Napi, napiLz4Decoder, tsLz4Decoder } from '../../receiver/lz4-block.js';
import { Lz4FrameDecoder } from '../../receiver/lz4-frame.js';
import type { Sink, SinkReport } from '../../receiver/sink-types.js';
import { mulberry32 } from './prng.js';

/** lz4-napi, where it loads (null: only the TS decoder is there to test). */
export const napi = loadLz4Napi();
/** Every LZ4 block decoder this machine has; the first is the one the sinks use. */
export const DECODERS: Lz4BlockDecoder[] = napi === null ? [tsLz4Decoder()] : [napiLz4Decoder(napi), tsLz4Decoder()];

/** Seeded data that compresses somewhat: runs, repeats and noise. */
export function sample(seed: number, bytes: number): Buffer {
  const rnd = mulberry32(seed);
  const b = Buffer.alloc(bytes);
  let i = 0;
  while (i < bytes) {
    const kind = rnd();
    const n = Math.min(bytes - i, 1 + Math.floor(rnd() * 3000));
    if (kind < 0.3) b.fill(Math.floor(rnd() * 256), i, i + n);
    else if (kind < 0.6 && i > 70_000) b.copy(b, i, i - 1 - Math.floor(rnd() * 65_000), i - 1 - Math.floor(rnd() * 65_000) + n);
    else for (let k = 0; k < n; k++) b[i + k] = rnd() < 0.7 ? 0x61 + Math.floor(rnd() * 8) : Math.floor(rnd() * 256);
    i += n;
  }
  return b;
}

export function chunks(b: Uint8Array, seed: number, max = 70_000): Uint8Array[] {
  const rnd = mulberry32(seed);
  const out: Uint8Array[] = [];
  for (let off = 0; off < b.byteLength; ) {
    const n = 1 + Math.floor(rnd() * max);
    out.push(b.subarray(off, off + n));
    off += n;
  }
  return out;
}

export async function decodeFrames(input: Uint8Array, decoder: Lz4BlockDecoder, seed = 1): Promise<Buffer> {
  const d = new Lz4FrameDecoder(decoder);
  const out: Uint8Array[] = [];
  for (const c of chunks(input, seed)) for await (const o of d.write(c)) out.push(o);
  d.end();
  return Buffer.concat(out);
}

/** Collects what it is given. */
export class MemorySink implements Sink {
  readonly description = 'memory';
  readonly parts: Buffer[] = [];
  finished = false;
  committed = false;
  discarded = false;
  async write(buf: Uint8Array): Promise<void> {
    this.parts.push(Buffer.from(buf));
  }
  async finish(): Promise<void> {
    this.finished = true;
  }
  async commit(): Promise<void> {
    this.committed = true;
  }
  async discard(): Promise<void> {
    this.discarded = true;
  }
  report(): SinkReport {
    return {};
  }
  offsetSink(): string {
    return 'memory takes the image only in order';
  }
  get bytes(): Buffer {
    return Buffer.concat(this.parts);
  }
}

/** Runs `input` through a decompressing sink: the output, or the error of write/finish. */
export async function through(
  mode: DecompressMode,
  input: Uint8Array,
  seed = 3,
): Promise<{ out: Buffer; error?: Error; sink: MemorySink; report: SinkReport }> {
  const inner = new MemorySink();
  const s = wrapDecompress(inner, mode, DECODERS[0]);
  try {
    for (const c of chunks(input, seed)) await s.write(c);
    await s.finish();
  } catch (e) {
    await s.discard();
    return { out: inner.bytes, error: e as Error, sink: inner, report: s.report() };
  }
  return { out: inner.bytes, sink: inner, report: s.report() };
}
