// --unpack against GNU cpio: a tree with every entry type (devices and owners as root),
// packed by `find . | cpio -o --format=crc|newc|odc`, unpacked by us (in odd chunk sizes)
// and by `cpio -idm`: the two trees must be identical. The refusals and corrupt archives
// are in test/unit/receiver/cpio/unpack.test.ts.

import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INCOMPLETE_MARKER } from '../../../../receiver/cpio/unpack.js';
import { diffTrees, GNU_CPIO_MTIMES, gnuPack, gnuUnpack, makeTree, ourUnpack, snapshot } from '../../../support/cpio-tree.js';
import { haveCommand, IS_ROOT } from '../../../support/host.js';

const HAVE_CPIO = haveCommand('cpio');
if (!HAVE_CPIO) console.log('cpio/unpack.test.ts: GNU cpio is not installed (apt-get install cpio): comparisons with cpio -idm skipped');
if (!IS_ROOT) console.log('cpio/unpack.test.ts: not root: device nodes and owners are not part of the tree, and "as if not root" is skipped (they need root)');

const SPARSE_BYTES = 32 << 20;

describe.skipIf(!HAVE_CPIO)('unpack equals cpio -idm', () => {
  let dir = '';
  let src = '';

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'rackcast-unpack-'));
    src = join(dir, 'src');
    makeTree(src, { sparseBytes: SPARSE_BYTES });
  });

  afterAll(() => {
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  for (const format of ['crc', 'newc', 'odc'] as const) {
    it(`${format}: same tree as cpio -idm, fed in odd chunk sizes`, async () => {
      const archive = join(dir, `tree.${format}`);
      gnuPack(src, format, archive);
      const ref = join(dir, `ref-${format}`);
      gnuUnpack(archive, ref);
      const ours = join(dir, `ours-${format}`);
      const { sink } = await ourUnpack(readFileSync(archive), ours, [1, 7, 4093, 65536, 185_344, 1 << 20]);
      expect(diffTrees(snapshot(ref), snapshot(ours), GNU_CPIO_MTIMES)).toEqual([]);
      // And the same as the source itself, directory and symlink mtimes included.
      expect(diffTrees(snapshot(src), snapshot(ours))).toEqual([]);
      expect(existsSync(join(ours, INCOMPLETE_MARKER))).toBe(false);
      const u = sink.report().unpack!;
      expect(u.format).toBe(format);
      expect(u.hardLinks).toBe(3); // h2, h3 to h1; e2 to e1
      expect(u.skipped).toBe(0);
      expect(u.devices).toBe(IS_ROOT ? 2 : 0);
    });
  }

  it('--sparse: the sparse file comes out with holes and the same content', async () => {
    const archive = join(dir, 'tree.crc');
    gnuPack(src, 'crc', archive);
    const ours = join(dir, 'ours-sparse');
    const { sink } = await ourUnpack(readFileSync(archive), ours, [1 << 20], { sparse: true });
    expect(diffTrees(snapshot(src), snapshot(ours))).toEqual([]);
    const st = statSync(join(ours, 'sparse.img'));
    expect(st.size).toBe(SPARSE_BYTES);
    expect(st.blocks * 512).toBeLessThan(1 << 20);
    expect(sink.report().unpack!.holeBytes).toBeGreaterThan(SPARSE_BYTES - (1 << 20));
  });

  it.skipIf(!IS_ROOT)('as if not root: devices are skipped with a warning each and counted; the rest is identical', async () => {
    const archive = join(dir, 'tree.crc');
    gnuPack(src, 'crc', archive);
    const ours = join(dir, 'ours-user');
    const { sink, warnings } = await ourUnpack(readFileSync(archive), ours, [65536], { asRoot: false });
    expect(sink.report().unpack!.skipped).toBe(2);
    expect(warnings.sort()).toEqual(['a/blk: block device not created (needs root)', 'a/null: character device not created (needs root)']);
    const want = snapshot(src);
    want.delete('a/null');
    want.delete('a/blk');
    // Owners stay the unpacking user's.
    for (const [k, n] of want) want.set(k, { ...n, uid: 0, gid: 0 });
    expect(diffTrees(want, snapshot(ours))).toEqual([]);
  });
});
