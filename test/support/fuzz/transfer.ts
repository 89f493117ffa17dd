// A transfer under fire: one seed builds a session (receivers, geometry, image size known or
// not, --fec, --async, --streaming, pacing, loss, reordering) and runs it while an injector
// sends, for every genuine datagram, 0.1..2 hostile ones (./hostile.ts) at the sender and
// at the receivers. Everything random comes from the seed, so a failure is replayed
// exactly with that seed.
//
// Used by test/sim/fuzz/*.test.ts (a fixed, fast seed count in `npm test`) and bench/fuzz.ts
// (the long run, minutes).
//
// What a run checks (FuzzViolation names the first that fails):
// - no core throws on any datagram, timeout or poll;
// - no core spins: right after it was handled at `now` (and its transmits drained), its
//   pollTimeout() is undefined or later than `now` (a deadline at or before `now` would
//   make its driver re-run at once, forever);
// - every hostile datagram is dropped and counted by the reason the outer checks predict
//   (./expected-drops.ts: decode error code, ERR_WRONG_SESSION, ERR_WRONG_SENDER,
//   ERR_UNKNOWN_RECEIVER, ERR_FOREIGN_ADDRESS, ERR_OWN), and no datagram is counted twice;
// - the run ends (sender done, every receiver done) within a virtual-time and step bound;
// - nobody finishes wrong: a receiver that reports ok holds the exact image;
// - with hostile datagrams from a stranger's address ('foreign' mode, where nothing can
//   be trusted but nothing is forged in a peer's name), every receiver verifies and the
//   sender succeeds: the injected datagrams changed nothing.
// In 'spoof' mode the hostile datagrams claim the sender's and the receivers' own
// addresses. Without --key-file a forged datagram from a peer's address is that peer as
// far as the protocol can tell (one forged DROP ends a receiver), so only the safety
// properties are checked there: no throw, no spin, an end, nobody finishes wrong.

import { decodeDatagram } from '../../../protocol/codec.js';
import { CauchyReedSolomon } from '../../../protocol/fec/cauchy-rs.js';
import type { ErasureCoder } from '../../../protocol/fec/erasure-coder.js';
import type { Geometry } from '../../../protocol/geometry.js';
import { MESSAGE_TYPE_NAMES, MessageType } from '../../../protocol/header.js';
import { IMAGE_BYTES_UNKNOWN } from '../../../protocol/messages/hello.js';
import type { ReceiverConfig } from '../../../receiver/core.js';
import type { SenderConfig } from '../../../sender/core.js';
import { mulberry32, Rng } from '../prng.js';
import { type Flight, SENDER_ADDRESS, SENDER_INDEX, SimNet, SimViolation, type Wire } from '../simnet.js';
import { expectedReceiverDrop, expectedSenderDrop } from './expected-drops.js';
import { hostileDatagram } from './hostile.js';

export type FuzzMode = 'foreign' | 'spoof';

export interface TransferFuzzOptions {
  readonly seed: number;
  readonly mode: FuzzMode;
  /** The long run: larger images, more receivers. */
  readonly big?: boolean;
  /** Hostile datagrams per genuine one, on average (default: from the seed, 0.1..2). */
  readonly hostileRatio?: number;
  readonly maxTimeMs?: number;
  readonly maxSteps?: number;
  /** Sees every datagram as it is delivered (for replaying a failing seed by hand). */
  readonly trace?: (line: string) => void;
}

export interface TransferFuzzResult {
  readonly seed: number;
  readonly mode: FuzzMode;
  readonly description: string;
  readonly timeMs: number;
  readonly steps: number;
  readonly genuine: number;
  readonly hostile: number;
  readonly hostileByKind: Record<string, number>;
  readonly hostileByType: Record<string, number>;
  /** Drops by code, summed over the sender (`sender.*`) and the receivers (`receiver.*`). */
  readonly drops: Record<string, number>;
  readonly receiversOk: number;
  readonly receivers: number;
  readonly senderOk: boolean | undefined;
}

