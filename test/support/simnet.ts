// Why one file of ~580 lines: SimNet's step loop, the pumps that drain each core and the
// checks made on every step share the datagrams in flight and the virtual clock. The one
// part that could move out is SimReceiver (a receiver's sink, its copy and its digest,
// about 100 lines).
//
// The one simulated network every multi-receiver test drives: the real SenderCore and
// ReceiverCores on a virtual clock, fed and drained as their drivers do it, and a wire
// between them (per-receiver loss, latency, jitter, duplication, a sender link rate) that
// the scenario describes. Everything random comes from generators the scenario hands in,
// so a seed replays a run exactly; every run has a step and a virtual-time bound.
//
// One step, as a driver's event loop runs it: at the next moment anything is due, the
// sender's and then each receiver's due timer fires, then every datagram due by then is
// delivered; each core is drained (events, transmits) right after it was handled, and the
// sender once more at the end (pacing may have released a packet). Timers go first as in
// Node's event loop, which runs due timers before it polls the sockets.
//
// Checked on every run; the first that breaks goes to the scenario's fail():
// - no core throws on a datagram, a timeout or a poll;
// - no core spins: right after it was handled at `now` and drained, its pollTimeout() is
//   undefined or later than `now` (a deadline at or before `now` would make its driver
//   run again at once, forever);
// - a Transmit's `bytes` is the length of its parts, and a core's events and transmits
//   run dry.
//
// Scenarios on top of it: ./simulate.ts (a transfer under seeded loss, with dead, late
// and slow receivers) and ./fuzz/transfer.ts (a transfer under hostile traffic that the
// scenario injects, with its own invariants around every delivery).

import { createHash } from 'node:crypto';
import { type PlacementTable, PlaceResult, placeDatagram, RECORD_WORDS } from '../../common/udp/placement.js';
import { fullSliceBytes } from '../../protocol/geometry.js';
import { decodeHeader, MessageType } from '../../protocol/header.js';
import { parseIpv4 } from '../../protocol/ipv4.js';
import { NAK_HEADER_SIZE } from '../../protocol/messages/nak.js';
import { type ReceiverConfig, ReceiverCore, type ReceiverEvent } from '../../receiver/core.js';
import { type SenderConfig, SenderCore, type SenderEvent } from '../../sender/core.js';
import { concat } from './bytes.js';
import { EventHeap } from './event-heap.js';

export const SENDER_ADDRESS = '198.18.0.1';
/** The source port of the sender's datagrams and of injected ones (the cores take it from the address book, not from here). */
const PORT = 9001;
/**
 * Receiver i sends from port RECEIVER_PORT_BASE + i, so each has an endpoint of its own
 * (addresses repeat past 200 receivers) and what the sender answers it alone (ACCEPT,
 * REPORT_ACK) reaches it alone.
 */
export const RECEIVER_PORT_BASE = 10_000;
/** The sender where a receiver's index could be (Flight.to, SimHooks.onSend's `from`). */
export const SENDER_INDEX = -1;
/** A core whose events and transmits do not run dry in this many rounds is broken. */
const MAX_PUMP_ROUNDS = 1000;

export interface Flight {
  readonly at: number;
  readonly seq: number;
  /** SENDER_INDEX, or a receiver's index. */
  readonly to: number;
  readonly from: string;
  readonly fromPort: number;
  readonly bytes: Uint8Array;
  /** Injected by the scenario, not sent by a core. */
  readonly hostile: boolean;
}

/** What happens to datagrams on the way: the scenario's loss model draws from its own generators. */
export interface Wire {
  readonly latencyMs: number;
  /** A datagram is delayed by up to this much more (uniform): reordering. */
  readonly jitterMs: number;
  /** Probability that a core's datagram arrives twice (undefined: never, and nothing is drawn). */
  readonly duplicate?: number;
  /** Is the sender's datagram on `channel` lost on its way to receiver `index`? */
  downLost(index: number, channel: 'data' | 'control', bytes: Uint8Array): boolean;
  /** Is receiver `index`'s datagram lost on its way to the sender? */
  upLost(index: number): boolean;
  /** Is receiver `from`'s datagram lost on its way to receiver `to` (the rendezvous group)? */
  peerLost(from: number, to: number): boolean;
}

