// The receiver's decompressors: XXH32 against reference values; the TS LZ4 block decoder
// against lz4-napi on the same blocks (with and without a dictionary) and on random
// input; gzip and LZ4 corrupt or truncated streams fail with a one-line error naming the
// problem; --decompress auto picks by magic bytes; back-pressure holds. Streams made by
// the `lz4` and `gzip` CLIs are read in test/integration/receiver/decompress.test.ts.

import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { IoError } from '../../../common/errors.js';
import { sniffFormat, wrapDecompress } from '../../../receiver/decompress.js';
import { decodeLz4Block, napiLz4Decoder } from '../../../receiver/lz4-block.js';
import { effectiveDecompress } from '../../../receiver/sink.js';
import { Xxh32, xxh32 } from '../../../receiver/xxh32.js';
import { chunks, DECODERS, MemorySink, napi, sample, through } from '../../support/decompress.js';
import { mulberry32 } from '../../support/prng.js';

if (napi === null) console.log('decompress.test.ts: lz4-napi does not load here: only the TS decoder is tested, the tests that need lz4-napi are skipped');

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
    crc[gz.length - 6]! ^= 1;
    expect((await through('gzip', crc)).error?.message).toMatch(/^gzip: CRC mismatch/);
    const mid = Buffer.from(gz);
    for (let i = 1000; i < 1100; i++) mid[i]! ^= 0x5a;
    expect((await through('gzip', mid)).error?.message).toMatch(/^gzip: /);
    const trailing = Buffer.concat([gz, Buffer.from('garbage!')]);
    expect((await through('gzip', trailing)).error?.message).toMatch(/^gzip: corrupt stream: incorrect header check/);
  });

  it.skipIf(napi === null)('lz4 through the sink; truncated and empty streams fail', async () => {
    const framed = await napi!.compressFrame(data, { contentChecksum: true });
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
    const blockMax = 1 << (8 + 2 * ((frame[5]! >> 4) & 7)); // BD byte
    await stalls('lz4', frame, 2 * blockMax);
  });
});
