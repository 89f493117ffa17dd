// The disk writer (receiver/disk.ts) where it needs root: a full file system is a
// one-line IoError and leaves no file; a loop device written in place and read back
// identical (also with --sparse on a zeroed device), and a mounted one refused unless
// --force. Regular files: test/unit/receiver/disk.test.ts.

import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IoError } from '../../../common/errors.js';
import { blockDeviceUsers, DiskSink } from '../../../receiver/disk.js';
import { imageWithZeroRuns as image, writeAll } from '../../support/disk-images.js';
import { haveCommand, IS_ROOT } from '../../support/host.js';

const MiB = 1 << 20;

function readDevice(path: string, bytes: number): Buffer {
  const b = Buffer.alloc(bytes);
  const fd = openSync(path, 'r');
  try {
    for (let off = 0; off < bytes; ) off += readSync(fd, b, off, bytes - off, off);
  } finally {
    closeSync(fd);
  }
  return b;
}

if (!IS_ROOT) console.log('disk.test.ts: not root: the full file system test (it mounts a tmpfs) is skipped');

describe('disk writer: regular files', () => {
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'rackcast-disk-'));
  });
  afterAll(() => {
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  it.skipIf(!IS_ROOT)('a full file system: one-line IoError, no file left', async () => {
    const mnt = join(dir, 'small-tmpfs');
    mkdirSync(mnt);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', mnt]);
    try {
      const sink = await DiskSink.open({ path: join(mnt, 'big.img'), sparse: false, force: false });
      let err: unknown;
      try {
        await writeAll(sink, randomBytes(12 * MiB), [MiB]);
        await sink.finish();
      } catch (e) {
        err = e;
      }
      await sink.discard();
      expect(err).toBeInstanceOf(IoError);
      expect((err as Error).message).toMatch(/^write .*big\.img: .*no space left on device/i);
      expect(readdirSync(mnt)).toEqual([]);
    } finally {
      execFileSync('umount', [mnt]);
    }
  });
});

const LOOP_OK = IS_ROOT && haveCommand('losetup');
if (!LOOP_OK) console.log('disk.test.ts: loop-device tests need root and losetup: skipped');
const HAVE_MKFS = haveCommand('mkfs.ext4');
if (LOOP_OK && !HAVE_MKFS) console.log('disk.test.ts: mkfs.ext4 missing (apt-get install e2fsprogs): the mounted-device refusals are skipped');

describe.skipIf(!LOOP_OK)('disk writer: block devices (loop devices, as root)', () => {
  let dir = '';
  const loops: string[] = [];
  let mounted: string | undefined;

  function loop(bytes: number): string {
    const file = join(dir, `backing${loops.length}.img`);
    execFileSync('truncate', ['-s', String(bytes), file]);
    const dev = execFileSync('losetup', ['-f', '--show', file], { encoding: 'utf8' }).trim();
    loops.push(dev);
    return dev;
  }

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'rackcast-loop-'));
  });

  afterAll(() => {
    if (mounted !== undefined) spawnSync('umount', [mounted]);
    for (const l of loops) spawnSync('losetup', ['-d', l]);
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  it('a raw image written to a loop device reads back identical', async () => {
    const dev = loop(64 * MiB);
    const data = image(40 * MiB + 512);
    const sink = await DiskSink.open({ path: dev, sparse: false, force: false });
    await writeAll(sink, data, [185_344]);
    await sink.finish();
    await sink.commit();
    const back = readDevice(dev, data.length);
    expect(createHash('sha256').update(back).digest('hex')).toBe(createHash('sha256').update(data).digest('hex'));
    const r = sink.report().disk!;
    expect(r).toMatchObject({ kind: 'block', bytes: data.length, holeBytes: 0 });
    console.log(`loop device: ${(r.bytes / 1e6 / r.seconds).toFixed(0)} MB/s written (fsync ${r.fsyncSeconds.toFixed(2)} s)`);
  });

  it('--sparse on a zeroed device skips the zero blocks and still reads back identical', async () => {
    const dev = loop(64 * MiB);
    const data = image(40 * MiB);
    const sink = await DiskSink.open({ path: dev, sparse: true, force: false });
    await writeAll(sink, data, [1 << 20]);
    await sink.finish();
    expect(readDevice(dev, data.length).equals(data)).toBe(true);
    expect(sink.report().disk!.holeBytes).toBeGreaterThan(10 * MiB);
  });

  it.skipIf(!HAVE_MKFS)('a device with a mounted partition is refused, naming the partition', async ({ skip }) => {
    // An MBR with one Linux partition from sector 2048 to the end (written by hand: no fdisk needed).
    const file = join(dir, 'partitioned.img');
    execFileSync('truncate', ['-s', String(32 * MiB), file]);
    const mbr = Buffer.alloc(512);
    mbr[0x1be + 4] = 0x83;
    mbr.writeUInt32LE(2048, 0x1be + 8);
    mbr.writeUInt32LE((32 * MiB) / 512 - 2048, 0x1be + 12);
    mbr[510] = 0x55;
    mbr[511] = 0xaa;
    const fd = openSync(file, 'r+');
    writeSync(fd, mbr, 0, 512, 0);
    closeSync(fd);
    const dev = execFileSync('losetup', ['-P', '-f', '--show', file], { encoding: 'utf8' }).trim();
    loops.push(dev);
    const part = `${dev}p1`;
    for (let i = 0; i < 50 && !existsSync(part); i++) await new Promise((r) => setTimeout(r, 20));
    if (!existsSync(part)) {
      const why = `${part} did not appear (the kernel scans no partition tables on loop devices here)`;
      console.log(`disk.test.ts: skipped: ${why}`);
      skip(why);
    }
    execFileSync('mkfs.ext4', ['-q', part]);
    const mnt = join(dir, 'pmnt');
    mkdirSync(mnt);
    execFileSync('mount', [part, mnt]);
    mounted = mnt;
    await expect(DiskSink.open({ path: dev, sparse: false, force: false })).rejects.toThrow(
      `refusing to write ${dev}: ${part} is mounted at ${mnt} (give --force to write it anyway)`,
    );
    execFileSync('umount', [mnt]);
    mounted = undefined;
  });

  it.skipIf(!HAVE_MKFS)('a mounted device is refused (one line, saying where), and opened with --force', async () => {
    const dev = loop(32 * MiB);
    execFileSync('mkfs.ext4', ['-q', dev]);
    mounted = join(dir, 'mnt');
    mkdirSync(mounted);
    execFileSync('mount', [dev, mounted]);
    expect(blockDeviceUsers(dev)).toEqual([`${dev} is mounted at ${mounted}`]);
    const err = await DiskSink.open({ path: dev, sparse: false, force: false }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err).toBeInstanceOf(IoError);
    expect(err!.message).toBe(`refusing to write ${dev}: ${dev} is mounted at ${mounted} (give --force to write it anyway)`);
    // --force opens it; nothing is written here.
    const forced = await DiskSink.open({ path: dev, sparse: false, force: true });
    await forced.discard();
    execFileSync('umount', [mounted]);
    mounted = undefined;
    expect(blockDeviceUsers(dev)).toEqual([]);
  });
});
