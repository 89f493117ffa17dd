// zstd on both sides, against the `zstd` CLI: frames it writes (levels, no checksum, several
// files concatenated, a skippable frame) come out whole through the receiver's sink whatever
// the chunking; frames our sender's compressor writes are read by `zstd -dc`; corrupt,
// truncated and trailing-garbage streams fail with one line and the next sink is never
// finished; --decompress auto finds zstd by its magic.
//
// zstd is linked from Debian's libzstd-dev at build time (native/probe-zstd.mjs). Where the
// header is there but the addon still lacks zstd, that is a build bug and these tests fail;
// where libzstd-dev is missing they skip, saying so once.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { IoError } from '../../../common/errors.js';
import { loadZstd } from '../../../native/zstd.js';
import { type DecompressMode, sniffFormat, wrapDecompress } from '../../../receiver/decompress.js';
import { effectiveDecompress } from '../../../receiver/sink.js';
import type { Sink, SinkReport } from '../../../receiver/sink-types.js';
import { CompressSource } from '../../../sender/compress.js';
import type { Source } from '../../../sender/source-types.js';
import { haveCommand } from '../../support/host.js';
import { mulberry32 } from '../../support/prng.js';

const z = loadZstd();
const HEADER_PRESENT = existsSync('/usr/include/zstd.h');
const HAVE_CLI = haveCommand('zstd');
const SKIP = !z.ok && !HEADER_PRESENT;
if (SKIP) console.log(`pipeline-zstd: skipped: ${!z.ok ? z.reason : ''} (bench/lab-deps.sh installs libzstd-dev as root)`);
if (!HAVE_CLI) console.log('pipeline-zstd: the zstd CLI is not installed (apt-get install zstd): interop with it skipped');

