// udp-sender --pack: our cpio writer (sender/pack.ts) read back by GNU cpio (`cpio -idm`,
// which also checks the crc format's checksums) and by our unpacker: both trees equal
// the source. Hard links carry their data once, on the last link, as GNU cpio writes them.

import { spawnSync } from 'node:child_process';
import { closeSync, ftruncateSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IoError } from '../../../common/errors.js';
import { CpioReader } from '../../../receiver/cpio/reader.js';
import { type PackFormat, PackSource } from '../../../sender/pack.js';
import { diffTrees, GNU_CPIO_MTIMES, gnuPack, gnuUnpack, makeTree, ourUnpack, snapshot } from '../../support/cpio-tree.js';
import { haveCommand } from '../../support/host.js';

const HAVE_CPIO = haveCommand('cpio');
if (!HAVE_CPIO) console.log('pack.test.ts: GNU cpio is not installed (apt-get install cpio): read-back by GNU cpio skipped');

async function packAll(dir: string, format: PackFormat, readBytes = 185_344): Promise<{ bytes: Buffer; warnings: string[] }> {
  const warnings: string[] = [];
  const src = await PackSource.open({ dir, format, warn: (m) => warnings.push(m) });
  const parts: Uint8Array[] = [];
  try {
    for (let b = await src.read(readBytes); b !== null; b = await src.read(readBytes)) {
      expect(b.byteLength).toBeLessThanOrEqual(readBytes);
      parts.push(b);
    }
  } finally {
    await src.close();
  }
  // Every read but the last is full (the sender's slices depend on it).
  for (const p of parts.slice(0, -1)) expect(p.byteLength).toBe(readBytes);
  return { bytes: Buffer.concat(parts), warnings };
}

describe.skipIf(!HAVE_CPIO)('--pack read back by GNU cpio and by our unpacker', () => {
  let dir = '';
  let src = '';
  let server: Server | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rackcast-pack-'));
    src = join(dir, 'src');
    makeTree(src, { sparseBytes: 8 << 20 });
    server = createServer();
    await new Promise<void>((resolve) => server!.listen(join(src, 'a/sock'), resolve));
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => (server === undefined ? resolve() : server.close(() => resolve())));
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  for (const format of ['crc', 'newc'] as const) {
    it(`${format}: cpio -idm of our archive equals the source (sockets skipped with a warning)`, async () => {
      const { bytes, warnings } = await packAll(src, format);
      expect(warnings).toEqual(['a/sock: socket skipped']);
      expect(bytes.byteLength % 512).toBe(0);
      const archive = join(dir, `ours.${format}`);
      writeFileSync(archive, bytes);
      const gnu = join(dir, `gnu-${format}`);
      const stderr = gnuUnpack(archive, gnu);
      expect(stderr).not.toMatch(/checksum|error|warning/i);
      const want = snapshot(src);
      want.delete('a/sock');
      expect(diffTrees(want, snapshot(gnu), GNU_CPIO_MTIMES)).toEqual([]);
      const ours = join(dir, `ours-${format}`);
      await ourUnpack(bytes, ours, [100_000]);
      expect(diffTrees(want, snapshot(ours))).toEqual([]);
    });
  }

  it('lists the same names as find . | cpio -o, with the data of a hard-linked inode on its last link', async () => {
    const { bytes } = await packAll(src, 'crc');
    const gnuArchive = join(dir, 'gnu.crc');
    gnuPack(src, 'crc', gnuArchive);
    const listing = (file: string) =>
      spawnSync('sh', ['-c', `cpio -it --quiet < '${file}'`], { encoding: 'latin1' })
        .stdout.split('\n')
        .filter((l) => l !== '')
        .sort();
    const ourArchive = join(dir, 'ours-list.crc');
    writeFileSync(ourArchive, bytes);
    expect(listing(ourArchive)).toEqual(listing(gnuArchive).filter((n) => n !== 'a/sock'));

    const r = new CpioReader();
    r.feed(bytes);
    const h1Group: { name: string; fileBytes: number }[] = [];
    for (let ev = r.poll(); ev !== undefined; ev = r.poll()) {
      if (ev.kind === 'entry' && /^(links\/h1|links\/x\/h2|a\/h3)$/.test(ev.header.name.toString())) {
        h1Group.push({ name: ev.header.name.toString(), fileBytes: ev.header.fileBytes });
      }
    }
    r.end();
    expect(h1Group.map((e) => e.fileBytes)).toEqual([0, 0, 5000]);
  });

  it('the same tree gives the same archive (names sorted, inodes renumbered)', async () => {
    const a = await packAll(src, 'newc', 65536);
    const b = await packAll(src, 'newc', 1 << 20);
    expect(a.bytes.equals(b.bytes)).toBe(true);
  });
});

describe('--pack refusals', () => {
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'rackcast-pack-bad-'));
  });
  afterAll(() => {
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  it('a file of 4 GiB does not fit the format: IoError naming it', async () => {
    const fd = openSync(join(dir, 'huge.img'), 'w');
    ftruncateSync(fd, 4 * 1024 ** 3);
    closeSync(fd);
    const e = await packAll(dir, 'crc').then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(IoError);
    expect((e as Error).message).toMatch(/huge\.img is 4294967296 bytes: cpio crc stores at most 4 GiB - 1 per file/);
  });

  it('not a directory', async () => {
    writeFileSync(join(dir, 'plain'), 'x');
    await expect(PackSource.open({ dir: join(dir, 'plain'), format: 'crc' })).rejects.toThrow(/cannot pack .*plain: not a directory/);
    await expect(PackSource.open({ dir: join(dir, 'missing'), format: 'crc' })).rejects.toThrow(IoError);
    expect(readFileSync(join(dir, 'plain'), 'utf8')).toBe('x');
  });
});