export interface SimReceiverSpec {
  readonly config: Readonly<ReceiverConfig>;
  readonly address: string;
  /** Comes up only at this virtual time (a restarted node): hears nothing before. */
  readonly upAtMs?: number;
  /** Stops dead at this virtual time. */
  readonly diesAtMs?: number;
  /** Its disk writes this many bytes per ms; undefined: a slice is written as it is delivered. */
  readonly sinkBytesPerMs?: number;
  /** Its disk writes nothing from the first virtual time to the second (a stall); needs sinkBytesPerMs. */
  readonly sinkStall?: readonly [number, number];
  /**
   * Its slice memory (config.sliceMemory must be the same table): every datagram goes through
   * the TS placement first, as on the drivers' data socket (common/udp/placement.ts), and a DATA
   * block of an open slice reaches the core as a 'placed' record; a written slice's memory is
   * released to the table.
   */
  readonly placement?: PlacementTable;
}

/** How a scenario watches the run and adds traffic of its own. */
export interface SimHooks {
  /** Every datagram a core puts on the wire, before the wire sees it (from: SENDER_INDEX or a receiver's index). */
  onSend?(from: number, bytes: Uint8Array): void;
  /** After each datagram a core sent was handed to the wire: the moment to inject(). */
  afterSend?(): void;
  /** Every datagram as it arrives, delivered or not (a receiver that is gone drops it). */
  onArrive?(f: Flight): void;
  /** Around each delivery: `handle` feeds the datagram to its core, checks may surround it. */
  deliver?(f: Flight, handle: () => void): void;
}

export interface SimNetOptions {
  readonly sender: Readonly<SenderConfig>;
  readonly receivers: readonly SimReceiverSpec[];
  readonly image: Uint8Array;
  readonly wire: Wire;
  /** The generator for the jitter and duplication of the cores' own datagrams. */
  readonly random: () => number;
  /**
   * What the other receivers hear of a receiver's datagrams. 'naks' is what the protocol
   * sends them (NAKs go to the rendezvous group; STATUS, JOIN, REPORT and LEAVE go to the
   * sender alone); 'all' also copies the rest to them, as a stray path for hostile
   * scenarios.
   */
  readonly peerTraffic: 'all' | 'naks';
  /** The sender's link: a datagram occupies it for its size (plus 28 bytes of IP/UDP) at this rate. */
  readonly linkRateBps?: number;
  readonly maxSteps: number;
  readonly maxTimeMs: number;
  readonly hooks?: SimHooks;
  /** Raises a broken invariant (default: throws SimViolation). Must throw. */
  readonly fail?: (message: string) => never;
  /**
   * false: receivers keep no copy of the image (thousands of receivers would need
   * gigabytes): each slice they write is compared with the image at its offset, and a
   * receiver verifies only if every byte matched and every byte came. Default true.
   */
  readonly keepImages?: boolean;
}

/** How run() ended: everyone done, nothing left to happen, or a bound hit. */
export type SimEnd = 'finished' | 'idle' | 'time' | 'steps';

export class SimViolation extends Error {
  override name = 'SimViolation';
}

export class SimReceiver {
  readonly id: number;
  readonly address: string;
  readonly core: ReceiverCore;
  readonly upAtMs: number;
  readonly diesAtMs: number;
  readonly sinkBytesPerMs: number | undefined;
  readonly sinkStall: readonly [number, number] | undefined;
  readonly placement: PlacementTable | undefined;
  /** With placement: DATA it took as placed records. */
  placed = 0;
  /** DATA sent while its core did not want the data group (dataWanted: it had left it, as its driver does). */
  dataNotDelivered = 0;
  /** The session and sender it chose (undefined while it listens). */
  session: { readonly id: number; readonly sender: string } | undefined;
  /** > 0: accepted late, at this slice; slices are then written at their offsets. */
  joinSlice = 0;
  done = false;
  /** When it ended (virtual ms). */
  doneAtMs = Infinity;
  ok = false;
  detail = '';
  dead = false;
  /** Bytes handed to its disk. */
  written = 0;
  /** Its pollTimeout(), as of the last time it was drained (Infinity: none). */
  coreAt = Infinity;
  /** Written in order (joinSlice 0). */
  readonly chunks: Uint8Array[] = []; // UNBOUNDED: the image, kept to compare
  /** Without kept images (SimNetOptions.keepImages): every slice written so far matched the image. */
  matched = true;
  private readonly hash = createHash('sha256');
  /** Written at offsets (joined late): grows as a file does. */
  private out = new Uint8Array(0);
  private outBytes = 0;
  /** Delivered, not yet written by a slow disk. */
  readonly queue: { readonly offset: number; readonly bytes: Uint8Array }[] = []; // bounded by the core's maxQueuedSlices
  sinkBusyUntil = 0;
  /** The 'complete' event, waiting for a slow disk to catch up. */
  complete: { readonly totalBytes: number; readonly digest: Uint8Array } | undefined;

