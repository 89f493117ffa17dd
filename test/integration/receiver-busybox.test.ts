// The receiver as a node's initramfs runs it: PATH holds busybox applets and nothing else,
// so any GNU-only option or tool the node-side path calls fails here. udp-receiver --unpack
// takes a node.cpio.gz (GNU cpio, crc format, with a fifo and, as root, device nodes: both
// made by busybox mknod) and a node.cpio.zst, and must exit 0 with the tree complete.
// Also: the sync fallback (`sync -f`) works with busybox, while GNU's `sync --file-system`
// does not (the bug this guards against: a verified transfer ending in exit 3).

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { commandSyncfs } from '../../common/syncfs.js';
import { nativeSyncfs } from '../../native/sys.js';
import { loadZstd } from '../../native/zstd.js';
import { INCOMPLETE_MARKER } from '../../receiver/cpio/unpack.js';
import { diffTrees, gnuPack, makeTree, snapshot } from '../support/cpio-tree.js';
import { haveCommand } from '../support/host.js';
import {
  builtCliMissing,
  describeRun,
  expectExit,
  newSession,
  Processes,
  RECEIVER_CLI,
  receiverNetArgs,
  SENDER_CLI,
  senderNetArgs,
  senderThenReceivers,
  sleep,
} from './helpers.js';

const BUSYBOX = ['/bin/busybox', '/usr/bin/busybox'].find((p) => existsSync(p));
const HAVE_CPIO = haveCommand('cpio');
const HAVE_ZSTD = loadZstd().ok && haveCommand('zstd');
const why =
  BUSYBOX === undefined ? 'busybox is not installed (bench/lab-deps.sh installs busybox-static as root)' : !HAVE_CPIO ? 'GNU cpio is not installed' : undefined;
if (why !== undefined) console.log(`receiver-busybox: skipped: ${why}`);

const missing = builtCliMissing();
if (missing !== undefined) throw new Error(missing);

describe.skipIf(why !== undefined)('udp-receiver with busybox applets only on PATH', () => {
  const procs = new Processes();
  let root = '';
  let bin = '';
  let src = '';
  let cpio = '';

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'rackcast-busybox-'));
    bin = join(root, 'bin');
    mkdirSync(bin);
    // busybox --install -s, without touching the system: one symlink per applet.
    const list = spawnSync(BUSYBOX!, ['--list'], { encoding: 'utf8' })
      .stdout.split('\n')
      .filter((a) => a !== '');
    for (const applet of list) symlinkSync(BUSYBOX!, join(bin, applet));
    src = join(root, 'src');
    makeTree(src, { sparseBytes: 8 << 20 });
    cpio = join(root, 'node.cpio');
    gnuPack(src, 'crc', cpio);
  });

  afterEach(async () => {
    const left = await procs.killLeftovers();
    if (left.length > 0) console.log(`killed leftover processes: ${left.join(', ')}`);
  });

  afterAll(async () => {
    if (root !== '') await rm(root, { recursive: true, force: true });
  });

  it('the applet directory has no GNU sync: `sync --file-system` fails there, `sync -f` works', async () => {
    const env = { PATH: bin };
    expect(readdirSync(bin)).toContain('sync');
    const gnu = spawnSync('sync', ['--file-system', root], { env });
    expect(gnu.status).not.toBe(0);
    const ok = spawnSync('sync', ['-f', root], { env });
    expect(ok.status, ok.stderr?.toString()).toBe(0);
    // The fallback the unpacker uses without the native addon, with busybox's sync.
    const saved = process.env.PATH;
    process.env.PATH = bin;
    try {
      await commandSyncfs(root);
    } finally {
      process.env.PATH = saved;
    }
    if (nativeSyncfs === undefined) console.log('receiver-busybox: native syncfs not built: only the sync -f fallback ran');
    else await nativeSyncfs(root);
  });

  for (const kind of ['gz', 'zst'] as const) {
    it.skipIf(kind === 'zst' && !HAVE_ZSTD)(`node.cpio.${kind} --unpack: exit 0, tree identical to the source, no marker left`, async () => {
      const image = join(root, `node.cpio.${kind}`);
      if (kind === 'gz') writeFileSync(image, gzipSync(readFileSync(cpio)));
      else expect(spawnSync('zstd', ['-q', '-f', '-3', cpio, '-o', image]).status).toBe(0);
      const out = join(root, `out-${kind}`);
      const s = newSession();
      const r = procs.start('receiver', RECEIVER_CLI, [...receiverNetArgs(s), '--unpack', out], { env: { PATH: bin } });
      await sleep(300);
      const sender = procs.start('sender', SENDER_CLI, [...senderNetArgs(s), '--min-receivers', '1', '--file', image]);
      const [sr, [rr]] = await senderThenReceivers(sender, [r]);
      expectExit(sr, 0);
      expectExit(rr!, 0);
      expect(rr!.stderr, describeRun(rr!)).toMatch(new RegExp(`${kind === 'gz' ? 'gzip' : 'zstd'}: .* decompressed`));
      expect(existsSync(join(out, INCOMPLETE_MARKER))).toBe(false);
      expect(diffTrees(snapshot(src), snapshot(out))).toEqual([]);
    });
  }
});
