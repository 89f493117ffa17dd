// The receiver's decompressors: XXH32 against reference values; the TS LZ4 block decoder
// against lz4-napi on the same blocks (with and without a dictionary); LZ4 frames made by
// the `lz4` CLI in all its flavours (linked blocks, block checksums, content size, no
// content checksum, several frames, skippable frames) read back whatever the chunking;
// gzip and LZ4 corrupt or truncated streams fail with a one-line error naming the
// problem; --decompress auto picks by magic bytes.

import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { IoError } from '../../../common/errors.js';
import { sniffFormat, wrapDecompress, type DecompressMode } from '../../../receiver/decompress.js';
import { decodeLz4Block, loadLz4Napi, napiLz4Decoder, tsLz4Decoder, type Lz4BlockDecoder } from '../../../receiver/lz4-block.js';
import { Lz4FrameDecoder, Lz4FrameError } from '../../../receiver/lz4-frame.js';
import { effectiveDecompress, type Sink, type SinkReport } from '../../../receiver/sink.js';
import { Xxh32, xxh32 } from '../../../receiver/xxh32.js';
import { mulberry32 } from '../../support/prng.js';
import { haveCommand } from '../../support/host.js';

const HAVE_LZ4 = haveCommand('lz4');
if (!HAVE_LZ4) console.log('pipeline-decompress: the lz4 CLI is not installed (apt-get install lz4): interop with it skipped');
const napi = loadLz4Napi();
if (napi === null) console.log('pipeline-decompress: lz4-napi does not load here: only the TS decoder is tested');
const DECODERS: Lz4BlockDecoder[] = napi === null ? [tsLz4Decoder()] : [napiLz4Decoder(napi), tsLz4Decoder()];

