// Writing at offsets (a receiver that joined late) on a block device: a loop device
// written out of order reads back right, through the sink and through an fd of the
// test's own. Needs root and losetup. Regular files: test/unit/receiver/offset-sink.test.ts.

import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DiskSink } from '../../../receiver/disk.js';
import { hex, sliceImage as image, lateJoinOrder, sha256, sliceCount, writeSlices } from '../../support/disk-images.js';
import { haveCommand, IS_ROOT } from '../../support/host.js';

const MiB = 1 << 20;

const LOOP_OK = IS_ROOT && haveCommand('losetup');
if (!LOOP_OK) console.log('offset-sink.test.ts: the loop-device test needs root and losetup: skipped');

describe('offset writes: block devices', () => {
  it.skipIf(!LOOP_OK)('a loop device written out of order reads back right', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rackcast-offset-loop-'));
    const backing = join(dir, 'backing.img');
    let dev: string | undefined;
    try {
      execFileSync('truncate', ['-s', String(16 * MiB), backing]);
      dev = execFileSync('losetup', ['--find', '--show', backing], { encoding: 'utf8' }).trim();
      const data = image(12 * MiB);
      const sink = await DiskSink.open({ path: dev, sparse: false, force: true });
      expect(sink.offsetSink()).toBe(sink);
      const n = sliceCount(data.length);
      await writeSlices(sink, data, lateJoinOrder(n, Math.floor(n / 3)));
      await sink.finish();
      expect(hex(await sink.digestWritten(data.length))).toBe(sha256(data));
      await sink.commit();
      expect(sink.report().disk).toMatchObject({ kind: 'block', bytes: data.length, holeBytes: 0 });
      // And through an fd of the test's own.
      const back = Buffer.alloc(data.length);
      const fd = openSync(dev, 'r');
      try {
        for (let off = 0; off < back.length; ) off += readSync(fd, back, off, back.length - off, off);
      } finally {
        closeSync(fd);
      }
      expect(back.equals(data)).toBe(true);
    } finally {
      if (dev !== undefined) spawnSync('losetup', ['-d', dev]);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