export class FuzzViolation extends SimViolation {
  constructor(
    readonly seed: number,
    readonly mode: FuzzMode,
    message: string,
  ) {
    super(`seed ${seed} (${mode}): ${message}`);
    this.name = 'FuzzViolation';
  }
}

const STRANGER_ADDR = '198.18.0.99';
/** The session every fuzz scenario runs (and the decoders' fresh packets aim at). */
export const FUZZ_SESSION_ID = 0x5eed_0001;

function sumDrops(d: Partial<Record<string, number>>): number {
  let n = 0;
  for (const v of Object.values(d)) n += v ?? 0;
  return n;
}

const sharedCoder: ErasureCoder = new CauchyReedSolomon();

/** Runs one transfer under fire; throws FuzzViolation on the first broken property. */
export function runTransferFuzz(o: TransferFuzzOptions): TransferFuzzResult {
  const rng = new Rng(o.seed);
  const inj = new Rng(o.seed ^ 0x0bad_5eed);
  const big = o.big === true;
  let description = '';
  const fail = (msg: string): never => {
    throw new FuzzViolation(o.seed, o.mode, `${msg} [${description}]`);
  };

  // The session, from the seed.
  const nReceivers = rng.int(1, big ? 9 : 4);
  const blockBytes = rng.pick([16, 64, 100, 256, big ? 1400 : 200]);
  const sliceBlocks = rng.int(1, big ? 65 : 17);
  const stripes = rng.int(1, Math.min(4, sliceBlocks) + 1);
  const asyncMode = rng.chance(0.12);
  const redundancy = asyncMode ? rng.int(1, 4) : rng.chance(0.3) ? rng.int(1, 3) : 0;
  const sliceBytesFull = blockBytes * sliceBlocks;
  const imageBytes = rng.chance(0.08) ? rng.pick([0, 1, sliceBytesFull, sliceBytesFull + 1]) : rng.int(1, sliceBytesFull * rng.int(2, big ? 200 : 24));
  const unknownSize = rng.chance(0.25);
  // --streaming (late JOINs taken) in a third of the runs that can have it; from the seed,
  // not the rng, so the seeds of recorded regressions keep their scenarios.
  const streaming = !asyncMode && !unknownSize && o.seed % 3 === 0;
  const retainSlices = rng.int(2, 9);
  const loss = asyncMode && o.mode === 'foreign' ? 0 : rng.chance(0.4) ? 0 : rng.next() * 0.1;
  const feedbackLoss = asyncMode ? 0 : rng.chance(0.5) ? 0 : rng.next() * 0.05;
  const latency = 0.1 + rng.next() * 2;
  // --async gives a slice up once DATA of two slices later arrived: it relies on the data
  // socket being FIFO, as one LAN path is. Reordering is simulated only with a return channel.
  const jitter = rng.chance(0.5) || asyncMode ? 0 : rng.next() * 1.5;
  const paced = rng.chance(0.3);
  const smallWindow = rng.chance(0.4);
  const seededRatio = 0.1 + rng.next() * 1.9; // drawn even when given, so --ratio changes nothing else
  const hostileRatio = o.hostileRatio ?? seededRatio;
  const maxTimeMs = o.maxTimeMs ?? 300_000;
  const maxSteps = o.maxSteps ?? (big ? 20_000_000 : 2_000_000);
  description =
    `${nReceivers} receiver(s), ${imageBytes} bytes${unknownSize ? ' (size unknown)' : ''}, ${blockBytes}x${sliceBlocks} ` +
    `stripes ${stripes} redundancy ${redundancy}${asyncMode ? ' async' : ''}${streaming ? ' streaming' : ''}, retain ${retainSlices}, loss ${(loss * 100).toFixed(1)}% ` +
    `feedback loss ${(feedbackLoss * 100).toFixed(1)}%${paced ? ', paced' : ''}${smallWindow ? ', small window' : ''}, ` +
    `${hostileRatio.toFixed(2)} hostile per genuine datagram`;

  const image = rng.bytes(imageBytes);
  const geometry: Geometry = { blockBytes, sliceBlocks, stripes, imageBytes: unknownSize ? IMAGE_BYTES_UNKNOWN : imageBytes };

  const senderCfg: SenderConfig = Object.freeze({
    sessionId: FUZZ_SESSION_ID,
    blockBytes,
    sliceBlocks,
    stripes,
    redundancy,
    async: asyncMode,
    carouselPasses: 1,
    streaming,
    catchUp: false,
    minRateBytesPerSec: undefined,
    dataGroup: '239.192.67.1',
    dataPort: 9000,
    imageBytes: geometry.imageBytes,
    retainSlices,
    minReceivers: asyncMode ? 0 : nReceivers,
    minWaitMs: asyncMode ? 150 : 0,
    maxWaitMs: 3000,
    waitForKey: false,
    roster: [],
    startTimeoutMs: undefined,
    maxReceivers: 16,
    // As the CLI (200 rounds of 25 ms against a 500 ms heartbeat): a receiver whose last
    // STATUS was lost and that is no longer behind does not answer REQACK, and only its
    // heartbeat tells the sender, so the drop must take several heartbeats (here 10 of 100 ms).
    retriesUntilDrop: 50,
    maxBitrateBps: paced ? 20_000_000 : undefined,
    helloIntervalMs: 50,
    reqackIntervalMs: 20,
    endIntervalMs: 50,
    nakHoldMs: 12,
    windowPacketsMax: 4096,
    // Quiet (probe rounds, heartbeats) when more than 4 receivers joined: the fuzz runs both kinds of session.
    maxReportingReceivers: 4,
    answerWindowMs: 2,
    heartbeatMs: 100,
    coder: sharedCoder,
  });
  const receiverIds = Array.from({ length: nReceivers }, (_, i) => 0x100 + i);
  const receiverConfig = (i: number): ReceiverConfig =>
    Object.freeze({
      receiverId: receiverIds[i]!,
      rcvBufBytes: smallWindow ? 16 << 10 : 8 << 20,
      startTimeoutMs: 20_000,
      receiveTimeoutMs: 3000,
      joinIntervalMs: 30,
      statusIntervalMs: 100,
      heartbeatIntervalMs: 60,
      nakBackoffMs: 8,
      repairWaitMs: 16,
      reportIntervalMs: 30,
      reportTries: 20,
      maxQueuedSlices: 4,
      coder: sharedCoder,
      random: mulberry32(o.seed * 31 + i + 1),
    } satisfies ReceiverConfig);
  // Loss from the seed's generator, in the order the transfer asks: the wire is the
  // scenario's, and the hostile datagrams below draw from their own generator, so the
  // genuine traffic's loss and jitter do not depend on how many hostile ones there are
  // (a seed with --ratio 0 shows the same transfer without them).
  const wire: Wire = {
    latencyMs: latency,
    jitterMs: jitter,
    downLost: (_i, channel) => (channel === 'data' ? loss > 0 && rng.chance(loss) : loss > 0 && rng.chance(loss / 2)),
    upLost: () => feedbackLoss !== 0 && rng.chance(feedbackLoss),
    peerLost: () => rng.chance(feedbackLoss),
  };

  let genuine = 0;
  let hostile = 0;
  const hostileByKind: Record<string, number> = {};
  const hostileByType: Record<string, number> = {};
  const samples: Uint8Array[] = []; // the last SAMPLES genuine datagrams
  const SAMPLES = 64;
  const byType = new Map<MessageType, Uint8Array>(); // the latest genuine datagram of each type, so rare ones get mutated too
  let sliceHint = 0;

  const remember = (bytes: Uint8Array): void => {
    const copy = bytes.slice();
    if (samples.length >= SAMPLES) samples.shift();
    samples.push(copy);
    if (copy.byteLength >= 4 && MESSAGE_TYPE_NAMES[copy[3]!] !== undefined) byType.set(copy[3] as MessageType, copy);
    if (copy.byteLength >= 16 && copy[3] === MessageType.Data) sliceHint = new DataView(copy.buffer).getUint32(12, false);
  };

  /** After a genuine datagram went out: maybe some hostile ones, to random targets. */
  const inject = (): void => {
    let n = Math.floor(hostileRatio);
    if (inj.chance(hostileRatio - n)) n++;
    for (let i = 0; i < n; i++) {
      const pool = [...samples, ...byType.values()];
      const h = hostileDatagram(inj, { sessionId: FUZZ_SESSION_ID, geometry, receiverIds, sliceHint }, pool);
      // Receivers that still listen take the first HELLO of anyone (udpcast does too): aim
      // only at those in a session, or a stranger would simply become their sender.
      const targets = [SENDER_INDEX, ...net.receivers.filter((r) => r.session !== undefined && !r.done).map((r) => r.index)];
      const to = inj.pick(targets);
      let from = STRANGER_ADDR;
      if (o.mode === 'spoof') from = to === SENDER_INDEX ? (inj.chance(0.8) ? inj.pick(net.receivers).address : STRANGER_ADDR) : SENDER_ADDRESS;
      if (o.mode === 'foreign' && to === SENDER_INDEX && (net.sender.currentPhase === 'announcing' || streaming)) {
        // Anyone may join a session: a stranger's valid JOIN while announcing (or any time,
        // with --streaming) is a receiver (it would then be dropped for its silence and fail
        // the sender). Not a fault.
        const d = decodeDatagram(h.bytes);
        if (d.ok && d.value.type === MessageType.Join && d.value.msg.sessionId === FUZZ_SESSION_ID) continue;
      }
      hostile++;
      hostileByKind[h.kind] = (hostileByKind[h.kind] ?? 0) + 1;
      const typeName = h.type === undefined ? 'none' : MESSAGE_TYPE_NAMES[h.type]!;
      hostileByType[typeName] = (hostileByType[typeName] ?? 0) + 1;
      net.inject(to, from, h.bytes, inj.next() * 3, inj.next);
    }
  };

  const trace = (p: Flight): void => {
    const d = decodeDatagram(p.bytes);
    o.trace!(
      `${net.now.toFixed(3)} ${p.from} -> ${p.to === SENDER_INDEX ? 'sender' : `receiver ${p.to}`}${p.hostile ? ' HOSTILE' : ''} ` +
        `${d.ok ? `${MESSAGE_TYPE_NAMES[d.value.type]} ${JSON.stringify(d.value.msg, (k, v) => (k === 'payload' || k === 'digest' ? undefined : v))}` : d.code}`,
    );
  };

  /** Every hostile datagram is dropped and counted once, by the reason the outer checks predict. */
  const checkCounted = (p: Flight, handle: () => void): void => {
    let who: string;
    let expected: string | undefined;
    let drops: () => Partial<Record<string, number>>;
    if (p.to === SENDER_INDEX) {
      const senderReceivers = new Map(net.sender.receiverList().map((x) => [x.id, x.address]));
      who = 'sender';
      expected = p.hostile && net.sender.currentPhase !== 'done' ? expectedSenderDrop(p.bytes, p.from, FUZZ_SESSION_ID, senderReceivers) : undefined;
      drops = () => net.sender.stats.drops;
    } else {
      const r = net.receivers[p.to]!;
      const state = r.core.currentState;
      who = `receiver ${r.index} (${state})`;
      expected = p.hostile && state !== 'done' ? expectedReceiverDrop(p.bytes, p.from, r.session) : undefined;
      drops = () => r.core.stats.drops;
    }
    const before = { ...drops() } as Record<string, number>;
    handle();
    const after = drops();
    const added = sumDrops(after) - sumDrops(before);
    const hex = Buffer.from(p.bytes.subarray(0, 64)).toString('hex');
    if (added > 1) fail(`${who} counted one datagram ${added} times (${hex})`);
    if (expected !== undefined && ((after[expected] ?? 0) !== (before[expected] ?? 0) + 1 || added !== 1)) {
      fail(`${who} did not count a hostile datagram from ${p.from} as ${expected}: drops ${JSON.stringify(before)} -> ${JSON.stringify(after)} (${hex})`);
    }
  };

  const net: SimNet = new SimNet({
    sender: senderCfg,
    receivers: receiverIds.map((_, i) => ({ config: receiverConfig(i), address: `198.18.0.${11 + i}` })),
    image,
    wire,
    random: rng.next,
    peerTraffic: 'all',
    maxSteps,
    maxTimeMs,
    hooks: {
      onSend: (_from, bytes) => {
        genuine++;
        remember(bytes);
      },
      afterSend: inject,
      onArrive: o.trace === undefined ? undefined : trace,
      deliver: checkCounted,
    },
    fail,
  });

  const states = (): string => `sender ${net.sender.currentPhase}, receivers ${net.receivers.map((r) => r.core.currentState).join(',')}`;
  switch (net.run()) {
    case 'steps':
      return fail(`no end after ${maxSteps} steps (t=${net.now.toFixed(1)} ms, ${states()})`);
    case 'idle':
      return fail(`stuck: nothing in flight and no core wants a wake-up (${states()})`);
    case 'time':
      return fail(`no end within ${maxTimeMs} ms of virtual time (${states()})`);
    case 'finished':
      break;
  }

  // Nobody finishes wrong.
  for (const r of net.receivers) {
    if (!r.ok) continue;
    const got = r.image();
    if (got.byteLength !== image.byteLength || Buffer.compare(Buffer.from(got), Buffer.from(image)) !== 0) {
      fail(`receiver ${r.index} reports ok but holds ${got.byteLength} bytes that differ from the ${image.byteLength}-byte image`);
    }
  }
  const sender = net.sender;
  const table = sender.receiverList();
  if (o.mode === 'foreign') {
    // Nothing was forged in a peer's name: the transfer must be as if the stranger was not there.
    const lossy = asyncMode && loss > 0;
    for (const r of net.receivers) {
      if (!r.ok && !lossy) fail(`receiver ${r.index} failed under foreign datagrams: ${r.detail}`);
    }
    if (!asyncMode) {
      for (const x of table) {
        if (!receiverIds.includes(x.id)) fail(`the sender lists a receiver ${x.id.toString(16)} that no genuine receiver is`);
        if (x.state !== 'verified') fail(`the sender lists receiver ${x.id.toString(16)} as ${x.state}: ${x.detail}`);
      }
      if (table.length !== nReceivers) fail(`the sender lists ${table.length} receivers, not ${nReceivers}`);
      if (sender.succeeded !== true) fail('the sender did not succeed');
    }
  }

  const drops: Record<string, number> = {};
  for (const [k, v] of Object.entries(sender.stats.drops)) drops[`sender.${k}`] = v ?? 0;
  for (const r of net.receivers) for (const [k, v] of Object.entries(r.core.stats.drops)) drops[`receiver.${k}`] = (drops[`receiver.${k}`] ?? 0) + (v ?? 0);
  return {
    seed: o.seed,
    mode: o.mode,
    description,
    timeMs: net.now,
    steps: net.steps,
    genuine,
    hostile,
    hostileByKind,
    hostileByType,
    drops,
    receiversOk: net.receivers.filter((r) => r.ok).length,
    receivers: nReceivers,
    senderOk: sender.succeeded,
  };
}

/** Adds b's counts into a. */
export function addCounts(a: Record<string, number>, b: Record<string, number>): void {
  for (const [k, v] of Object.entries(b)) a[k] = (a[k] ?? 0) + v;
}
