// Writing at offsets (a receiver that joined late): the disk writer takes slices in any
// order on a regular file, comes out identical with its exact size, and reads back what
// it wrote for the digest. Every stage that takes bytes only in order says so in one
// line, and `auto` decompression refuses a compressed image at its first slice before
// writing it. Real files, no mocks; the same on a loop device (root) is in
// test/integration/receiver/offset-sink.test.ts.

import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IoError } from '../../../common/errors.js';
import { DiskSink } from '../../../receiver/disk.js';
import { openSink, type SinkOptions } from '../../../receiver/sink.js';
import type { OffsetSink } from '../../../receiver/sink-types.js';
import { hex, sliceImage as image, lateJoinOrder, SLICE_BYTES, sha256, shuffled, sliceCount, writeSlices } from '../../support/disk-images.js';

const MiB = 1 << 20;

async function offsetSinkOf(opts: SinkOptions): Promise<{ close: () => Promise<void>; target: OffsetSink | string }> {
  const s = await openSink(opts);
  return { close: () => s.discard(), target: s.offsetSink() };
}

function errorOf(p: Promise<unknown>): Promise<Error | undefined> {
  return p.then(
    () => undefined,
    (e: unknown) => e as Error,
  );
}

describe('offset writes: regular files', () => {
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'rackcast-offset-'));
  });
  afterAll(() => {
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  async function roundTrip(name: string, data: Buffer, order: readonly number[]): Promise<void> {
    const path = join(dir, name);
    const sink = await DiskSink.open({ path, sparse: false, force: false });
    const os = sink.offsetSink();
    expect(os).toBe(sink);
    await writeSlices(os as OffsetSink, data, order);
    await sink.finish();
    expect(existsSync(path)).toBe(false);
    expect(hex(await sink.digestWritten(data.length))).toBe(sha256(data));
    await sink.commit();
    expect(readdirSync(dir).filter((f) => f.includes(name))).toEqual([name]);
    const st = statSync(path);
    expect(st.size).toBe(data.length);
    expect(readFileSync(path).equals(data)).toBe(true);
    const r = sink.report().disk!;
    expect(r.kind).toBe('file');
    expect(r.bytes).toBe(data.length);
    expect(r.holeBytes).toBeGreaterThan(2 * MiB - 2 * 4096);
  }

  it('late-join order (J..end, then 0..J-1): digest read back is right, identical with its exact size after commit', async () => {
    const data = image(10 * MiB + 777);
    const n = sliceCount(data.length);
    await roundTrip('late.img', data, lateJoinOrder(n, Math.floor(n / 2)));
  });

  it('a fully shuffled order comes out identical too', async () => {
    const seed = 0x5eed_0ff5;
    const data = image(10 * MiB + 777);
    const order = shuffled(sliceCount(data.length), seed);
    try {
      await roundTrip('shuffled.img', data, order);
    } catch (e) {
      console.log(`offset-sink: shuffled order failed with seed 0x${seed.toString(16)}`);
      throw e;
    }
  });

  it('digestWritten past the end: a one-line IoError saying "read back"', async () => {
    const data = image(3 * MiB + 5);
    const path = join(dir, 'short.img');
    const sink = await DiskSink.open({ path, sparse: false, force: false });
    await writeSlices(sink, data, lateJoinOrder(sliceCount(data.length), 7));
    await sink.finish();
    const err = await errorOf(sink.digestWritten(data.length + 1));
    expect(err).toBeInstanceOf(IoError);
    expect(err!.message).toMatch(/^read back .*short\.img: /);
    expect(err!.message).not.toMatch(/\n/);
    await sink.discard();
  });

  it('discard after offset writes leaves no file and no .part file', async () => {
    const data = image(6 * MiB);
    const path = join(dir, 'dropped.img');
    const sink = await DiskSink.open({ path, sparse: false, force: false });
    await writeSlices(sink, data, lateJoinOrder(sliceCount(data.length), 20).slice(0, 15));
    await sink.discard();
    expect(existsSync(path)).toBe(false);
    expect(readdirSync(dir).filter((f) => f.includes('dropped'))).toEqual([]);
  });

  it('stages that take bytes only in order say so in one line', async () => {
    const file = join(dir, 'never.img');
    const cases: [SinkOptions, RegExp][] = [
      [{ file: undefined, pipe: undefined }, /^stdout takes the image only in order$/],
      [{ file, pipe: 'cat' }, /^--pipe "cat" takes the image only in order$/],
      [{ file: undefined, pipe: undefined, unpack: join(dir, 'tree') }, /^--unpack takes the archive only in order$/],
      [{ file, pipe: undefined, decompress: 'gzip' }, /^--decompress gzip takes the stream only in order$/],
      [{ file, pipe: undefined, decompress: 'lz4' }, /^--decompress lz4 takes the stream only in order$/],
      [{ file: '/dev/null', pipe: undefined, decompress: 'none' }, /^\/dev\/null is not a regular file or block device, so it cannot be written out of order$/],
    ];
    for (const [opts, why] of cases) {
      const { close, target } = await offsetSinkOf(opts);
      await close();
      expect(typeof target).toBe('string');
      expect(target).toMatch(why);
    }
    expect(readdirSync(dir).filter((f) => f.includes('never'))).toEqual([]);
  });

  it('auto decompression: a gzip or LZ4 image is refused at offset 0 before anything is written there', async () => {
    const images: [string, Buffer][] = [
      ['gzip', gzipSync(randomBytes(2 * MiB), { level: 1 })],
      ['lz4', Buffer.concat([Buffer.from([0x04, 0x22, 0x4d, 0x18]), randomBytes(2 * MiB)])],
    ];
    for (const [fmt, data] of images) {
      const path = join(dir, `packed-${fmt}.img`);
      const sink = await openSink({ file: path, pipe: undefined, decompress: 'auto' });
      const os = sink.offsetSink();
      expect(typeof os).not.toBe('string');
      const target = os as OffsetSink;
      await writeSlices(target, data, [1, 2]);
      const err = await errorOf(writeSlices(target, data, [0]));
      expect(err).toBeInstanceOf(IoError);
      expect(err!.message).toContain(`the image is ${fmt}-compressed`);
      expect(err!.message).toContain('--decompress none');
      await target.finish();
      const part = readdirSync(dir).find((f) => f.startsWith(`.packed-${fmt}.img.`) && f.endsWith('.part'))!;
      const written = readFileSync(join(dir, part));
      expect(written.subarray(0, SLICE_BYTES).equals(Buffer.alloc(SLICE_BYTES))).toBe(true);
      expect(written.subarray(SLICE_BYTES, 3 * SLICE_BYTES).equals(data.subarray(SLICE_BYTES, 3 * SLICE_BYTES))).toBe(true);
      await target.discard();
      expect(readdirSync(dir).filter((f) => f.includes(`packed-${fmt}`))).toEqual([]);
    }
  });

  it('auto decompression: a raw image is written at offsets, read back and committed as is', async () => {
    const data = image(10 * MiB + 777);
    const path = join(dir, 'auto-raw.img');
    const sink = await openSink({ file: path, pipe: undefined, decompress: 'auto' });
    const target = sink.offsetSink() as OffsetSink;
    expect(target.description).toBe(path);
    await expect(target.write(data.subarray(0, 16))).rejects.toThrow(/offset mode/);
    await writeSlices(target, data, lateJoinOrder(sliceCount(data.length), 30));
    await target.finish();
    expect(hex(await target.digestWritten(data.length))).toBe(sha256(data));
    await target.commit();
    expect(statSync(path).size).toBe(data.length);
    expect(readFileSync(path).equals(data)).toBe(true);
    expect(target.report()).toMatchObject({ disk: { kind: 'file', bytes: data.length } });
    expect(target.report().decompress).toBeUndefined();
  });
});

describe('DiskSink: partial files of earlier runs', () => {
  it('removes the .part files of NAME whose process is gone, and keeps those of live processes and other names', async () => {
    const d = mkdtempSync(join(tmpdir(), 'rackcast-stale-'));
    try {
      // A PID no process has: the highest free one below pid_max.
      let dead = 4_000_000;
      while (existsSync(`/proc/${dead}`)) dead--;
      const names = [
        `.out.img.rackcast-${dead}.part`, // a receiver killed mid-transfer: removed
        `.out.img.rackcast-${process.ppid}.part`, // a live process (our parent): kept
        `.other.img.rackcast-${dead}.part`, // another image: kept
        `.out.img.rackcast-x.part`, // not a PID: kept
      ];
      for (const n of names) writeFileSync(join(d, n), 'partial');
      const sink = await DiskSink.open({ path: join(d, 'out.img'), sparse: false, force: false });
      const left = readdirSync(d).sort();
      expect(left).toEqual([...names.slice(1), `.out.img.rackcast-${process.pid}.part`].sort());
      await sink.discard();
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});
