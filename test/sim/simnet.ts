// A deterministic simulated network for the sans-IO cores (STYLE 8): a virtual clock,
// one sender and N receivers, per-receiver links with seeded loss (independent or
// Gilbert-Elliott bursts), latency, jitter (reordering) and duplication, a sender link
// rate, and a step bound. Everything random comes from one seed, printed on failure.

import { createHash } from 'node:crypto';
import { CauchyReedSolomon } from '../../protocol/fec/cauchy-rs.js';
import { fullSliceBytes } from '../../protocol/geometry.js';
import { decodeHeader, MessageType } from '../../protocol/header.js';
import { decodeData, type Data } from '../../protocol/messages/data.js';
import { IMAGE_BYTES_UNKNOWN } from '../../protocol/messages/hello.js';
import { ReceiverCore, type ReceiverConfig, type ReceiverEvent } from '../../receiver/core.js';
import { SenderCore, type SenderConfig, type SenderEvent } from '../../sender/core.js';
import { mulberry32 } from '../helpers/prng.js';
import { EventHeap } from '../../bench/event-heap.js';

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
  /** Receivers (by index) that stop dead at the given virtual time. */
  readonly kill?: ReadonlyMap<number, number>;
  /**
   * Receivers (by index) that come up only at the given virtual time (a restarted node):
   * they hear nothing before, do not count for --min-receivers, and write at offsets.
   */
  readonly join?: ReadonlyMap<number, number>;
  /** Per-receiver sink speed in bytes/ms (undefined: instant). */
  readonly sinkBytesPerMs?: (index: number) => number | undefined;
  readonly maxSteps?: number;
  readonly maxTimeMs?: number;
  /** Drops chosen DATA datagrams on the way to a receiver (exact, deterministic loss). */
  readonly dropData?: (receiver: number, d: Data) => boolean;
  /** Sees every datagram the sender puts on the wire (for debugging a scenario), and the sender. */
  readonly onSenderTransmit?: (atMs: number, bytes: Uint8Array, sender: SenderCore) => void;
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
}

export interface SimResult {
  readonly image: Uint8Array;
  readonly sender: SenderCore;
  readonly senderEvents: SenderEvent[];
  readonly receivers: SimReceiverResult[];
  readonly timeMs: number;
  readonly steps: number;
  /** NAK datagrams sent per slice number (all receivers together). */
  readonly naksPerSlice: Map<number, number>;
  /** Every NAK sent: when, by whom, for which slice, and the first stripe's need. */
  readonly nakLog: readonly { atMs: number; receiver: number; sliceNo: number; need: number }[];
  readonly totalSlices: number;
  readonly seed: number;
}

interface Pending {
  at: number;
  seq: number;
  to: number; // -1 = sender, else receiver index
  from: string;
  bytes: Uint8Array;
}

export function randomImage(bytes: number, seed: number): Uint8Array {
  const rnd = mulberry32(seed ^ 0x5eed);
  const out = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) out[i] = (rnd() * 256) | 0;
  return out;
}