function sample(seed: number, bytes: number): Buffer {
  const rnd = mulberry32(seed);
  const b = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; ) {
    const n = Math.min(bytes - i, 1 + Math.floor(rnd() * 3000));
    if (rnd() < 0.4) b.fill(Math.floor(rnd() * 256), i, i + n);
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

function zstdCli(args: string[], input: Uint8Array): Buffer {
  const r = spawnSync('zstd', [...args, '-c', '-q'], { input, maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`zstd ${args.join(' ')}: ${r.stderr.toString()}`);
  return r.stdout;
}

class MemorySink implements Sink {
  readonly description = 'memory';
  readonly parts: Buffer[] = [];
  finished = false;
  committed = false;
  async write(buf: Uint8Array): Promise<void> {
    this.parts.push(Buffer.from(buf));
  }
  async finish(): Promise<void> {
    this.finished = true;
  }
  async commit(): Promise<void> {
    this.committed = true;
  }
  async discard(): Promise<void> {}
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

async function through(
  mode: DecompressMode,
  input: Uint8Array,
  seed = 3,
  max = 70_000,
): Promise<{ out: Buffer; error?: Error; inner: MemorySink; report: SinkReport }> {
  const inner = new MemorySink();
  const s = wrapDecompress(inner, mode);
  try {
    for (const c of chunks(input, seed, max)) await s.write(c);
    await s.finish();
  } catch (e) {
    await s.discard();
    return { out: inner.bytes, error: e as Error, inner, report: s.report() };
  }
  return { out: inner.bytes, inner, report: s.report() };
}

/** A Source over bytes, as the sender reads a file. */
function bytesSource(b: Buffer): Source {
  let off = 0;
  return {
    sizeBytes: b.byteLength,
    description: 'memory',
    async read(n: number) {
      if (off >= b.byteLength) return null;
      const out = b.subarray(off, off + n);
      off += out.byteLength;
      return out;
    },
    async close() {},
  };
}

async function readAll(s: Source): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for (let b = await s.read(100_000); b !== null; b = await s.read(100_000)) parts.push(b);
  await s.close();
  return Buffer.concat(parts);
}

describe.skipIf(SKIP)('zstd', () => {
  it('the addon was built with libzstd (zstd.h is on this machine)', () => {
    expect(z.ok, z.ok ? '' : z.reason).toBe(true);
  });

  it.skipIf(!HAVE_CLI)('frames from the zstd CLI come out whole, whatever the chunking: levels 1, 3, 19, --no-check, long windows', async () => {
    const data = sample(1, 3_000_000);
    for (const args of [['-1'], ['-3'], ['-19'], ['--no-check'], ['--long=24']]) {
      const c = zstdCli(args, data);
      for (const [seed, max] of [
        [1, 7],
        [2, 70_000],
        [3, 4_000_000],
      ] as const) {
        if (max === 7 && args[0] === '-19') continue; // same frames as -3, byte by byte is slow
        const r = await through('zstd', max === 7 ? c.subarray(0, 30_000) : c, seed, max);
        if (max === 7) {
          // A prefix: every byte is fed alone, the output so far is a prefix of the data.
          expect(r.error?.message).toMatch(/zstd: stream truncated/);
          expect(data.subarray(0, r.out.length).equals(r.out)).toBe(true);
          continue;
        }
        expect(r.error, `${args} seed ${seed}`).toBeUndefined();
        expect(r.out.equals(data), `${args} seed ${seed}`).toBe(true);
        expect(r.report.decompress).toEqual({ format: 'zstd', inBytes: c.length, outBytes: data.length });
      }
    }
  });

  it.skipIf(!HAVE_CLI)('several frames (zstd -c a b), a skippable frame between them, and an empty frame', async () => {
    const a = sample(2, 500_000);
    const b = sample(3, 300_000);
    const skippable = Buffer.from([0x50, 0x2a, 0x4d, 0x18, 5, 0, 0, 0, 1, 2, 3, 4, 5]);
    const input = Buffer.concat([zstdCli(['-3'], a), skippable, zstdCli(['-1'], Buffer.alloc(0)), zstdCli(['-9'], b)]);
    const r = await through('auto', input);
    expect(r.error).toBeUndefined();
    expect(r.out.equals(Buffer.concat([a, b]))).toBe(true);
    expect(r.inner.finished).toBe(true);
  });

  it.skipIf(!HAVE_CLI)('our sender compressor writes frames the zstd CLI reads, and our receiver reads them back', async () => {
    const data = sample(4, 2_500_000);
    for (const level of [1, 3, 19]) {
      const c = await readAll(new CompressSource(bytesSource(data), { format: 'zstd', level }));
      expect(sniffFormat(c)).toBe('zstd');
      const r = spawnSync('zstd', ['-dc', '-q'], { input: c, maxBuffer: 1 << 30 });
      expect(r.status, r.stderr.toString()).toBe(0);
      expect(r.stdout.equals(data), `level ${level}`).toBe(true);
      // One frame per 1 MiB chunk, each with its checksum.
      const file = join(mkdtempSync(join(tmpdir(), 'rackcast-zstd-')), 'x.zst');
      writeFileSync(file, c);
      const l = spawnSync('zstd', ['-lv', file]);
      rmSync(dirname(file), { recursive: true });
      expect(l.stdout.toString()).toMatch(/# Zstandard Frames: 3\n/);
      expect(l.stdout.toString()).toMatch(/Check: XXH64/);
      const back = await through('auto', c);
      expect(back.out.equals(data)).toBe(true);
    }
    // An empty image is still one valid (empty) frame.
    const empty = await readAll(new CompressSource(bytesSource(Buffer.alloc(0)), { format: 'zstd' }));
    expect(spawnSync('zstd', ['-dc', '-q'], { input: empty }).status).toBe(0);
  });

  it.skipIf(!HAVE_CLI)('every truncated prefix fails (at finish or before) with one line, and the next sink is never finished', async () => {
    const data = sample(5, 200_000);
    const c = zstdCli(['-3'], data);
    const cuts = [1, 3, 4, 5, 10, 100, Math.floor(c.length / 2), c.length - 4, c.length - 1];
    for (const cut of cuts) {
      const r = await through('zstd', c.subarray(0, cut), cut);
      expect(r.error, `cut ${cut}`).toBeInstanceOf(IoError);
      expect(r.error!.message).not.toMatch(/\n/);
      expect(r.inner.finished, `cut ${cut}`).toBe(false);
    }
    const t = await through('zstd', c.subarray(0, c.length - 1));
    expect(t.error!.message).toMatch(/^zstd: stream truncated \(it ends inside a frame, after \d+ compressed bytes\)$/);
    const e = await through('zstd', Buffer.alloc(0));
    expect(e.error!.message).toBe('zstd: empty stream (no frame at all)');
  });

  it.skipIf(!HAVE_CLI)('corrupt: a flipped byte in the data or the checksum, trailing garbage', async () => {
    const data = sample(6, 400_000);
    const c = zstdCli(['-3'], data);
    for (const at of [Math.floor(c.length / 3), Math.floor(c.length / 2), c.length - 2]) {
      const bad = Buffer.from(c);
      bad[at]! ^= 0x55;
      const r = await through('zstd', bad);
      expect(r.error, `flip at ${at}`).toBeInstanceOf(IoError);
      expect(r.error!.message).toMatch(/^zstd: corrupt stream: .* \(within the first \d+ compressed bytes\)$/);
      expect(r.inner.finished).toBe(false);
    }
    const trailing = await through('zstd', Buffer.concat([c, Buffer.from('garbage!')]));
    expect(trailing.error!.message).toMatch(/zstd: corrupt stream: Unknown frame descriptor/);
    expect(trailing.inner.finished).toBe(false);
  });

  it('auto sniffs zstd by 28 b5 2f fd; a --file named *.zst keeps the bytes as sent', () => {
    expect(sniffFormat(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]))).toBe('zstd');
    expect(sniffFormat(Buffer.from([0x28, 0xb5, 0x2f]))).toBe('none');
    expect(effectiveDecompress({ file: 'x.img.zst', pipe: undefined, unpack: undefined })).toBe('none');
    expect(effectiveDecompress({ file: 'x.img', pipe: undefined, unpack: undefined })).toBe('auto');
  });
});
