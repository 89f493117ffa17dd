// LZ4 frames and gzip streams made by the `lz4` and `gzip` CLIs in all their flavours
// (linked blocks, block checksums, content size, no content checksum, several frames,
// skippable frames; gzip -1, -9, concatenated files) read back whatever the chunking;
// corrupt or truncated frames fail with a one-line error naming the problem.

import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { Lz4FrameError } from '../../../receiver/lz4-frame.js';
import { DECODERS, decodeFrames, sample, through } from '../../support/decompress.js';
import { haveCommand } from '../../support/host.js';

const HAVE_LZ4 = haveCommand('lz4');
if (!HAVE_LZ4) console.log('decompress.test.ts: the lz4 CLI is not installed (apt-get install lz4): interop with it skipped');

function lz4Cli(args: string[], input: Uint8Array): Buffer {
  const r = spawnSync('lz4', [...args, '-c'], { input, maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`lz4 ${args.join(' ')}: ${r.stderr.toString()}`);
  return r.stdout;
}

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
      await expect(decodeFrames(framed.subarray(0, n), DECODERS[0]!), `prefix ${n}`).rejects.toBeInstanceOf(Lz4FrameError);
    }
  });

  it('a flipped byte is caught: in a block (corrupt or checksum), in the header (HC), in the content checksum', async () => {
    const data = sample(6, 300_000);
    const framed = lz4Cli(['-B4'], data);
    const inBlock = Buffer.from(framed);
    inBlock[framed.length >> 1]! ^= 0x10;
    await expect(decodeFrames(inBlock, DECODERS[0]!)).rejects.toThrow(/lz4: (corrupt block|content checksum mismatch|block of)/);
    const inHeader = Buffer.from(framed);
    inHeader[5]! ^= 0x40; // BD: block size id 4 → 0
    await expect(decodeFrames(inHeader, DECODERS[0]!)).rejects.toThrow(/lz4: (frame header checksum mismatch|invalid block size id)/);
    const inChecksum = Buffer.from(framed);
    inChecksum[framed.length - 1]! ^= 1;
    await expect(decodeFrames(inChecksum, DECODERS[0]!)).rejects.toThrow(/lz4: content checksum mismatch \(frame says [0-9a-f]{8}, data has [0-9a-f]{8}\)/);
  });
});

describe('decompressing sinks', () => {
  const data = sample(9, 2_000_000);

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
});
