// udp-sender --compress (sender/compress.ts): the output is read by the `gzip` and `lz4`
// CLIs and by the receiver's decompressors and equals the input; reads are full slices
// but the last; an empty image still makes a valid stream; the size is unknown to the
// protocol.

import { spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { IMAGE_BYTES_UNKNOWN } from '../../../protocol/messages/hello.js';
import { wrapDecompress } from '../../../receiver/decompress.js';
import type { Sink, SinkReport } from '../../../receiver/sink-types.js';
import { CompressSource } from '../../../sender/compress.js';
import type { CompressFormat, Source } from '../../../sender/source-types.js';
import { haveCommand } from '../../support/host.js';
import { mulberry32 } from '../../support/prng.js';

const HAVE_LZ4 = haveCommand('lz4');
if (!HAVE_LZ4) console.log('compress.test.ts: the lz4 CLI is not installed (apt-get install lz4): lz4 interop skipped');
const SLICE_BYTES = 128 * 1448;

function sample(seed: number, bytes: number): Buffer {
  const rnd = mulberry32(seed);
  const b = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; ) {
    const n = Math.min(bytes - i, 1 + Math.floor(rnd() * 5000));
    if (rnd() < 0.4) b.fill(Math.floor(rnd() * 256), i, i + n);
    else for (let k = 0; k < n; k++) b[i + k] = rnd() < 0.8 ? 0x41 + Math.floor(rnd() * 6) : Math.floor(rnd() * 256);
    i += n;
  }
  return b;
}

class MemorySource implements Source {
  readonly sizeBytes: number;
  readonly description = 'memory';
  private pos = 0;
  constructor(private readonly data: Buffer) {
    this.sizeBytes = data.length;
  }
  async read(n: number): Promise<Uint8Array | null> {
    if (this.pos >= this.data.length) return null;
    const b = this.data.subarray(this.pos, this.pos + n);
    this.pos += b.length;
    return Buffer.from(b);
  }
  async close(): Promise<void> {}
}

async function compressAll(format: CompressFormat, data: Buffer, level?: number): Promise<{ out: Buffer; reads: number[]; elu: number }> {
  const src = new CompressSource(new MemorySource(data), { format, level });
  expect(src.sizeBytes).toBe(IMAGE_BYTES_UNKNOWN);
  const parts: Uint8Array[] = [];
  const elu0 = performance.eventLoopUtilization();
  for (let b = await src.read(SLICE_BYTES); b !== null; b = await src.read(SLICE_BYTES)) parts.push(b);
  const elu = performance.eventLoopUtilization(elu0).utilization;
  await src.close();
  return { out: Buffer.concat(parts), reads: parts.map((p) => p.byteLength), elu };
}

function cli(cmd: string, input: Buffer): Buffer {
  const r = spawnSync(cmd, ['-dc'], { input, maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`${cmd} -dc failed: ${r.stderr.toString()}`);
  return r.stdout;
}

class MemorySink implements Sink {
  readonly description = 'memory';
  readonly parts: Buffer[] = [];
  async write(b: Uint8Array): Promise<void> {
    this.parts.push(Buffer.from(b));
  }
  async finish(): Promise<void> {}
  async commit(): Promise<void> {}
  async discard(): Promise<void> {}
  report(): SinkReport {
    return {};
  }
  offsetSink(): string {
    return 'memory takes the image only in order';
  }
}

async function ourDecompress(input: Buffer): Promise<Buffer> {
  const m = new MemorySink();
  const s = wrapDecompress(m, 'auto');
  for (let off = 0; off < input.length; off += SLICE_BYTES) await s.write(input.subarray(off, off + SLICE_BYTES));
  await s.finish();
  return Buffer.concat(m.parts);
}

describe('--compress', () => {
  const data = sample(1, 9 * (1 << 20) + 12345);

  for (const format of ['gzip', 'lz4'] as const) {
    it.skipIf(format === 'lz4' && !HAVE_LZ4)(`${format}: the ${format} CLI and our decompressor read it back; reads are full slices`, async () => {
      const { out, reads, elu } = await compressAll(format, data);
      expect(cli(format, out).equals(data)).toBe(true);
      expect((await ourDecompress(out)).equals(data)).toBe(true);
      for (const r of reads.slice(0, -1)) expect(r).toBe(SLICE_BYTES);
      console.log(`--compress ${format}: ${data.length} → ${out.length} bytes; main-thread utilization while compressing ${(elu * 100).toFixed(0)}%`);
    });

    it.skipIf(format === 'lz4' && !HAVE_LZ4)(`${format}: an empty image is a valid empty stream`, async () => {
      const { out } = await compressAll(format, Buffer.alloc(0));
      expect(out.length).toBeGreaterThan(0);
      expect(cli(format, out).length).toBe(0);
      expect((await ourDecompress(out)).length).toBe(0);
    });
  }

  it('gzip levels: 1 is bigger than 9 and both read back', async () => {
    const fast = await compressAll('gzip', data, 1);
    const small = await compressAll('gzip', data, 9);
    expect(fast.out.length).toBeGreaterThan(small.out.length);
    expect(cli('gzip', fast.out).equals(data)).toBe(true);
    expect(cli('gzip', small.out).equals(data)).toBe(true);
  });

  it('an error of the image source fails the read', async () => {
    const failing: Source = {
      sizeBytes: 10,
      description: 'failing',
      read: async () => {
        throw new Error('disk on fire');
      },
      close: async () => undefined,
    };
    const src = new CompressSource(failing, { format: 'gzip' });
    await expect(src.read(100)).rejects.toThrow('disk on fire');
  });
});