  constructor(
    readonly index: number,
    spec: SimReceiverSpec,
    now: number,
    private readonly reference?: Uint8Array,
  ) {
    this.core = new ReceiverCore(spec.config, now);
    this.id = spec.config.receiverId;
    this.address = spec.address;
    this.upAtMs = spec.upAtMs ?? 0;
    this.diesAtMs = spec.diesAtMs ?? Infinity;
    this.sinkBytesPerMs = spec.sinkBytesPerMs;
    this.sinkStall = spec.sinkStall;
    this.placement = spec.placement;
  }

  /** Writes a delivered slice (copying it), and gives its memory back to the slice memory. */
  write(offset: number, bytes: Uint8Array): void {
    this.store(offset, bytes);
    this.placement?.release(bytes);
  }

  private store(offset: number, bytes: Uint8Array): void {
    if (this.reference !== undefined) {
      const want = this.reference.subarray(offset, offset + bytes.byteLength);
      if (want.byteLength !== bytes.byteLength || Buffer.compare(asBuffer(want), asBuffer(bytes)) !== 0) this.matched = false;
    } else if (this.joinSlice > 0) {
      const end = offset + bytes.byteLength;
      if (end > this.out.byteLength) {
        const grown = new Uint8Array(Math.max(end, this.out.byteLength * 2));
        grown.set(this.out.subarray(0, this.outBytes));
        this.out = grown;
      }
      this.out.set(bytes, offset);
      this.outBytes = Math.max(this.outBytes, end);
    } else {
      this.chunks.push(bytes.slice());
      this.hash.update(bytes);
    }
    this.written += bytes.byteLength;
  }

  /**
   * The digest of what it wrote, as its driver takes it (joined late: read back from the
   * disk). Without kept images: `expected` if every byte matched, else zeros.
   */
  digest(totalBytes: number, expected: Uint8Array): Buffer {
    if (this.reference !== undefined) return this.matched ? Buffer.from(expected) : Buffer.alloc(32);
    if (this.joinSlice > 0)
      return createHash('sha256')
        .update(this.out.subarray(0, Math.min(totalBytes, this.outBytes)))
        .digest();
    return this.hash.copy().digest();
  }

  /** What it wrote, in image order. */
  image(): Uint8Array {
    return this.joinSlice > 0 ? this.out.slice(0, this.outBytes) : concat(this.chunks);
  }
}

export class SimNet {
  /** The record a placed DATA is handed to a core in (read during the call only). */
  private readonly record = new Uint32Array(RECORD_WORDS);
  readonly sender: SenderCore;
  readonly receivers: readonly SimReceiver[];
  /** Every event the sender emitted, in order. */
  readonly senderEvents: SenderEvent[] = []; // UNBOUNDED: one run's events, for the test
  /** When each of senderEvents came out (virtual ms), index for index. */
  readonly senderEventsAt: number[] = []; // UNBOUNDED: as senderEvents
  /** When the sender was done (every receiver resolved); undefined until then. */
  senderDoneAtMs: number | undefined;
  /** NAK datagrams sent per slice number (all receivers together). */
  readonly naksPerSlice = new Map<number, number>(); // UNBOUNDED: one entry per slice at most
  /** Every NAK sent: when, by whom, for which slice, and the first stripe's need. */
  readonly nakLog: { atMs: number; receiver: number; sliceNo: number; need: number }[] = []; // UNBOUNDED: one run's NAKs
  now = 0;
  steps = 0;
  private readonly heap = new EventHeap<Flight>(); // bounded by the step bound
  private seq = 0;
  private linkFreeAt = 0;
  private fed = 0;
  private eofSent = false;
  private started = false;
  private readonly fullSliceBytes: number;
  private readonly hooks: SimHooks;
  private readonly fail: (message: string) => never;

  constructor(private readonly o: SimNetOptions) {
    this.hooks = o.hooks ?? {};
    this.fail =
      o.fail ??
      ((message: string): never => {
        throw new SimViolation(message);
      });
    this.sender = new SenderCore(o.sender, this.now);
    const reference = o.keepImages === false ? o.image : undefined;
    this.receivers = o.receivers.map((spec, i) => new SimReceiver(i, spec, this.now, reference));
    this.fullSliceBytes = fullSliceBytes({ ...o.sender, imageBytes: 0 });
  }

