// The receiver's pipeline end to end, with the built CLIs on loopback multicast (as in
// loopback.test.ts: own ports and groups per test, receivers first, hard deadlines):
// node.cpio.gz unpacked by 3 receivers into trees identical to the source; --pack with
// --compress; --compress lz4/gzip read by the CLIs; corrupt or truncated streams and
// archives failing with one line and exit 3; as root, a loop device written and read
// back, and a mounted one refused.

import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { INCOMPLETE_MARKER } from '../../receiver/cpio/unpack.js';
import { diffTrees, gnuPack, makeTree, snapshot } from '../support/cpio-tree.js';
import { haveCommand, IS_ROOT } from '../support/host.js';
import {
  builtCliMissing,
  describeRun,
  expectExit,
  newSession,
  Processes,
  parseJsonReport,
  partFiles,
  RECEIVER_CLI,
  type RunResult,
  receiverNetArgs,
  SENDER_CLI,
  type SenderReport,
  senderNetArgs,
  senderThenReceivers,
  sha256File,
  sleep,
  stderrLines,
  writeRandomFile,
} from './helpers.js';

const MiB = 1 << 20;
const RECEIVER_HEAD_START_MS = 300;
const HAVE_CPIO = haveCommand('cpio');
const HAVE_LZ4 = haveCommand('lz4');
if (!HAVE_CPIO) console.log('pipeline: GNU cpio is not installed (apt-get install cpio): archive tests skipped');
if (!HAVE_LZ4) console.log('pipeline: the lz4 CLI is not installed (apt-get install lz4): lz4 interop skipped');

const missing = builtCliMissing();
if (missing !== undefined) throw new Error(missing);

function expectOneLine(r: RunResult, re: RegExp): void {
  const lines = stderrLines(r);
  expect(r.stderr.endsWith('\n'), describeRun(r)).toBe(true);
  expect(lines, describeRun(r)).toHaveLength(1);
  expect(lines[0], describeRun(r)).toMatch(re);
}

interface UnpackJson {
  ok: boolean;
  output: {
    unpack?: { entries: number; files: number; hardLinks: number; devices: number };
    decompress?: { format: string };
    disk?: { bytes: number; seconds: number };
  };
  cpuUserMs: number;
  maxRssKiB: number;
}

