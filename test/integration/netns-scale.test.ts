// The control datagrams on the sender's link, counted on the lab's bridge
// (bench/lab-control.ts), with real processes: 4 receivers and then 32, each in its own
// namespace, 1% random UDP loss at each, a 2 MiB random image paced at 30 Mbit/s. Every
// receiver must verify, and the count at the bridge must be exact: the NAKs, STATUS and
// HEARTBEATs it saw going to the sender are the ones the sender says it received (its
// --json stats), and a NAK is counted once however many ports the group floods it to.
// The figures per slice are printed; bench/lab-scale.ts runs the comparison and keeps it.
// Needs root and ip/nft/tc; skipped otherwise (reason printed).
// Assumes `npm run build` has produced dist/ (npm test builds first).

import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acquireLabLock, createRack, type LabLock, labSkipReason, sha256File, writeRandomFile } from '../../bench/lab.js';
import { LINK_BURST_BYTES, runCountedSession, type SessionResult, slicesOf } from '../../bench/lab-control.js';

const IMAGE_BYTES = 2 << 20;
const SESSION_TIMEOUT_MS = 90_000;
const SENDER_CLI = fileURLToPath(new URL('../../dist/sender/cli.js', import.meta.url));
const RECEIVER_CLI = fileURLToPath(new URL('../../dist/receiver/cli.js', import.meta.url));

const skipReason = labSkipReason();
if (skipReason !== undefined) console.log(`netns-scale.test.ts: skipped: ${skipReason}`);

describe.skipIf(skipReason !== undefined)('control datagrams on the sender link, 4 and 32 receivers in namespaces', () => {
  let lock: LabLock | undefined;
  let dir: string | undefined;
  let imagePath = '';
  let imageSha = '';

  beforeAll(async () => {
    expect(existsSync(SENDER_CLI) && existsSync(RECEIVER_CLI), `${SENDER_CLI} / ${RECEIVER_CLI} missing: run npm run build`).toBe(true);
    dir = await mkdtemp(join(tmpdir(), 'rackcast-netns-scale-'));
    imagePath = join(dir, 'image.bin');
    await writeRandomFile(imagePath, IMAGE_BYTES);
    imageSha = await sha256File(imagePath);
  }, 60_000);

  afterAll(async () => {
    await lock?.release();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  }, 30_000);

  async function session(receivers: number): Promise<SessionResult> {
    // Another lab run (a bench) may hold the lock for a few minutes; held per session only.
    lock = await acquireLabLock({ waitSeconds: 540 });
    const rack = await createRack({ receivers, lossPermille: 10, rate: '40mbit', rateBurstBytes: LINK_BURST_BYTES });
    try {
      return await runCountedSession(rack, {
        senderCli: SENDER_CLI,
        receiverCli: RECEIVER_CLI,
        imagePath,
        imageSha,
        imageBytes: IMAGE_BYTES,
        maxBitrate: '30m',
        timeoutMs: SESSION_TIMEOUT_MS,
      });
    } finally {
      await rack.destroy();
      await lock.release();
      lock = undefined;
    }
  }

  function check(r: SessionResult): void {
    expect(r.ok, r.problems.join('\n')).toBe(true);
    expect(r.verifiedOutputs).toBe(r.receivers);
    const to = r.counts.toSender;
    // Unicast to the sender, and the group's NAKs: each reached its socket once.
    expect(to.STATUS ?? 0, 'STATUS counted at the bridge vs heard by the sender').toBe(r.senderStats.statusReceived);
    expect(to.HEARTBEAT ?? 0, 'HEARTBEAT counted at the bridge vs heard by the sender').toBe(r.senderStats.heartbeatsReceived);
    expect(to.NAK ?? 0, 'NAK counted at the bridge vs heard by the sender').toBe(r.senderStats.naksReceived);
    // Every receiver joined and reported, and the image went out whole at least once.
    expect(to.JOIN ?? 0).toBeGreaterThanOrEqual(r.receivers);
    expect(to.REPORT ?? 0).toBeGreaterThanOrEqual(r.receivers);
    expect(r.counts.fromSender.DATA ?? 0).toBeGreaterThanOrEqual(Math.ceil(IMAGE_BYTES / 1448));
    const slices = slicesOf(IMAGE_BYTES);
    console.log(
      `${r.receivers} receivers: control ${(r.summary.control / slices).toFixed(2)}/slice, slice control ${(r.summary.sliceControl / slices).toFixed(2)}/slice ` +
        `(NAK ${to.NAK ?? 0}, STATUS ${to.STATUS ?? 0}, HEARTBEAT ${to.HEARTBEAT ?? 0}), sender ${r.senderSeconds?.toFixed(2)} s`,
    );
  }

  it('4 receivers: every one verified, every control datagram counted once', async () => {
    check(await session(4));
  }, 150_000);

  it('32 receivers: every one verified, every control datagram counted once', async () => {
    check(await session(32));
  }, 150_000);
});