  /** Puts a datagram of the scenario's on the wire, `extraMs` late, its jitter drawn from `random`. */
  inject(to: number, from: string, bytes: Uint8Array, extraMs: number, random: () => number): void {
    this.heap.push({
      at: this.now + this.o.wire.latencyMs + extraMs + random() * this.o.wire.jitterMs,
      seq: this.seq++,
      to,
      from,
      fromPort: PORT,
      bytes,
      hostile: true,
    });
  }

  /** Not up yet, dead, or done: hears and sends nothing. */
  gone(r: SimReceiver): boolean {
    return r.dead || r.done || this.now < r.upAtMs;
  }

  finished(): boolean {
    return this.sender.currentPhase === 'done' && this.receivers.every((r) => r.done || r.dead);
  }

  /** Runs until everyone is done or a bound is hit. */
  run(): SimEnd {
    if (!this.started) {
      this.started = true;
      this.pumpSender(false);
      for (const r of this.receivers) {
        if (this.now < r.upAtMs) r.coreAt = r.core.pollTimeout() ?? Infinity;
        else this.pumpReceiver(r);
      }
    }
    const { maxSteps, maxTimeMs, linkRateBps } = this.o;
    while (!this.finished()) {
      if (++this.steps > maxSteps) return 'steps';
      let next = this.heap.peek()?.at ?? Infinity;
      const st = this.sender.pollTimeout();
      if (st !== undefined) next = Math.min(next, st);
      if (linkRateBps !== undefined && this.linkFreeAt > this.now) next = Math.min(next, this.linkFreeAt);
      for (const r of this.receivers) {
        if (r.dead || r.done) continue;
        if (this.now < r.upAtMs) {
          next = Math.min(next, r.upAtMs);
          continue;
        }
        next = Math.min(next, r.coreAt, r.diesAtMs);
        if (r.queue.length > 0) next = Math.min(next, Math.max(this.now, r.sinkBusyUntil));
      }
      if (next === Infinity) return 'idle';
      this.now = Math.max(this.now, next);
      if (this.now > maxTimeMs) return 'time';
      for (const r of this.receivers) if (this.now >= r.diesAtMs) r.dead = true;

      const t = this.sender.pollTimeout();
      if (t !== undefined && t <= this.now) {
        this.guard('sender.handleTimeout', () => this.sender.handleTimeout(this.now));
        this.pumpSender();
      }
      for (const r of this.receivers) {
        if (this.gone(r)) continue;
        const due = r.coreAt <= this.now;
        if (!due && !(r.queue.length > 0 && r.sinkBusyUntil <= this.now)) continue;
        if (due) this.guard(`receiver ${r.index}.handleTimeout`, () => r.core.handleTimeout(this.now));
        this.drainSink(r);
        this.pumpReceiver(r);
      }
      while ((this.heap.peek()?.at ?? Infinity) <= this.now) this.deliver(this.heap.pop()!);
      this.pumpSender();
    }
    return 'finished';
  }

