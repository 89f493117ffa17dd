// NAK -> repair: which repair datagrams a slice's stripes get, and in what order they go.
// A NAK says, per stripe, how many symbols the receiver still needs and the highest parity
// index it heard. The answer is fresh parity (any k symbols rebuild any k lost blocks, so
// one burst serves different losses at different receivers), or the stripe's own data
// blocks when a receiver has none of them. NAKs within nakHoldMs of a burst that did not
// hear it only top the burst up to the largest need (NORM-style suppression on the
// sender's side), unless the receiver had read DATA sent after the burst's last symbol
// (NAK's seenSeq): then it lost the whole burst, and gets a new one at once.
//
// What holds: each (slice, stripe) is in the queue at most once, in NAK order (the stripes
// of the slice at its head take turns, one datagram each), while it has parity queued or
// data blocks to resend; a stripe never has more than k queued; a stripe with data blocks
// to resend takes no parity until they went out. The queue is
// bounded by retainSlices * stripes for held slices (the reloaded ones share that bound),
// and an entry whose slice was freed is dropped when it reaches the head.

import { maxParity, stripeBlocks } from '../../protocol/geometry.js';
import { DATA_FLAG_FINAL_SLICE, DATA_FLAG_PARITY, DATA_FLAG_REPAIR } from '../../protocol/messages/data.js';
import type { Nak } from '../../protocol/messages/nak.js';
import { seqDiff } from '../../protocol/seq.js';
import type { SenderConfig } from './config.js';
import type { SliceStore, StripeRepair, TxSlice } from './slices.js';
import type { SenderStats } from './stats.js';
import type { Transmit, Transmitter } from './transmit.js';

/** The slice still has repair datagrams to send (it must stay held). */
export function repairsQueued(s: TxSlice): boolean {
  return (s.repairs ?? []).some((r) => r.queued > 0 || r.resend > 0);
}

export class RepairScheduler {
  /** Stripes with queued repairs, in NAK order; each (slice, stripe) at most once. */
  private readonly queue: { sliceNo: number; stripe: number }[] = []; // bounded by retainSlices * stripes

  constructor(
    private readonly cfg: Readonly<Pick<SenderConfig, 'stripes' | 'nakHoldMs'>>,
    private readonly stats: SenderStats,
    private readonly slices: SliceStore,
    private readonly tx: Transmitter,
  ) {}

  /** Stripes with repairs queued. */
  get stripesQueued(): number {
    return this.queue.length;
  }

  /** Repair datagrams the queued stripes will send (at most k each). */
  datagramsQueued(): number {
    let n = 0;
    for (const s of this.slices.values()) for (const r of s.repairs ?? []) n += r.queued + r.resend;
    return n;
  }

  /** A NAK for a slice sent in full (the core checked the receiver and the slice). */
  answer(slice: TxSlice, nak: Nak, now: number): void {
    slice.repairs ??= this.newRepairs(slice);
    const repairs = slice.repairs;
    for (let st = 0; st < this.cfg.stripes; st++) {
      const k = stripeBlocks(this.slices.geo, slice.nBlocks, st);
      const need = Math.min(nak.need[st]!, k);
      if (need === 0) continue;
      this.request(slice.sliceNo, repairs[st]!, st, k, need, nak.heard[st]!, nak.seenSeq, now);
    }
  }

  /** The next repair datagram, or undefined when none is queued. */
  next(): Transmit | undefined {
    while (this.queue.length > 0) {
      const head = this.queue[0]!;
      const s = this.slices.get(head.sliceNo);
      const rep = s?.repairs?.[head.stripe];
      if (s === undefined || rep === undefined || (rep.queued === 0 && rep.resend === 0)) {
        this.queue.shift();
        if (rep !== undefined) rep.queued = rep.resend = 0;
        continue;
      }
      if (rep.resend > 0) {
        // The stripe's data blocks again: blocks stripe, stripe + stripes, ...
        const b = head.stripe + rep.resendNext++ * this.cfg.stripes;
        if (--rep.resend === 0 && rep.queued === 0) this.queue.shift();
        else this.rotate();
        const payload = this.slices.dataBlock(s, b);
        this.stats.repairPackets++;
        this.stats.dataResends++;
        const t = this.tx.data(s.sliceNo, s.bytes.byteLength, DATA_FLAG_REPAIR | (s.final ? DATA_FLAG_FINAL_SLICE : 0), 0, b, payload);
        rep.lastSentSeq = this.tx.lastSeq;
        return t;
      }
      const k = stripeBlocks(this.slices.geo, s.nBlocks, head.stripe);
      const parityIndex = rep.nextParity;
      rep.nextParity = (rep.nextParity + 1) % maxParity(k);
      // This one and the `queued` after it are the indices that follow: encoded in one pass.
      const ahead = rep.queued;
      if (--rep.queued === 0) this.queue.shift();
      else this.rotate();
      const out = this.slices.parity(s, head.stripe, parityIndex, ahead);
      this.stats.repairPackets++;
      const flags = DATA_FLAG_PARITY | DATA_FLAG_REPAIR | (s.final ? DATA_FLAG_FINAL_SLICE : 0);
      const t = this.tx.data(s.sliceNo, s.bytes.byteLength, flags, head.stripe, parityIndex, out);
      rep.lastSentSeq = this.tx.lastSeq;
      return t;
    }
    return undefined;
  }