/** Seeded data that compresses somewhat: runs, repeats and noise. */
function sample(seed: number, bytes: number): Buffer {
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

function chunks(b: Uint8Array, seed: number, max = 70_000): Uint8Array[] {
  const rnd = mulberry32(seed);
  const out: Uint8Array[] = [];
  for (let off = 0; off < b.byteLength; ) {
    const n = 1 + Math.floor(rnd() * max);
    out.push(b.subarray(off, off + n));
    off += n;
  }
  return out;
}

async function decodeFrames(input: Uint8Array, decoder: Lz4BlockDecoder, seed = 1): Promise<Buffer> {
  const d = new Lz4FrameDecoder(decoder);
  const out: Uint8Array[] = [];
  for (const c of chunks(input, seed)) for await (const o of d.write(c)) out.push(o);
  d.end();
  return Buffer.concat(out);
}

function lz4Cli(args: string[], input: Uint8Array): Buffer {
  const r = spawnSync('lz4', [...args, '-c'], { input, maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`lz4 ${args.join(' ')}: ${r.stderr.toString()}`);
  return r.stdout;
}

/** Collects what it is given. */
class MemorySink implements Sink {
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
async function through(mode: DecompressMode, input: Uint8Array, seed = 3): Promise<{ out: Buffer; error?: Error; sink: MemorySink; report: SinkReport }> {
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

describe('xxh32', () => {
  it('matches the reference values', () => {
    expect(xxh32(Buffer.alloc(0))).toBe(0x02cc5d05);
    expect(xxh32(Buffer.from('a'))).toBe(0x550d7456);
    expect(xxh32(Buffer.from('abc'))).toBe(0x32d153ff);
    expect(xxh32(Buffer.from('Nobody inspects the spammish repetition'))).toBe(0xe2293b2f);
  });

  it('streaming in any pieces gives the one-shot value', () => {
    const b = sample(7, 10_000);
    const one = xxh32(b);
    for (let seed = 1; seed <= 20; seed++) {
      const h = new Xxh32();
      for (const c of chunks(b, seed, 40)) h.update(c);
      expect(h.digest(), `seed ${seed}`).toBe(one);
    }
  });
});

describe('LZ4 block decoders', () => {
  it.skipIf(napi === null)('the TS decoder equals lz4-napi on 100 seeded blocks, with and without a dictionary', async () => {
    for (let seed = 1; seed <= 100; seed++) {
      const data = sample(seed, 1 + Math.floor(mulberry32(seed)() * 100_000));
      const dict = seed % 2 === 0 ? sample(seed + 1000, 65_536) : Buffer.alloc(0);
      // compressSync prepends the size (u32 LE): the raw block follows it.
      const c = dict.length > 0 ? napi!.compressSync(data, dict) : napi!.compressSync(data);
      const block = c.subarray(4);
      expect(Buffer.from(decodeLz4Block(block, dict, data.length)).equals(data), `seed ${seed}`).toBe(true);
      const headroom = Buffer.alloc(block.length + 4);
      block.copy(headroom, 4);
      const n = await napiLz4Decoder(napi!).decode(headroom.subarray(4), dict, 4 << 20);
      expect(Buffer.from(n).equals(data), `napi seed ${seed}`).toBe(true);
    }
  });

  it('the TS decoder never reads or writes outside its buffers on random input', () => {
    for (let seed = 1; seed <= 500; seed++) {
      const rnd = mulberry32(seed);
      const junk = Buffer.alloc(1 + Math.floor(rnd() * 300));
      for (let i = 0; i < junk.length; i++) junk[i] = Math.floor(rnd() * 256);
      try {
        const out = decodeLz4Block(junk, Buffer.alloc(0), 4096);
        expect(out.byteLength).toBeLessThanOrEqual(4096);
      } catch (e) {
        expect((e as Error).message, `seed ${seed}`).toMatch(/^corrupt LZ4 block: /);
      }
    }
  });
});

describe.skipIf(!HAVE_LZ4)('LZ4 frames from the lz4 CLI', () => {
  const data = sample(42, 3_000_000);
  const flavours: [string, string[]][] = [
    ['default (4 MiB blocks, independent, content checksum)', []],
    ['linked 64 KiB blocks (-BD -B4)', ['-BD', '-B4']],
    ['block checksums (-BX), 256 KiB blocks', ['-BX', '-B5']],
    ['content size, no content checksum', ['--content-size', '--no-frame-crc']],
    ['-9 linked 1 MiB blocks', ['-9', '-BD', '-B6']],
  ];
  for (const decoder of DECODERS) {
    it.each(flavours)(`${decoder.name} decoder: %s`, async (_label, args) => {
      const framed = lz4Cli(args, data);
      for (const seed of [1, 2]) expect((await decodeFrames(framed, decoder, seed)).equals(data)).toBe(true);
    });
  }

  it('several frames, a skippable frame between them, and an empty frame', async () => {
    const a = sample(1, 100_000);
    const b = sample(2, 70_000);
    const skippable = Buffer.concat([Buffer.from([0x53, 0x2a, 0x4d, 0x18, 5, 0, 0, 0]), Buffer.from('hello')]);
    const input = Buffer.concat([lz4Cli([], a), skippable, lz4Cli([], Buffer.alloc(0)), lz4Cli(['-BD', '-B4'], b)]);
    for (const d of DECODERS) expect((await decodeFrames(input, d)).equals(Buffer.concat([a, b]))).toBe(true);
  });

  it('every truncated prefix of a frame fails at end() or before', async () => {
    const framed = lz4Cli(['-BX', '-B4'], sample(5, 200_000));
    for (let n = 0; n < framed.length; n += n < 64 ? 1 : 997) {
      await expect(decodeFrames(framed.subarray(0, n), DECODERS[0]), `prefix ${n}`).rejects.toBeInstanceOf(Lz4FrameError);
    }
  });

  it('a flipped byte is caught: in a block (corrupt or checksum), in the header (HC), in the content checksum', async () => {
    const data = sample(6, 300_000);
    const framed = lz4Cli(['-B4'], data);
    const inBlock = Buffer.from(framed);
    inBlock[framed.length >> 1] ^= 0x10;
    await expect(decodeFrames(inBlock, DECODERS[0])).rejects.toThrow(/lz4: (corrupt block|content checksum mismatch|block of)/);
    const inHeader = Buffer.from(framed);
    inHeader[5] ^= 0x40; // BD: block size id 4 → 0
    await expect(decodeFrames(inHeader, DECODERS[0])).rejects.toThrow(/lz4: (frame header checksum mismatch|invalid block size id)/);
    const inChecksum = Buffer.from(framed);
    inChecksum[framed.length - 1] ^= 1;
    await expect(decodeFrames(inChecksum, DECODERS[0])).rejects.toThrow(/lz4: content checksum mismatch \(frame says [0-9a-f]{8}, data has [0-9a-f]{8}\)/);
  });
});

describe('decompressing sinks', () => {
  const data = sample(9, 2_000_000);

  it('gzip: multi-member streams (gzip CLI, our sender) come out whole; --decompress auto finds them', async () => {
    const gz = Buffer.concat([gzipSync(data.subarray(0, 1_000_000)), gzipSync(data.subarray(1_000_000))]);
    for (const mode of ['gzip', 'auto'] as const) {
      const r = await through(mode, gz);
      expect(r.error).toBeUndefined();
      expect(r.out.equals(data)).toBe(true);
      expect(r.report.decompress).toEqual({ format: 'gzip', inBytes: gz.length, outBytes: data.length });
    }
  });

  it('gzip: what the gzip CLI writes (-1, -9, two files concatenated) comes out whole', async () => {
    const gz = (args: string[], input: Buffer) => spawnSync('gzip', [...args, '-c'], { input, maxBuffer: 1 << 30 }).stdout;
    const a = data.subarray(0, 700_000);
    const b = data.subarray(700_000);
    for (const input of [gz(['-1'], data), gz(['-9'], data), Buffer.concat([gz([], a), gz([], b)])]) {
      const r = await through('auto', input);
      expect(r.error).toBeUndefined();
      expect(r.out.equals(data)).toBe(true);
    }
  });

  it('gzip truncated: one-line IoError saying so, the next sink is never finished', async () => {
    const gz = gzipSync(data);
    for (const cut of [5, 100, gz.length >> 1, gz.length - 4]) {
      const r = await through('auto', gz.subarray(0, cut));
      expect(r.error, `cut ${cut}`).toBeInstanceOf(IoError);
      expect(r.error!.message).toMatch(/^gzip: stream truncated \(unexpected end after \d+ compressed bytes\)$/);
      expect(r.sink.finished).toBe(false);
      expect(r.sink.discarded).toBe(true);
    }
  });

  it('gzip corrupt: CRC mismatch, bad data, trailing garbage', async () => {
    const gz = gzipSync(data);
    const crc = Buffer.from(gz);
    crc[gz.length - 6] ^= 1;
    expect((await through('gzip', crc)).error?.message).toMatch(/^gzip: CRC mismatch/);
    const mid = Buffer.from(gz);
    for (let i = 1000; i < 1100; i++) mid[i] ^= 0x5a;
    expect((await through('gzip', mid)).error?.message).toMatch(/^gzip: /);
    const trailing = Buffer.concat([gz, Buffer.from('garbage!')]);
    expect((await through('gzip', trailing)).error?.message).toMatch(/^gzip: corrupt stream: incorrect header check/);
  });

  it('lz4 through the sink; truncated and empty streams fail', async () => {
    if (napi === null) return;
    const framed = await napi.compressFrame(data, { contentChecksum: true });
    const r = await through('auto', framed);
    expect(r.error).toBeUndefined();
    expect(r.out.equals(data)).toBe(true);
    expect(r.report.decompress?.format).toBe('lz4');
    const t = await through('lz4', framed.subarray(0, framed.length - 3));
    expect(t.error?.message).toMatch(/^lz4: stream truncated inside a frame/);
    const e = await through('lz4', new Uint8Array(0));
    expect(e.error?.message).toMatch(/^lz4: no LZ4 frame in the stream/);
    const g = await through('gzip', new Uint8Array(0));
    expect(g.error?.message).toMatch(/^gzip: stream truncated/);
  });

  it('auto passes anything else through untouched, short streams included', async () => {
    for (const input of [Buffer.alloc(0), Buffer.from([0x1f]), Buffer.from([0x1f, 0x8b]), Buffer.from('070701...'), sample(10, 100_000)]) {
      const r = await through('auto', input);
      expect(r.error).toBeUndefined();
      expect(r.out.equals(input)).toBe(true);
      expect(r.sink.finished).toBe(true);
    }
  });

  it('sniffs gzip by 1f 8b 08 and LZ4 by its frame magic', () => {
    expect(sniffFormat(Buffer.from([0x1f, 0x8b, 0x08, 0]))).toBe('gzip');
    expect(sniffFormat(Buffer.from([0x1f, 0x8b, 0x07, 0]))).toBe('none');
    expect(sniffFormat(Buffer.from([0x04, 0x22, 0x4d, 0x18]))).toBe('lz4');
    expect(sniffFormat(Buffer.from([0x02, 0x21, 0x4c, 0x18]))).toBe('none');
    expect(sniffFormat(randomBytes(0))).toBe('none');
  });

  it('auto keeps the bytes as sent behind --pipe and into a --file named *.gz/*.tgz/*.lz4', () => {
    expect(effectiveDecompress({ file: 'out.img', pipe: undefined, unpack: undefined, decompress: 'auto' })).toBe('auto');
    expect(effectiveDecompress({ file: 'node.cpio.gz', pipe: undefined, unpack: undefined, decompress: 'auto' })).toBe('none');
    expect(effectiveDecompress({ file: 'x.LZ4', pipe: undefined, unpack: undefined, decompress: 'auto' })).toBe('none');
    expect(effectiveDecompress({ file: undefined, pipe: 'gzip -dc', unpack: undefined, decompress: 'auto' })).toBe('none');
    expect(effectiveDecompress({ file: undefined, pipe: undefined, unpack: '/mnt', decompress: 'auto' })).toBe('auto');
    expect(effectiveDecompress({ file: 'node.cpio.gz', pipe: undefined, unpack: undefined, decompress: 'gzip' })).toBe('gzip');
  });
});

/** A next stage that takes one write and then holds every further write until released. */
class StuckSink extends MemorySink {
  private release: (() => void) | undefined;
  private readonly gate = new Promise<void>((resolve) => (this.release = resolve));
  calls = 0;
  override async write(buf: Uint8Array): Promise<void> {
    this.calls++;
    this.parts.push(Buffer.from(buf));
    if (this.calls > 1) await this.gate;
  }
  open(): void {
    this.release!();
  }
}

describe('back-pressure through the decompressors', () => {
  const data = Buffer.alloc(64 << 20, 0x5a); // 64 MiB that compress to almost nothing

  async function stalls(mode: 'gzip' | 'lz4', input: Uint8Array, maxHeldBytes: number): Promise<void> {
    const inner = new StuckSink();
    const s = wrapDecompress(inner, mode, DECODERS[0]);
    let resolved = false;
    const w = s.write(input).then(() => (resolved = true));
    await new Promise((r) => setTimeout(r, 300));
    // The input cannot be consumed while the next stage is stuck: write() is still pending,
    // and only a bounded amount was handed on.
    expect(resolved).toBe(false);
    expect(inner.calls).toBe(2);
    expect(inner.bytes.length).toBeLessThanOrEqual(maxHeldBytes);
    inner.open();
    await w;
    await s.finish();
    expect(inner.bytes.equals(data)).toBe(true);
  }

  it('gzip: at most two 256 KiB output chunks handed on while the next stage is stuck', async () => {
    await stalls('gzip', gzipSync(data), 2 * (256 << 10));
  });

  it.skipIf(napi === null)('lz4: at most two blocks (of the frame maximum size) handed on while the next stage is stuck', async () => {
    const frame = await napi!.compressFrame(data);
    const blockMax = 1 << (8 + 2 * ((frame[5] >> 4) & 7)); // BD byte
    await stalls('lz4', frame, 2 * blockMax);
  });
});
