// A small deterministic simulator for the udpcast sender core against modelled stock
// receivers (stock-receiver.ts): virtual time, per-receiver seeded loss on the data path and
// on feedback, latency, receivers that die or start late, and a step bound. The seed is in
// every failure message. (test/support/simnet.ts drives rackcast's own cores; udpcast's
// addressing — group, unicast, rendezvous — and its receiver model fit it badly.)

import { createHash } from 'node:crypto';
import { tsUdpcastParityCoder } from '../../../protocol/udpcast/fec-code.js';
import { type UdpcastSenderConfig, UdpcastSenderCore, type UdpcastSenderEvent, type UdpcastTransmit } from '../../../sender/udpcast/core.js';
import { EventHeap } from '../../support/event-heap.js';
import { mulberry32 } from '../../support/prng.js';
import { StockReceiverModel, type Via } from './stock-receiver.js';

export const SIM_SENDER = '198.18.0.1';
export const SIM_GROUP = '239.18.0.1';

export interface UdpcastSimOptions {
  readonly receivers: number;
  readonly imageBytes: number;
  readonly seed: number;
  /** Loss per datagram on the way to each receiver. */
  readonly loss?: number;
  readonly feedbackLoss?: number;
  readonly latencyMs?: number;
  readonly blockBytes?: number;
  readonly sliceBlocks?: number;
  readonly fec?: { readonly stripes: number; readonly redundancy: number };
  readonly parityRepair?: boolean;
  /** Receiver index → virtual time it stops dead (SIGKILL: no DISCONNECT). */
  readonly kill?: ReadonlyMap<number, number>;
  readonly sender?: Partial<UdpcastSenderConfig>;
  readonly maxSteps?: number;
  readonly maxTimeMs?: number;
  /** Sees every datagram the sender sends. */
  readonly onTransmit?: (t: UdpcastTransmit, atMs: number) => void;
}

export interface UdpcastSimResult {
  readonly image: Uint8Array;
  readonly sender: UdpcastSenderCore;
  readonly events: UdpcastSenderEvent[];
  readonly receivers: StockReceiverModel[];
  readonly timeMs: number;
  readonly steps: number;
  readonly seed: number;
}

interface Pending {
  readonly at: number;
  readonly seq: number;
  /** -1: the sender; else a receiver index. */
  readonly to: number;
  readonly from: string;
  readonly via: Via;
  readonly bytes: Uint8Array;
}

export function simImage(bytes: number, seed: number): Uint8Array {
  const r = mulberry32(seed ^ 0x1ea5e);
  const out = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) out[i] = (r() * 256) | 0;
  return out;
}

