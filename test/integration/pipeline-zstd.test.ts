// zstd end to end with the built CLIs on loopback multicast: `udp-sender --compress zstd`
// to a receiver's --file (and the zstd CLI reads what was sent); a raw disk.img.zst made by
// the zstd CLI decompressed by magic into --file; corrupt and truncated streams fail the
// receiver with exit 3 and one line, and leave no file under the final name.

import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadZstd } from '../../native/zstd.js';
import { haveCommand } from '../support/host.js';
import {
  builtCliMissing,
  describeRun,
  expectExit,
  newSession,
  Processes,
  partFiles,
  RECEIVER_CLI,
  type RunResult,
  receiverNetArgs,
  SENDER_CLI,
  senderNetArgs,
  senderThenReceivers,
  sleep,
  stderrLines,
} from './helpers.js';

const MiB = 1 << 20;
const z = loadZstd();
const why = !z.ok ? z.reason : !haveCommand('zstd') ? 'the zstd CLI is not installed (apt-get install zstd)' : undefined;
if (why !== undefined) console.log(`pipeline-zstd (integration): skipped: ${why}`);

const missing = builtCliMissing();
if (missing !== undefined) throw new Error(missing);

/** Half-compressible: runs of a byte and random stretches. */
function image(bytes: number): Buffer {
  const b = randomBytes(bytes);
  for (let off = 0; off < bytes; off += 64 << 10) b.fill(off & 0xff, off, Math.min(bytes, off + (32 << 10)));
  return b;
}

function sha(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

describe.skipIf(why !== undefined)('zstd through the CLIs on loopback multicast', () => {
  const procs = new Processes();
  let root = '';
  let n = 0;

  async function transfer(receiverArgs: string[], senderArgs: string[]): Promise<[RunResult, RunResult]> {
    const s = newSession();
    const r = procs.start('receiver', RECEIVER_CLI, [...receiverNetArgs(s), ...receiverArgs]);
    await sleep(300);
    const sender = procs.start('sender', SENDER_CLI, [...senderNetArgs(s), '--min-receivers', '1', ...senderArgs]);
    const [sr, [rr]] = await senderThenReceivers(sender, [r]);
    return [sr, rr!];
  }

  function dir(): string {
    const d = join(root, `t${++n}`);
    mkdirSync(d);
    return d;
  }

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'rackcast-zstd-int-'));
  });
  afterEach(async () => {
    await procs.killLeftovers();
  });
  afterAll(async () => {
    if (root !== '') await rm(root, { recursive: true, force: true });
  });

  it('udp-sender --compress zstd --compress-level 5: the receiver writes the image; the zstd CLI reads the wire stream', async () => {
    const d = dir();
    const data = image(12 * MiB);
    writeFileSync(join(d, 'disk.img'), data);
    const out = join(d, 'out.img');
    const [sr, rr] = await transfer(['--file', out], ['--file', join(d, 'disk.img'), '--compress', 'zstd', '--compress-level', '5']);
    expectExit(sr, 0);
    expectExit(rr, 0);
    expect(sha(readFileSync(out))).toBe(sha(data));
    expect(rr.stderr).toMatch(/zstd: .* decompressed to 12\.0 MiB/);
    // The wire stream as such: a receiver that keeps it (*.zst) gets what the zstd CLI reads.
    const kept = join(d, 'wire.img.zst');
    const [sr2, rr2] = await transfer(['--file', kept], ['--file', join(d, 'disk.img'), '--compress', 'zstd']);
    expectExit(sr2, 0);
    expectExit(rr2, 0);
    const back = spawnSync('zstd', ['-dc', '-q', kept], { maxBuffer: 1 << 30 });
    expect(back.status).toBe(0);
    expect(sha(back.stdout)).toBe(sha(data));
  });

  it('a disk.img.zst from the zstd CLI (two frames) is decompressed by its magic into --file', async () => {
    const d = dir();
    const a = image(3 * MiB);
    const b = image(2 * MiB);
    const zst = Buffer.concat([
      spawnSync('zstd', ['-c', '-q', '-9'], { input: a, maxBuffer: 1 << 30 }).stdout,
      spawnSync('zstd', ['-c', '-q'], { input: b, maxBuffer: 1 << 30 }).stdout,
    ]);
    writeFileSync(join(d, 'disk.img.zst'), zst);
    const out = join(d, 'out.img');
    const [sr, rr] = await transfer(['--file', out], ['--file', join(d, 'disk.img.zst')]);
    expectExit(sr, 0);
    expectExit(rr, 0);
    expect(sha(readFileSync(out))).toBe(sha(Buffer.concat([a, b])));
  });

  it.each([
    ['truncated', /^udp-receiver: failed: zstd: stream truncated \(it ends inside a frame/],
    ['corrupt', /^udp-receiver: failed: zstd: corrupt stream: /],
  ] as const)('a %s zstd stream: exit 3, one line, no file under the final name, sender exits 1', async (kind, message) => {
    const d = dir();
    const zst = spawnSync('zstd', ['-c', '-q'], { input: image(4 * MiB), maxBuffer: 1 << 30 }).stdout;
    let bad: Buffer;
    if (kind === 'truncated') bad = zst.subarray(0, zst.length - 7);
    else {
      bad = Buffer.from(zst);
      bad[Math.floor(bad.length / 2)]! ^= 0xff;
    }
    writeFileSync(join(d, 'bad.img.zst'), bad);
    const out = join(d, 'out.img');
    const [sr, rr] = await transfer(['--file', out, '--decompress', 'zstd'], ['--file', join(d, 'bad.img.zst')]);
    expectExit(rr, 3);
    const lines = stderrLines(rr);
    expect(lines, describeRun(rr)).toHaveLength(1);
    expect(lines[0]).toMatch(message);
    expectExit(sr, 1);
    expect(existsSync(out)).toBe(false);
    expect(await partFiles(d)).toEqual([]);
  });
});
