// A whole transfer on the simulated network (./simnet.ts), described by a few numbers: one
// sender and N receivers, per-receiver links with seeded loss (independent or
// Gilbert-Elliott bursts), latency, jitter (reordering) and duplication, a sender link
// rate, receivers that die, come up late or write slowly. Everything random comes from
// one seed, printed on failure; the run is bounded in steps and virtual time.

import { PlacementTable } from '../../common/udp/placement.js';
import { CauchyReedSolomon } from '../../protocol/fec/cauchy-rs.js';
import type { ErasureCoder } from '../../protocol/fec/erasure-coder.js';
import { fullSliceBytes } from '../../protocol/geometry.js';
import { type Data, decodeData } from '../../protocol/messages/data.js';
import { IMAGE_BYTES_UNKNOWN } from '../../protocol/messages/hello.js';
import type { ReceiverConfig, ReceiverCore } from '../../receiver/core.js';
import type { SenderConfig, SenderCore, SenderEvent } from '../../sender/core.js';
import { randomImage } from './bytes.js';
import { mulberry32 } from './prng.js';
import { SENDER_INDEX, SimNet, SimViolation, type Wire } from './simnet.js';

export interface LossModel {
  /** Independent loss probability per packet per receiver. */
  readonly rate: number;
  /** Gilbert-Elliott: mean burst length in packets (rate is then the long-run loss). */
  readonly burst?: number;
}

export interface SimOptions {
  readonly receivers: number;
  readonly imageBytes: number;
  readonly seed: number;
  readonly loss?: LossModel;
  /** Loss on the receivers' feedback path (NAK, STATUS...). */
  readonly feedbackLoss?: number;
  readonly latencyMs?: number;
  readonly jitterMs?: number;
  readonly duplicate?: number;
  readonly linkRateBps?: number;
  readonly blockBytes?: number;
  readonly sliceBlocks?: number;
  readonly stripes?: number;
  /** Proactive parity per stripe (--fec's redundancy). */
  readonly redundancy?: number;
  /** --async: receivers send nothing; the sender starts after 120 ms and never waits. */
  readonly async?: boolean;
  /** --async --carousel: the image goes this many times (the sender reads it again at each slice's offset). */
  readonly carousel?: number;
  readonly retainSlices?: number;
  readonly unknownSize?: boolean;
  readonly sender?: Partial<SenderConfig>;
  readonly receiver?: Partial<ReceiverConfig>;
  /** One receiver's own settings, over `receiver` (e.g. an output that takes the image only in order). */
  readonly receiverFor?: (index: number) => Partial<ReceiverConfig> | undefined;
  /** Receivers (by index) that stop dead at the given virtual time. */
  readonly kill?: ReadonlyMap<number, number>;
  /**
   * Receivers (by index) that come up only at the given virtual time (a restarted node):
   * they hear nothing before, do not count for --min-receivers, and write at offsets.
   */
  readonly join?: ReadonlyMap<number, number>;
  /** Per-receiver sink speed in bytes/ms (undefined: instant). */
  readonly sinkBytesPerMs?: (index: number) => number | undefined;
  /** Per-receiver sink stall: it writes nothing in [from, to) of virtual time (needs sinkBytesPerMs). */
  readonly sinkStall?: (index: number) => readonly [number, number] | undefined;
  readonly maxSteps?: number;
  readonly maxTimeMs?: number;
  /** Drops chosen DATA datagrams on the way to a receiver (exact, deterministic loss). */
  readonly dropData?: (receiver: number, d: Data) => boolean;
  /** Sees every datagram the sender puts on the wire (for debugging a scenario), and the sender. */
  readonly onSenderTransmit?: (atMs: number, bytes: Uint8Array, sender: SenderCore) => void;
  /**
   * false: receivers keep no copy of the image (thousands of receivers would need gigabytes);
   * each delivered slice is compared with the image at its offset as it is written, and a
   * receiver verifies only if every byte matched. Results then hold no image. Default true.
   */
  readonly keepImages?: boolean;
  /** The erasure coder of every core (default: the TypeScript reference). */
  readonly coder?: ErasureCoder;
  /** Sees every DATA the seeded loss (`loss`) took from a receiver, as it is lost. */
  readonly onDataLost?: (receiver: number, d: Data) => void;
  /**
   * Every receiver holds its slices in a PlacementTable and gets DATA through the TS placement,
   * as the drivers do (./simnet.ts SimReceiverSpec.placement). A run must end the same with or
   * without it (test/sim/placement.test.ts).
   */
  readonly placement?: boolean;
}