export function sha(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

export function simConfig(o: Pick<UdpcastSimOptions, 'receivers' | 'blockBytes' | 'sliceBlocks' | 'fec' | 'parityRepair' | 'sender'>): UdpcastSenderConfig {
  return {
    blockBytes: o.blockBytes ?? 256,
    sliceBlocks: o.sliceBlocks ?? 64,
    fec: o.fec,
    parityRepair: o.parityRepair ?? true,
    coder: tsUdpcastParityCoder,
    dataGroup: SIM_GROUP,
    pointToPoint: 'never',
    maxInFlightSlices: 2,
    minReceivers: o.receivers,
    minWaitMs: 0,
    maxWaitMs: undefined,
    waitForKey: false,
    startGraceMs: 50,
    helloIntervalMs: 1000,
    retriesUntilDrop: 40,
    roundMinMs: 5,
    roundMaxMs: 200,
    reqackCopies: 2,
    reqackRepeatMinMs: 2,
    pacing: { startRateBps: 400e6, minRateBps: 10e6, maxRateBps: 2e9, burstBytes: 32 * 1500, fixed: false },
    ...o.sender,
  };
}

export function simulateUdpcast(o: UdpcastSimOptions): UdpcastSimResult {
  const rnd = mulberry32(o.seed);
  const cfg = Object.freeze(simConfig(o));
  const image = simImage(o.imageBytes, o.seed);
  const latency = o.latencyMs ?? 0.2;
  const maxSteps = o.maxSteps ?? 2_000_000;
  const maxTimeMs = o.maxTimeMs ?? 600_000;
  const addr = (i: number): string => `198.18.0.${11 + i}`;
  const receivers = Array.from({ length: o.receivers }, (_, i) => new StockReceiverModel(addr(i)));
  const heap = new EventHeap<Pending>();
  let seq = 0;
  let now = 0;
  const sender = new UdpcastSenderCore(cfg, now);
  const events: UdpcastSenderEvent[] = [];
  let offset = 0;
  let eofSent = false;
  const dead = (i: number): boolean => {
    const atMs = o.kill?.get(i);
    return atMs !== undefined && now >= atMs;
  };

  const fromReceivers = (): void => {
    receivers.forEach((r, i) => {
      for (const out of r.out.splice(0)) {
        if (dead(i)) continue;
        if (o.feedbackLoss !== undefined && rnd() < o.feedbackLoss) continue;
        if (out.to === 'rendezvous' && now === 0) continue; // before the sender is up, as in the field
        heap.push({ at: now + latency, seq: seq++, to: -1, from: r.address, via: 'unicast', bytes: out.bytes });
      }
    });
  };
  const deliver = (t: UdpcastTransmit): void => {
    const bytes = concat(t.parts);
    o.onTransmit?.(t, now);
    receivers.forEach((r, i) => {
      let via: Via;
      if (t.to === 'rendezvous') via = 'rendezvous';
      else if (t.to === cfg.dataGroup) via = 'group';
      else if (t.to === r.address) via = 'unicast';
      else return;
      if (o.loss !== undefined && rnd() < o.loss) return;
      heap.push({ at: now + latency, seq: seq++, to: i, from: SIM_SENDER, via, bytes });
    });
  };

  for (const r of receivers) r.start();
  fromReceivers();
  let steps = 0;
  for (; steps < maxSteps; steps++) {
    // The driver's turn: source, transmits, events.
    if (sender.wantsSlice() && !eofSent) {
      if (offset < image.byteLength) {
        const n = Math.min(sender.sliceBytes, image.byteLength - offset);
        sender.handle({ kind: 'slice', bytes: image.subarray(offset, offset + n) }, now);
        offset += n;
      } else {
        eofSent = true;
        sender.handle({ kind: 'eof' }, now);
      }
    }
    for (let t = sender.pollTransmit(now); t !== undefined; t = sender.pollTransmit(now)) deliver(t);
    for (let e = sender.pollEvent(); e !== undefined; e = sender.pollEvent()) events.push(e);
    if (sender.phase === 'done' && receivers.every((r, i) => r.finished || dead(i))) break;
    if (sender.wantsSlice() && !eofSent) continue;
    // Next moment anything happens.
    let next = heap.peek()?.at ?? Infinity;
    const st = sender.pollTimeout();
    if (st !== undefined) next = Math.min(next, Math.max(st, now));
    for (const r of receivers) {
      const rt = r.nextTimeoutMs();
      if (rt !== undefined) next = Math.min(next, rt);
    }
    if (next === Infinity) break;
    if (next > maxTimeMs) throw new Error(`udpcast sim (seed 0x${o.seed.toString(16)}): past ${maxTimeMs} ms virtual time, phase ${sender.phase}`);
    now = Math.max(now, next);
    while (heap.size > 0 && heap.peek()!.at <= now) {
      const p = heap.pop()!;
      if (p.to === -1) sender.handle({ kind: 'datagram', from: { address: p.from, port: 9000 }, bytes: p.bytes }, now);
      else if (!dead(p.to)) receivers[p.to]!.receive(p.from, p.via, p.bytes, now);
    }
    for (const r of receivers) r.tick(now);
    fromReceivers();
    const st2 = sender.pollTimeout();
    if (st2 !== undefined && st2 <= now) sender.handleTimeout(now);
  }
  if (steps >= maxSteps) throw new Error(`udpcast sim (seed 0x${o.seed.toString(16)}): ${maxSteps} steps without finishing, phase ${sender.phase}`);
  for (let e = sender.pollEvent(); e !== undefined; e = sender.pollEvent()) events.push(e);
  return { image, sender, events, receivers, timeMs: now, steps, seed: o.seed };
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const n = parts.reduce((a, p) => a + p.byteLength, 0);
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.byteLength;
  }
  return out;
}