describe('receiver pipeline on loopback multicast', () => {
  const procs = new Processes();
  let root = '';
  let src = '';
  let nodeGz = '';
  let testNo = 0;

  async function testDir(): Promise<string> {
    const d = join(root, `t${++testNo}`);
    mkdirSync(d);
    return d;
  }

  /** Receivers (started first), then the sender; both sides' results. */
  async function transfer(receivers: { name: string; args: string[] }[], senderArgs: string[]): Promise<[RunResult, RunResult[]]> {
    const s = newSession();
    const rs = receivers.map((r) => procs.start(r.name, RECEIVER_CLI, [...receiverNetArgs(s), ...r.args]));
    await sleep(RECEIVER_HEAD_START_MS);
    const sender = procs.start('sender', SENDER_CLI, [...senderNetArgs(s), '--min-receivers', String(receivers.length), '--json', ...senderArgs]);
    return senderThenReceivers(sender, rs);
  }

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'rackcast-pipeline-'));
    src = join(root, 'src');
    makeTree(src, { sparseBytes: 64 * MiB });
    if (HAVE_CPIO) {
      const cpio = join(root, 'node.cpio');
      gnuPack(src, 'crc', cpio);
      nodeGz = join(root, 'node.cpio.gz');
      writeFileSync(nodeGz, gzipSync(readFileSync(cpio)));
    }
  });

  afterEach(async () => {
    const left = await procs.killLeftovers();
    if (left.length > 0) console.log(`killed leftover processes: ${left.join(', ')}`);
  });

  afterAll(async () => {
    if (root !== '') await rm(root, { recursive: true, force: true });
  });

  it.skipIf(!HAVE_CPIO)('node.cpio.gz to 3 receivers with --unpack: three trees identical to the source', async () => {
    const dir = await testDir();
    const outs = [1, 2, 3].map((i) => join(dir, `node${i}`));
    const [sr, rr] = await transfer(
      outs.map((o, i) => ({ name: `receiver${i + 1}`, args: ['--unpack', o, '--json'] })),
      ['--file', nodeGz],
    );
    expectExit(sr, 0);
    for (const r of rr) expectExit(r, 0);
    expect(parseJsonReport<SenderReport>(sr).receivers.map((x) => x.state)).toEqual(['verified', 'verified', 'verified']);
    const want = snapshot(src);
    for (const o of outs) {
      expect(existsSync(join(o, INCOMPLETE_MARKER))).toBe(false);
      expect(diffTrees(want, snapshot(o))).toEqual([]);
    }
    const rep = parseJsonReport<UnpackJson>(rr[0]!);
    expect(rep.output.decompress?.format).toBe('gzip');
    expect(rep.output.unpack?.hardLinks).toBe(3);
    expect(rep.output.unpack?.devices).toBe(IS_ROOT ? 2 : 0);
    console.log(`node.cpio.gz → 3 x --unpack: ${stderrLines(rr[0]!).slice(1).join(' | ')}; receiver peak RSS ${rep.maxRssKiB} KiB`);
  });

  it.skipIf(!HAVE_CPIO)('--pack DIR --compress gzip → --unpack: the tree arrives identical in one step', async () => {
    const dir = await testDir();
    const out = join(dir, 'node');
    const [sr, [rr]] = await transfer([{ name: 'receiver', args: ['--unpack', out, '--json'] }], ['--pack', src, '--compress', 'gzip']);
    expectExit(sr, 0);
    expectExit(rr!, 0);
    const want = snapshot(src);
    expect(diffTrees(want, snapshot(out))).toEqual([]);
  });

  it('--compress lz4 / gzip: receivers decompress by magic; --decompress none (or a .gz name) keeps the stream, which the CLIs read', async () => {
    const dir = await testDir();
    const input = join(dir, 'input.bin');
    // Half random, half zeros: compressible, and a raw image as dd would make it.
    const inputSha = await writeRandomFile(input, 6 * MiB);
    const fd = openSync(input, 'a');
    writeFileSync(fd, Buffer.alloc(6 * MiB));
    closeSync(fd);
    const wantSha = await sha256File(input);
    expect(wantSha).not.toBe(inputSha);
    const formats = HAVE_LZ4 ? (['lz4', 'gzip'] as const) : (['gzip'] as const);
    for (const format of formats) {
      const plain = join(dir, `plain-${format}.img`);
      const kept = join(dir, `kept-${format}.bin`);
      const named = join(dir, `named.${format === 'gzip' ? 'gz' : 'lz4'}`);
      const [sr, rr] = await transfer(
        [
          { name: 'plain', args: ['--file', plain, '--json'] },
          { name: 'kept', args: ['--file', kept, '--decompress', 'none', '--json'] },
          { name: 'named', args: ['--file', named, '--json'] },
        ],
        ['--file', input, '--compress', format],
      );
      expectExit(sr, 0);
      for (const r of rr) expectExit(r, 0);
      expect(await sha256File(plain)).toBe(wantSha);
      for (const f of [kept, named]) {
        const back = spawnSync(format, ['-dc', f], { maxBuffer: 1 << 30 });
        expect(back.status, back.stderr.toString()).toBe(0);
        expect(createHash('sha256').update(back.stdout).digest('hex')).toBe(wantSha);
      }
      const report = parseJsonReport<SenderReport>(sr);
      expect(report.bytes).toBeLessThan(10 * MiB);
      console.log(`--compress ${format}: 12 MiB sent as ${(report.bytes / MiB).toFixed(1)} MiB; ${stderrLines(rr[0]!).slice(1).join(' | ')}`);
    }
  });

  for (const [format, message] of [
    ['gzip', /^udp-receiver: failed: gzip: stream truncated/],
    ['lz4', /^udp-receiver: failed: lz4: stream truncated inside a frame/],
  ] as const) {
    it.skipIf(format === 'lz4' && !HAVE_LZ4)(
      `a truncated ${format} stream: the receiver exits 3 with one line saying so and leaves no file; the sender exits 1`,
      async () => {
        const dir = await testDir();
        const image = Buffer.alloc(4 * MiB, 7);
        const compressed = format === 'gzip' ? gzipSync(image) : spawnSync('lz4', ['-c'], { input: image }).stdout;
        const bad = join(dir, `bad.img.${format}-stream`);
        writeFileSync(bad, compressed.subarray(0, compressed.length - 6));
        const out = join(dir, 'out.img');
        const [sr, [rr]] = await transfer([{ name: 'receiver', args: ['--file', out] }], ['--file', bad]);
        expectExit(rr!, 3);
        expectOneLine(rr!, message);
        expectExit(sr, 1);
        expect(existsSync(out)).toBe(false);
        expect(await partFiles(dir)).toEqual([]);
      },
    );
  }

  it.skipIf(!HAVE_CPIO)('a crc mismatch inside node.cpio.gz: exit 3, one line naming the entry, the tree marked incomplete', async () => {
    const dir = await testDir();
    const cpio = Buffer.from(readFileSync(join(root, 'node.cpio')));
    const at = cpio.indexOf('hello, rack');
    cpio[at]! ^= 1;
    const bad = join(dir, 'bad.cpio.gz');
    writeFileSync(bad, gzipSync(cpio));
    const out = join(dir, 'node');
    const [sr, [rr]] = await transfer([{ name: 'receiver', args: ['--unpack', out] }], ['--file', bad]);
    expectExit(rr!, 3);
    expectOneLine(rr!, /^udp-receiver: failed: cpio: entry a\/small\.txt: checksum mismatch/);
    expectExit(sr, 1);
    expect(existsSync(join(out, INCOMPLETE_MARKER))).toBe(true);
  });

  it.skipIf(!HAVE_CPIO)('a truncated archive (whole gzip stream of half a cpio): exit 3, marker stays', async () => {
    const dir = await testDir();
    const cpio = readFileSync(join(root, 'node.cpio'));
    const bad = join(dir, 'half.cpio.gz');
    writeFileSync(bad, gzipSync(cpio.subarray(0, cpio.length >> 1)));
    const out = join(dir, 'node');
    const [, [rr]] = await transfer([{ name: 'receiver', args: ['--unpack', out] }], ['--file', bad]);
    expectExit(rr!, 3);
    expectOneLine(rr!, /^udp-receiver: failed: cpio: archive truncated (in entry \S+|after \d+ entries)/);
    expect(existsSync(join(out, INCOMPLETE_MARKER))).toBe(true);
  });

  describe('usage errors exit 2 with one line', () => {
    const s = newSession();
    const cases: [string, string, string[]][] = [
      ['receiver: --unpack with --file', RECEIVER_CLI, [...receiverNetArgs(s), '--unpack', '/tmp/x', '--file', '/tmp/y']],
      ['receiver: --decompress zip', RECEIVER_CLI, [...receiverNetArgs(s), '--decompress', 'zip']],
      ['sender: --pack with --file', SENDER_CLI, [...senderNetArgs(s), '--min-receivers', '1', '--pack', '/tmp', '--file', '/etc/hostname']],
      ['sender: --compress xz', SENDER_CLI, [...senderNetArgs(s), '--min-receivers', '1', '--compress', 'xz']],
      ['sender: --compress-level 20 with zstd', SENDER_CLI, [...senderNetArgs(s), '--min-receivers', '1', '--compress', 'zstd', '--compress-level', '20']],
      ['sender: --compress-level without gzip', SENDER_CLI, [...senderNetArgs(s), '--min-receivers', '1', '--compress', 'lz4', '--compress-level', '3']],
      ['sender: --pack-format odc', SENDER_CLI, [...senderNetArgs(s), '--min-receivers', '1', '--pack', '/tmp', '--pack-format', 'odc']],
    ];
    it.each(cases)('%s', async (name, cli, args) => {
      const r = await procs.start(name, cli, args, { timeoutMs: 10_000 }).result;
      expectExit(r, 2);
      expect(stderrLines(r), describeRun(r)).toHaveLength(1);
    });
  });

  const LOOP_OK = IS_ROOT && haveCommand('losetup') && haveCommand('mkfs.ext4');
  if (!LOOP_OK) console.log('pipeline: loop-device tests need root, losetup and mkfs.ext4: skipped');

  describe.skipIf(!LOOP_OK)('block devices (root)', () => {
    const loops: string[] = [];
    let mounted: string | undefined;
    function loop(dir: string, bytes: number): string {
      const file = join(dir, `backing${loops.length}.img`);
      execFileSync('truncate', ['-s', String(bytes), file]);
      const dev = execFileSync('losetup', ['-f', '--show', file], { encoding: 'utf8' }).trim();
      loops.push(dev);
      return dev;
    }
    // biome-ignore lint/suspicious/noDuplicateTestHooks: this is the hook of describe.skipIf(…)'s own block, which Biome does not see as a block
    afterAll(() => {
      if (mounted !== undefined) spawnSync('umount', [mounted]);
      for (const l of loops) spawnSync('losetup', ['-d', l]);
    });

    it('a raw image to --file /dev/loopN reads back identical; the MB/s written is reported', async () => {
      const dir = await testDir();
      const dev = loop(dir, 48 * MiB);
      const input = join(dir, 'raw.img');
      const sha = await writeRandomFile(input, 32 * MiB + 4096);
      const [sr, [rr]] = await transfer([{ name: 'receiver', args: ['--file', dev, '--json'] }], ['--file', input]);
      expectExit(sr, 0);
      expectExit(rr!, 0);
      const back = Buffer.alloc(32 * MiB + 4096);
      const fd = openSync(dev, 'r');
      for (let off = 0; off < back.length; ) off += readSync(fd, back, off, back.length - off, off);
      closeSync(fd);
      expect(createHash('sha256').update(back).digest('hex')).toBe(sha);
      const rep = parseJsonReport<UnpackJson>(rr!);
      expect(rep.output.disk?.bytes).toBe(back.length);
      expect(stderrLines(rr!).some((l) => /wrote 32\.0 MiB to \/dev\/loop\d+ in [\d.]+ s; disk busy [\d.]+ s \([\d.]+ MB\/s, fsync/.test(l))).toBe(true);
    });

    it('a mounted device is refused before anything is received: exit 3, one line', async () => {
      const dir = await testDir();
      const dev = loop(dir, 32 * MiB);
      execFileSync('mkfs.ext4', ['-q', dev]);
      mounted = join(dir, 'mnt');
      mkdirSync(mounted);
      execFileSync('mount', [dev, mounted]);
      const s = newSession();
      const r = await procs.start('receiver', RECEIVER_CLI, [...receiverNetArgs(s), '--file', dev], { timeoutMs: 10_000 }).result;
      expectExit(r, 3);
      expectOneLine(r, new RegExp(`^udp-receiver: refusing to write ${dev}: ${dev} is mounted at ${mounted} \\(give --force`));
      execFileSync('umount', [mounted]);
      mounted = undefined;
    });
  });
});