export function simulate(o: SimOptions): SimResult {
  const rnd = mulberry32(o.seed);
  const coder = new CauchyReedSolomon();
  const blockBytes = o.blockBytes ?? 256;
  const sliceBlocks = o.sliceBlocks ?? 64;
  const stripes = o.stripes ?? 1;
  const image = randomImage(o.imageBytes, o.seed);
  const latency = o.latencyMs ?? 0.2;
  const jitter = o.jitterMs ?? 0;
  const maxSteps = o.maxSteps ?? 5_000_000;
  const maxTimeMs = o.maxTimeMs ?? 600_000;
  let now = 0;

  const sender = new SenderCore(
    Object.freeze({
      sessionId: 0x1234abcd,
      blockBytes,
      sliceBlocks,
      stripes,
      redundancy: o.redundancy ?? 0,
      async: o.async ?? false,
      carouselPasses: o.carousel ?? 1,
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
      maxReceivers: 4096,
      retriesUntilDrop: 20,
      maxBitrateBps: undefined,
      helloIntervalMs: 50,
      reqackIntervalMs: 20,
      endIntervalMs: 50,
      nakHoldMs: 12,
      windowPacketsMax: 4096,
      coder,
      ...o.sender,
    }),
    now,
  );

  const rcvs = Array.from({ length: o.receivers }, (_, i) => {
    const core = new ReceiverCore(
      Object.freeze({
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
        ...o.receiver,
      }),
      now,
    );
    return {
      index: i,
      core,
      address: `198.18.0.${11 + (i % 200)}`,
      chunks: [] as Uint8Array[],
      offsets: [] as number[],
      hash: createHash('sha256'),
      written: 0,
      queue: [] as Uint8Array[],
      sinkBusyUntil: 0,
      done: false,
      ok: false,
      detail: '',
      dead: false,
      /** Not up yet (o.join). */
      absentUntil: o.join?.get(i) ?? 0,
      /** Joined late: slices are written at their offsets here, and hashed from it at the end. */
      joinSlice: 0,
      out: undefined as Uint8Array | undefined,
      lossBad: false,
      complete: undefined as { totalBytes: number; digest: Uint8Array } | undefined,
      nextAt: 0,
    };
  });

  const heap = new EventHeap<Pending>();
  let seq = 0;
  let linkFreeAt = 0;
  const naksPerSlice = new Map<number, number>();
  const nakLog: { atMs: number; receiver: number; sliceNo: number; need: number }[] = []; // UNBOUNDED: one run's NAKs, for test output
  const senderEvents: SenderEvent[] = [];

  const lost = (r: (typeof rcvs)[number]): boolean => {
    const l = o.loss;
    if (l === undefined || l.rate <= 0) return false;
    if (l.burst === undefined || l.burst <= 1) return rnd() < l.rate;
    // Gilbert-Elliott with all-loss bad state: P(bad->good) = 1/burst, stationary bad share = rate.
    const pBG = 1 / l.burst;
    const pGB = (l.rate * pBG) / (1 - l.rate);
    r.lossBad = r.lossBad ? rnd() >= pBG : rnd() < pGB;
    return r.lossBad;
  };

  const deliverTo = (to: number, from: string, bytes: Uint8Array): void => {
    const copies = o.duplicate !== undefined && rnd() < o.duplicate ? 2 : 1;
    for (let c = 0; c < copies; c++) {
      heap.push({ at: now + latency + rnd() * jitter, seq: seq++, to, from, bytes });
    }
  };

  const pumpSender = (): void => {
    for (let ev = sender.pollEvent(); ev; ev = sender.pollEvent()) senderEvents.push(ev);
    // --streaming: a late receiver's head, read again from the image.
    for (let n = sender.pollReload(); n !== undefined; n = sender.pollReload()) {
      const full = fullSliceBytes({ blockBytes, sliceBlocks, stripes, imageBytes: 0 });
      sender.handle({ kind: 'reload', sliceNo: n, bytes: image.slice(n * full, Math.min(o.imageBytes, (n + 1) * full)) }, now);
    }
    const full = fullSliceBytes({ blockBytes, sliceBlocks, stripes, imageBytes: 0 });
    while (sender.wantsSlice()) {
      if (sender.pass > 1) {
        // A later pass of a carousel: the slice at its offset, as the driver reads it.
        const off = sender.nextSliceNo * full;
        sender.handle({ kind: 'slice', bytes: image.subarray(off, Math.min(o.imageBytes, off + full)) }, now);
        continue;
      }
      if (fed >= o.imageBytes) break;
      const n = Math.min(full, o.imageBytes - fed);
      sender.handle({ kind: 'slice', bytes: image.subarray(fed, fed + n) }, now);
      fed += n;
    }
    if (fed === o.imageBytes && !eofSent && sender.currentPhase !== 'announcing') {
      eofSent = true;
      sender.handle({ kind: 'eof', digest: createHash('sha256').update(image).digest() }, now);
    }
    while (now >= linkFreeAt || o.linkRateBps === undefined) {
      const t = sender.pollTransmit(now);
      if (t === undefined) break;
      const bytes = concat(t.parts);
      o.onSenderTransmit?.(now, bytes, sender);
      if (o.linkRateBps !== undefined) linkFreeAt = Math.max(linkFreeAt, now) + ((bytes.byteLength + 28) * 8) / (o.linkRateBps / 1000);
      const data = t.to === 'data' && o.dropData !== undefined ? decodeData(bytes) : undefined;
      for (const r of rcvs) {
        if (r.dead || now < r.absentUntil) continue;
        if (t.to === 'data' && lost(r)) continue;
        if (data?.ok && o.dropData!(r.index, data.value)) continue;
        if (t.to === 'control' && o.loss !== undefined && rnd() < o.loss.rate) continue;
        deliverTo(r.index, '198.18.0.1', bytes);
      }
    }
    for (let ev = sender.pollEvent(); ev; ev = sender.pollEvent()) senderEvents.push(ev);
  };
  let fed = 0;
  let eofSent = false;

  const pumpReceiver = (r: (typeof rcvs)[number]): void => {
    if (r.dead) return;
    for (let ev = r.core.pollEvent(); ev; ev = r.core.pollEvent()) onReceiverEvent(r, ev);
    for (let b = r.core.pollTransmit(); b; b = r.core.pollTransmit()) {
      const h = decodeHeader(b);
      if (h.ok && h.value.type === MessageType.Nak) {
        const sliceNo = new DataView(b.buffer, b.byteOffset).getUint32(12, false);
        naksPerSlice.set(sliceNo, (naksPerSlice.get(sliceNo) ?? 0) + 1);
        nakLog.push({ atMs: now, receiver: r.index, sliceNo, need: b[18] });
      }
      if (o.feedbackLoss === undefined || rnd() >= o.feedbackLoss) deliverTo(-1, r.address, b);
      // The rendezvous group carries it to the other receivers too. They act only on NAKs
      // (suppression; the core drops other receivers' JOIN/STATUS/REPORT/LEAVE at once), so
      // only NAKs are simulated: the rest would cost N^2 events and change nothing.
      if (!(h.ok && h.value.type === MessageType.Nak)) continue;
      for (const other of rcvs) {
        if (other === r || other.dead || now < other.absentUntil) continue;
        if (o.feedbackLoss !== undefined && rnd() < o.feedbackLoss) continue;
        deliverTo(other.index, r.address, b);
      }
    }
  };

  const onReceiverEvent = (r: (typeof rcvs)[number], ev: ReceiverEvent): void => {
    switch (ev.kind) {
      case 'accepted':
        r.joinSlice = ev.joinSlice;
        break;
      case 'deliver':
        r.queue.push(ev.bytes);
        r.offsets.push(ev.offset);
        break;
      case 'complete':
        // As a driver does: verify once the sink has written everything delivered.
        r.complete = ev;
        break;
      case 'done':
        r.done = true;
        r.ok = ev.ok;
        r.detail = ev.detail;
        break;
      default:
        break;
    }
  };

  /** Moves delivered slices into the image at the sink's speed. */
  const drainSink = (r: (typeof rcvs)[number]): void => {
    while (r.queue.length > 0 && !r.dead) {
      const speed = o.sinkBytesPerMs?.(r.index);
      if (speed !== undefined && now < r.sinkBusyUntil) return;
      const b = r.queue.shift()!;
      const offset = r.offsets.shift()!;
      if (speed !== undefined) r.sinkBusyUntil = now + b.byteLength / speed;
      if (r.joinSlice > 0) {
        r.out ??= new Uint8Array(o.imageBytes);
        r.out.set(b, offset);
      } else {
        r.chunks.push(b.slice());
        r.hash.update(b);
      }
      r.written += b.byteLength;
      r.core.handle({ kind: 'written', slices: 1, bytes: b.byteLength }, now);
      pumpReceiver(r);
    }
    const c = r.complete;
    if (c !== undefined && r.queue.length === 0 && !r.dead) {
      r.complete = undefined;
      // Late: hash the image as written, in order (the driver reads it back from the disk).
      const digest = r.joinSlice > 0 ? createHash('sha256').update(r.out!.subarray(0, c.totalBytes)).digest() : r.hash.digest();
      const ok = Buffer.compare(digest, Buffer.from(c.digest)) === 0 && r.written === c.totalBytes;
      r.core.handle({ kind: 'verified', ok, digest, reason: ok ? 0 : 1, detail: ok ? '' : 'digest mismatch' }, now);
      pumpReceiver(r);
    }
  };

  let steps = 0;
  /** Receivers whose next wake-up may have changed this step (the rest keep a cached one). */
  const touched = new Set<(typeof rcvs)[number]>();
  pumpSender();
  for (const r of rcvs) {
    pumpReceiver(r);
    r.nextAt = r.core.pollTimeout() ?? Infinity;
  }
  while (steps++ < maxSteps) {
    if (sender.currentPhase === 'done' && rcvs.every((r) => r.done || r.dead)) break;
    // Next moment anything happens.
    let next = heap.peek()?.at ?? Infinity;
    const st = sender.pollTimeout();
    if (st !== undefined) next = Math.min(next, st);
    if (o.linkRateBps !== undefined && linkFreeAt > now) next = Math.min(next, linkFreeAt);
    for (const r of rcvs) {
      if (r.dead) continue;
      if (now < r.absentUntil) {
        next = Math.min(next, r.absentUntil);
        continue;
      }
      if (r.nextAt < next) next = r.nextAt;
    }
    if (o.kill) for (const [i, at] of o.kill) if (!rcvs[i].dead && at > now) next = Math.min(next, at);
    if (next === Infinity) break;
    now = Math.max(now, next);
    if (now > maxTimeMs) break;
    if (o.kill) for (const [i, at] of o.kill) if (now >= at) rcvs[i].dead = true;

    while ((heap.peek()?.at ?? Infinity) <= now) {
      const p = heap.pop()!;
      if (p.to === -1) {
        sender.handle({ kind: 'datagram', from: { address: p.from, port: 9001 }, bytes: p.bytes }, now);
      } else {
        const r = rcvs[p.to];
        if (r.dead || now < r.absentUntil) continue;
        r.core.handle({ kind: 'datagram', from: { address: p.from, port: 9001 }, bytes: p.bytes }, now);
        pumpReceiver(r);
        drainSink(r);
        touched.add(r);
      }
    }
    const t = sender.pollTimeout();
    if (t !== undefined && t <= now) sender.handleTimeout(now);
    pumpSender();
    for (const r of rcvs) {
      if (r.dead || now < r.absentUntil || (r.nextAt > now && !touched.has(r))) continue;
      const rt = r.core.pollTimeout();
      if (rt !== undefined && rt <= now) r.core.handleTimeout(now);
      drainSink(r);
      pumpReceiver(r);
      touched.add(r);
    }
    pumpSender();
    for (const r of touched) {
      const t = r.core.pollTimeout() ?? Infinity;
      r.nextAt = r.queue.length > 0 ? Math.min(t, Math.max(now, r.sinkBusyUntil)) : t;
    }
    touched.clear();
  }

  const full = fullSliceBytes({ blockBytes, sliceBlocks, stripes, imageBytes: 0 });
  return {
    image,
    sender,
    senderEvents,
    receivers: rcvs.map((r) => ({
      index: r.index,
      id: 0x100 + r.index,
      done: r.done,
      ok: r.ok,
      detail: r.detail,
      image: r.joinSlice > 0 ? (r.out ?? new Uint8Array(0)) : concat(r.chunks),
      joinSlice: r.joinSlice,
      core: r.core,
    })),
    timeMs: now,
    steps,
    naksPerSlice,
    nakLog,
    totalSlices: Math.ceil(o.imageBytes / full),
    seed: o.seed,
  };
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0];
  let n = 0;
  for (const p of parts) n += p.byteLength;
  const out = new Uint8Array(n);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.byteLength;
  }
  return out;
}