  /**
   * The head stripe has more to send: it goes behind the other stripes of its slice queued
   * right after it, so a slice's answer alternates its stripes as the first pass does, and
   * a burst of loss in it costs each stripe a little rather than one stripe all of it
   * (sent stripe after stripe, a burst of 8 lost 8 of one stripe's answer, and with 1,000
   * receivers the next round's NAKs each asked for a different stripe).
   */
  private rotate(): void {
    const q = this.queue;
    const head = q[0]!;
    let j = 1;
    while (j < q.length && q[j]!.sliceNo === head.sliceNo) j++; // at most `stripes` entries
    if (j === 1) return;
    q.copyWithin(0, 1, j);
    q[j - 1] = head;
  }

  /** Fresh parity starts after the proactive indices the first pass already sent. */
  private newRepairs(slice: TxSlice): StripeRepair[] {
    return Array.from({ length: this.cfg.stripes }, (_, st) => ({
      nextParity: slice.redundancy % maxParity(Math.max(1, stripeBlocks(this.slices.geo, slice.nBlocks, st))),
      burstStart: 0,
      burstAtMs: -Infinity,
      burstCount: 0,
      queued: 0,
      resend: 0,
      resendNext: 0,
      lastSentSeq: undefined,
    }));
  }

  /** One stripe's request: top up the current burst, or start a new one (see NAK's heard[] and seenSeq). */
  private request(sliceNo: number, rep: StripeRepair, st: number, k: number, need: number, heard: number, seenSeq: number, now: number): void {
    // A stripe's own data blocks serve every need, and cost no coding: k fresh parity
    // symbols would take k * k block multiplications (a late receiver's head, or a stripe
    // lost whole). Once they are queued, nothing more is needed until they went out.
    if (rep.resend > 0) return;
    // Had read past the burst's last symbol without hearing any of it: the burst was lost there.
    const passedBurst = rep.queued === 0 && rep.lastSentSeq !== undefined && seenSeq !== 0 && seqDiff(seenSeq, rep.lastSentSeq) >= 0;
    const heardBurst = heard > rep.burstStart || passedBurst;
    if (need === k && !(now - rep.burstAtMs <= this.cfg.nakHoldMs && !heardBurst)) {
      if (rep.queued === 0) this.queue.push({ sliceNo, stripe: st });
      rep.queued = 0;
      rep.resend = k;
      rep.resendNext = 0;
      // As a burst of k: requests that did not hear it, within nakHoldMs, add nothing.
      rep.burstStart = rep.nextParity;
      rep.burstAtMs = now;
      rep.burstCount = k;
      return;
    }
    let add: number;
    if (!heardBurst && now - rep.burstAtMs <= this.cfg.nakHoldMs) {
      // Asked before hearing the current burst: one answer sized to the largest
      // request serves everyone, so only top the burst up.
      add = Math.max(0, need - rep.burstCount);
      rep.burstCount = Math.max(rep.burstCount, need);
    } else {
      // Asked after the burst (some of it was lost, or it was too small): a new one now.
      add = need;
      rep.burstStart = (rep.nextParity + rep.queued) % maxParity(k);
      rep.burstAtMs = now;
      rep.burstCount = need;
    }
    if (add === 0) return;
    if (rep.queued === 0) this.queue.push({ sliceNo, stripe: st }); // resend is 0 here
    // Any k fresh symbols rebuild any k lost blocks of the stripe, so more than k queued never
    // serves anyone better. Without the cap, a stream of NAKs that each heard the last burst
    // (a stuck or hostile receiver) queued k more parity per NAK: 1000 NAKs of 20 bytes asked
    // for 1000 * k datagrams of blockBytes.
    rep.queued = Math.min(k, rep.queued + add);
  }
}