export interface SimReceiverResult {
  readonly index: number;
  readonly id: number;
  readonly done: boolean;
  readonly ok: boolean;
  readonly detail: string;
  readonly image: Uint8Array;
  /** > 0: it joined late, at this slice. */
  readonly joinSlice: number;
  readonly core: ReceiverCore;
  /** When it ended (virtual ms; Infinity: it did not). */
  readonly doneAtMs: number;
  /** With `placement`: its slice memory, and the DATA it took as placed records. */
  readonly memory: PlacementTable | undefined;
  readonly placed: number;
}

export interface SimResult {
  readonly image: Uint8Array;
  readonly sender: SenderCore;
  readonly senderEvents: SenderEvent[];
  /** When each of senderEvents came out (virtual ms), index for index. */
  readonly senderEventsAt: readonly number[];
  readonly receivers: SimReceiverResult[];
  readonly timeMs: number;
  /** When the sender was done (every receiver resolved), or undefined if it never was. */
  readonly senderDoneAtMs: number | undefined;
  readonly steps: number;
  /** NAK datagrams sent per slice number (all receivers together). */
  readonly naksPerSlice: Map<number, number>;
  /** Every NAK sent: when, by whom, for which slice, and the first stripe's need. */
  readonly nakLog: readonly { atMs: number; receiver: number; sliceNo: number; need: number }[];
  readonly totalSlices: number;
  readonly seed: number;
}

/** Seeded loss on every link, from the options; `rnd` is the run's one generator. */
function seededWire(o: SimOptions, rnd: () => number): Wire {
  const lossBad = new Array<boolean>(o.receivers).fill(false);
  const lost = (i: number): boolean => {
    const l = o.loss;
    if (l === undefined || l.rate <= 0) return false;
    if (l.burst === undefined || l.burst <= 1) return rnd() < l.rate;
    // Gilbert-Elliott with all-loss bad state: P(bad->good) = 1/burst, stationary bad share = rate.
    const pBG = 1 / l.burst;
    const pGB = (l.rate * pBG) / (1 - l.rate);
    lossBad[i] = lossBad[i] ? rnd() >= pBG : rnd() < pGB;
    return lossBad[i];
  };
  // dropData looks at the decoded DATA: decode each datagram once, not once per receiver.
  let decodedBytes: Uint8Array | undefined;
  let decoded: Data | undefined;
  const data = (bytes: Uint8Array): Data | undefined => {
    if (bytes !== decodedBytes) {
      decodedBytes = bytes;
      const d = decodeData(bytes);
      decoded = d.ok ? d.value : undefined;
    }
    return decoded;
  };
  const feedbackLost = (): boolean => o.feedbackLoss !== undefined && rnd() < o.feedbackLoss;
  return {
    latencyMs: o.latencyMs ?? 0.2,
    jitterMs: o.jitterMs ?? 0,
    duplicate: o.duplicate,
    downLost: (i, channel, bytes) => {
      if (channel === 'data' && lost(i)) {
        if (o.onDataLost !== undefined) {
          const d = data(bytes);
          if (d !== undefined) o.onDataLost(i, d);
        }
        return true;
      }
      if (channel === 'data' && o.dropData !== undefined) {
        const d = data(bytes);
        if (d !== undefined && o.dropData(i, d)) return true;
      }
      return channel === 'control' && o.loss !== undefined && rnd() < o.loss.rate;
    },
    upLost: feedbackLost,
    peerLost: feedbackLost,
  };
}