  private guard<T>(what: string, fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      if (e instanceof SimViolation) throw e;
      return this.fail(`${what} threw: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    }
  }

  private checkNoSpin(who: string, t: number | undefined): void {
    if (t !== undefined && !(t > this.now)) this.fail(`${who} spins: pollTimeout() = ${t} right after being handled at ${this.now}`);
    if (t !== undefined && Number.isNaN(t)) this.fail(`${who}: pollTimeout() is NaN`);
  }

  /** A core's datagram onto the wire (duplicated and delayed as the wire says). */
  private send(to: number, from: string, bytes: Uint8Array, fromPort = PORT): void {
    const w = this.o.wire;
    const copies = w.duplicate !== undefined && this.o.random() < w.duplicate ? 2 : 1;
    for (let c = 0; c < copies; c++) {
      this.heap.push({ at: this.now + w.latencyMs + 0 + this.o.random() * w.jitterMs, seq: this.seq++, to, from, fromPort, bytes, hostile: false });
    }
  }

  private senderEvent(ev: SenderEvent): void {
    this.senderEvents.push(ev);
    this.senderEventsAt.push(this.now);
    if (ev.kind === 'done') this.senderDoneAtMs = this.now;
  }

  /** `handled`: the sender was just handled (a fresh core's first deadline may be now). */
  private pumpSender(handled = true): void {
    const s = this.sender;
    const { image, linkRateBps } = this.o;
    this.guard('sender', () => {
      for (let ev = s.pollEvent(); ev; ev = s.pollEvent()) this.senderEvent(ev);
      // --streaming: a late receiver's head, read again from the image.
      for (let n = s.pollReload(); n !== undefined; n = s.pollReload()) {
        const full = this.fullSliceBytes;
        s.handle({ kind: 'reload', sliceNo: n, bytes: image.slice(n * full, Math.min(image.byteLength, (n + 1) * full)) }, this.now);
      }
      while (s.wantsSlice()) {
        if (s.pass > 1) {
          // A later pass of a carousel: the slice at its offset, as the driver reads it.
          const off = s.nextSliceNo * this.fullSliceBytes;
          s.handle({ kind: 'slice', bytes: image.subarray(off, Math.min(image.byteLength, off + this.fullSliceBytes)) }, this.now);
          continue;
        }
        if (this.fed >= image.byteLength) break;
        const n = Math.min(this.fullSliceBytes, image.byteLength - this.fed);
        s.handle({ kind: 'slice', bytes: image.subarray(this.fed, this.fed + n) }, this.now);
        this.fed += n;
      }
      if (this.fed === image.byteLength && !this.eofSent && s.currentPhase !== 'announcing') {
        this.eofSent = true;
        s.handle({ kind: 'eof', digest: createHash('sha256').update(image).digest() }, this.now);
      }
      for (;;) {
        if (linkRateBps !== undefined && this.now < this.linkFreeAt) break;
        const t = s.pollTransmit(this.now);
        if (t === undefined) break;
        const bytes = concat(t.parts);
        if (bytes.byteLength !== t.bytes) this.fail(`sender Transmit.bytes ${t.bytes} != ${bytes.byteLength}`);
        this.hooks.onSend?.(SENDER_INDEX, bytes);
        if (linkRateBps !== undefined) this.linkFreeAt = Math.max(this.linkFreeAt, this.now) + ((bytes.byteLength + 28) * 8) / (linkRateBps / 1000);
        // ACCEPT and REPORT_ACK go to one receiver's endpoint alone.
        const channel = t.to === 'data' ? 'data' : 'control';
        const only = typeof t.to === 'object' ? t.to.port - RECEIVER_PORT_BASE : undefined;
        for (const r of only === undefined ? this.receivers : this.receivers.slice(only, only + 1)) {
          if (this.gone(r) || this.o.wire.downLost(r.index, channel, bytes)) continue;
          // Out of the data group, as its driver leaves it: the kernel hands it no DATA.
          if (channel === 'data' && !r.core.dataWanted) {
            r.dataNotDelivered++;
            continue;
          }
          this.send(r.index, SENDER_ADDRESS, bytes);
        }
        this.hooks.afterSend?.();
      }
      for (let ev = s.pollEvent(); ev; ev = s.pollEvent()) this.senderEvent(ev);
    });
    // A busy link holds transmits back: the sender rightly wants to run again at once.
    const linkBusy = linkRateBps !== undefined && this.now < this.linkFreeAt;
    if (handled && !linkBusy)
      this.checkNoSpin(
        'sender',
        this.guard('sender.pollTimeout', () => s.pollTimeout()),
      );
  }

  private pumpReceiver(r: SimReceiver): void {
    if (this.gone(r)) return;
    this.guard(`receiver ${r.index}`, () => {
      for (let round = 0; round < MAX_PUMP_ROUNDS; round++) {
        let busy = false;
        for (let ev = r.core.pollEvent(); ev; ev = r.core.pollEvent()) {
          busy = true;
          this.onReceiverEvent(r, ev);
        }
        for (let t = r.core.pollTransmit(); t !== undefined; t = r.core.pollTransmit()) {
          busy = true;
          const b = t.bytes;
          const h = decodeHeader(b);
          if (h.ok && h.value.type === MessageType.Nak) {
            const sliceNo = new DataView(b.buffer, b.byteOffset).getUint32(12, false);
            this.naksPerSlice.set(sliceNo, (this.naksPerSlice.get(sliceNo) ?? 0) + 1);
            this.nakLog.push({ atMs: this.now, receiver: r.index, sliceNo, need: b[NAK_HEADER_SIZE]! });
          }
          this.hooks.onSend?.(r.index, b);
          const port = RECEIVER_PORT_BASE + r.index;
          if (!this.o.wire.upLost(r.index)) this.send(SENDER_INDEX, r.address, b, port);
          // The rendezvous group (NAKs) reaches the other receivers too; the rest is the sender's alone.
          if (t.to === 'group' || this.o.peerTraffic === 'all') {
            for (const other of this.receivers) {
              if (other === r || this.gone(other) || this.o.wire.peerLost(r.index, other.index)) continue;
              this.send(other.index, r.address, b, port);
            }
          }
          this.hooks.afterSend?.();
        }
        if (!busy) return;
      }
      this.fail(`receiver ${r.index}: events and transmits did not run dry in ${MAX_PUMP_ROUNDS} rounds`);
    });
    if (r.done) return;
    const t = this.guard('receiver.pollTimeout', () => r.core.pollTimeout());
    this.checkNoSpin(`receiver ${r.index} (${r.core.currentState})`, t);
    r.coreAt = t ?? Infinity;
  }

  private onReceiverEvent(r: SimReceiver, ev: ReceiverEvent): void {
    switch (ev.kind) {
      case 'session':
        r.session = { id: ev.sessionId, sender: ev.sender };
        break;
      case 'accepted':
        r.joinSlice = ev.joinSlice;
        break;
      case 'deliver':
        if (r.sinkBytesPerMs !== undefined) {
          r.queue.push({ offset: ev.offset, bytes: ev.bytes });
        } else {
          r.write(ev.offset, ev.bytes);
          r.core.handle({ kind: 'written', slices: 1, bytes: ev.bytes.byteLength }, this.now);
        }
        break;
      case 'complete':
        // As a driver does: verify once the disk has written everything delivered.
        if (r.queue.length === 0) this.verify(r, ev);
        else r.complete = ev;
        break;
      case 'done':
        r.done = true;
        r.doneAtMs = this.now;
        r.ok = ev.ok;
        r.detail = ev.detail;
        break;
      default:
        break;
    }
  }

  private verify(r: SimReceiver, c: { readonly totalBytes: number; readonly digest: Uint8Array }): void {
    const digest = r.digest(c.totalBytes, c.digest);
    const ok = Buffer.compare(digest, Buffer.from(c.digest)) === 0 && r.written === c.totalBytes;
    r.core.handle({ kind: 'verified', ok, digest, reason: ok ? 0 : 1, detail: ok ? '' : 'digest mismatch' }, this.now);
  }

  /** A slow disk: writes what was delivered at its speed. */
  private drainSink(r: SimReceiver): void {
    const speed = r.sinkBytesPerMs;
    if (speed === undefined) return;
    while (r.queue.length > 0 && !r.dead) {
      if (this.now < r.sinkBusyUntil) return;
      if (r.sinkStall !== undefined && this.now >= r.sinkStall[0] && this.now < r.sinkStall[1]) {
        r.sinkBusyUntil = r.sinkStall[1];
        return;
      }
      const { offset, bytes } = r.queue.shift()!;
      r.sinkBusyUntil = this.now + bytes.byteLength / speed;
      r.write(offset, bytes);
      this.guard(`receiver ${r.index}.handle`, () => r.core.handle({ kind: 'written', slices: 1, bytes: bytes.byteLength }, this.now));
      this.pumpReceiver(r);
    }
    const c = r.complete;
    if (c !== undefined && r.queue.length === 0 && !r.dead) {
      r.complete = undefined;
      this.guard(`receiver ${r.index}.handle`, () => this.verify(r, c));
      this.pumpReceiver(r);
    }
  }

  private deliver(f: Flight): void {
    this.hooks.onArrive?.(f);
    const from = { address: f.from, port: f.fromPort };
    if (f.to === SENDER_INDEX) {
      const handle = (): void => this.guard('sender.handle', () => this.sender.handle({ kind: 'datagram', from, bytes: f.bytes }, this.now));
      if (this.hooks.deliver) this.hooks.deliver(f, handle);
      else handle();
      this.pumpSender();
      return;
    }
    const r = this.receivers[f.to]!;
    if (this.gone(r)) return;
    const place = r.placement;
    const handle = (): void =>
      this.guard(`receiver ${r.index}.handle`, () => {
        const record = this.record;
        if (place !== undefined && placeDatagram(place.words, place.pool, f.bytes, parseIpv4(f.from) ?? 0, record, 0) === PlaceResult.Placed) {
          r.placed++;
          r.core.handle({ kind: 'placed', records: record, first: 0, count: 1 }, this.now);
        } else {
          r.core.handle({ kind: 'datagram', from, bytes: f.bytes }, this.now);
        }
      });
    if (this.hooks.deliver) this.hooks.deliver(f, handle);
    else handle();
    this.pumpReceiver(r);
    this.drainSink(r);
  }
}

function asBuffer(b: Uint8Array): Buffer {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}