export function simulate(o: SimOptions): SimResult {
  const rnd = mulberry32(o.seed);
  const coder = o.coder ?? new CauchyReedSolomon();
  const blockBytes = o.blockBytes ?? 256;
  const sliceBlocks = o.sliceBlocks ?? 64;
  const stripes = o.stripes ?? 1;
  const image = randomImage(o.imageBytes, o.seed);
  const onSenderTransmit = o.onSenderTransmit;

  const net: SimNet = new SimNet({
    sender: Object.freeze({
      sessionId: 0x1234abcd,
      blockBytes,
      sliceBlocks,
      stripes,
      redundancy: o.redundancy ?? 0,
      async: o.async ?? false,
      carouselPasses: o.carousel ?? 1,
      streaming: false,
      catchUp: false,
      minRateBytesPerSec: undefined,
      dataGroup: '239.192.67.1',
      dataPort: 9000,
      imageBytes: o.unknownSize ? IMAGE_BYTES_UNKNOWN : o.imageBytes,
      retainSlices: o.retainSlices ?? 16,
      minReceivers: o.receivers - (o.join?.size ?? 0),
      minWaitMs: o.async ? 120 : 0, // async: three HELLOs (50 ms apart) before the data
      maxWaitMs: 2000,
      waitForKey: false,
      roster: [],
      startTimeoutMs: undefined,
      maxReceivers: 16_384,
      retriesUntilDrop: 20,
      maxBitrateBps: undefined,
      helloIntervalMs: 50,
      reqackIntervalMs: 20,
      endIntervalMs: 50,
      nakHoldMs: 12,
      windowPacketsMax: 4096,
      maxReportingReceivers: 8,
      answerWindowMs: 2,
      heartbeatMs: 250,
      coder,
      ...o.sender,
    }),
    receivers: Array.from({ length: o.receivers }, (_, i) => {
      const placement = o.placement === true ? new PlacementTable() : undefined;
      return {
        config: Object.freeze({
          receiverId: 0x100 + i,
          rcvBufBytes: 8 << 20,
          startTimeoutMs: undefined,
          receiveTimeoutMs: 5000,
          joinIntervalMs: 30,
          statusIntervalMs: 250,
          // Off unless a scenario asks: heartbeats would shift the seeded PRNG's stream (each
          // datagram draws its jitter) and with it every exact counter of the other scenarios.
          heartbeatIntervalMs: 1e9,
          nakBackoffMs: 8,
          repairWaitMs: 16,
          reportIntervalMs: 30,
          reportTries: 20,
          maxQueuedSlices: 4,
          coder,
          random: mulberry32(o.seed * 31 + i + 1),
          ...(placement === undefined ? {} : { sliceMemory: placement }),
          ...o.receiver,
          ...o.receiverFor?.(i),
        }),
        address: `198.18.0.${11 + (i % 200)}`,
        upAtMs: o.join?.get(i),
        diesAtMs: o.kill?.get(i),
        sinkBytesPerMs: o.sinkBytesPerMs?.(i),
        sinkStall: o.sinkStall?.(i),
        placement,
      };
    }),
    image,
    keepImages: o.keepImages,
    wire: seededWire(o, rnd),
    random: rnd,
    peerTraffic: 'naks',
    linkRateBps: o.linkRateBps,
    maxSteps: o.maxSteps ?? 5_000_000,
    maxTimeMs: o.maxTimeMs ?? 600_000,
    hooks:
      onSenderTransmit === undefined
        ? undefined
        : {
            onSend: (from, bytes) => {
              if (from === SENDER_INDEX) onSenderTransmit(net.now, bytes, net.sender);
            },
          },
    fail: (message) => {
      throw new SimViolation(`seed ${o.seed}: ${message}`);
    },
  });
  net.run();

  return {
    image,
    sender: net.sender,
    senderEvents: net.senderEvents,
    senderEventsAt: net.senderEventsAt,
    receivers: net.receivers.map((r) => ({
      index: r.index,
      id: r.id,
      done: r.done,
      ok: r.ok,
      detail: r.detail,
      image: r.image(),
      joinSlice: r.joinSlice,
      core: r.core,
      doneAtMs: r.doneAtMs,
      memory: r.placement,
      placed: r.placed,
    })),
    timeMs: net.now,
    senderDoneAtMs: net.senderDoneAtMs,
    steps: net.steps,
    naksPerSlice: net.naksPerSlice,
    nakLog: net.nakLog,
    totalSlices: Math.ceil(o.imageBytes / fullSliceBytes({ blockBytes, sliceBlocks, stripes, imageBytes: 0 })),
    seed: o.seed,
  };
}
