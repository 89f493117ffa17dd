// The least progress over the receivers the sender still serves: what the flow window
// (flow.ts) and slice retention follow. It is kept as it changes, never searched for: the
// receivers still served sit in min-heaps keyed by how far they have read (seenAbs, an
// absolute count of DATA) and how many slices they hold (deliveredSlices), so a STATUS
// costs O(log n) and the flow window's check before each DATA O(1), whatever the number of
// receivers. participants.ts owns the records and tells this file when one is served,
// moves, is heard, or stops being served.
//
// A receiver in the catch-up pass (a slow node the policy moved there, or a late receiver
// whose sink takes the image only in order) is out of the heaps: it holds neither the flow
// window nor retention during the first pass. Once the first pass is over the catch-up
// pass is paced by the receivers it serves, so the flow window's least read is then the
// lesser of the heaps' and of the catch-up receivers' (`catchUpFlows`). There are at most
// MAX_CATCH_UP of them (participants.ts), kept in a set whose least seenAbs is recomputed
// only when one of them reports or leaves: the check before each DATA stays O(1).
//
// In a quiet session (sender/core/probe.ts) most receivers stay silent, and the sender
// counts their silence: when a probe round ends, every receiver that could have answered
// it and did not is taken to be at least where the round asked (the group credit). A
// receiver is "credited" once two rounds it could have heard have ended; until then (just
// joined, or heard again after a silence) and once it has been silent longer than its
// heartbeat allows (stale: gone, frozen, or cut off), only what it reported counts. So
// the progress of a receiver still served is
//   credited:    max(reported, group credit)
//   uncredited:  reported
// and the least of it is min(max(credit, min over credited), min over uncredited): two
// pairs of heaps. In a small session nothing is credited and the credit stays -Infinity.
//
// What holds: a served receiver is in exactly one pair of heaps (credited or not), and in
// the catch-up set never; a receiver in the catch-up set is in no heap. The group credit
// only grows.

import { MinHeap } from './min-heap.js';

/** What this file keeps on each receiver record (participants.ts's records carry it). */
export interface Served {
  /** seenSeq as a count of DATA sent (1 for the first), so that heaps can order it. */
  seenAbs: number;
  deliveredSlices: number;
  /** When the sender last heard it (any datagram). */
  heardAtMs: number;
  seqSlot: number;
  slicesSlot: number;
  /** In the credited heaps (true), the uncredited ones (false), or none (not served). */
  credited: boolean;
  /** The first probe round whose end may credit it (Infinity: stale, until heard again). */
  creditFromRound: number;
  /** Counts its stays in the uncredited queue, so an entry left from an earlier stay is known. */
  queueEpoch: number;
}

const seqSlots = {
  key: (r: Served) => r.seenAbs,
  slot: (r: Served) => r.seqSlot,
  setSlot: (r: Served, i: number) => {
    r.seqSlot = i;
  },
};
const sliceSlots = {
  key: (r: Served) => r.deliveredSlices,
  slot: (r: Served) => r.slicesSlot,
  setSlot: (r: Served, i: number) => {
    r.slicesSlot = i;
  },
};

export class LeastProgress<T extends Served> {
  private readonly credSeq = new MinHeap<T>(seqSlots);
  private readonly credSlices = new MinHeap<T>(sliceSlots);
  private readonly uncredSeq = new MinHeap<T>(seqSlots);
  private readonly uncredSlices = new MinHeap<T>(sliceSlots);
  /** The group credit: every credited receiver has read at least this much and holds this many slices. */
  private creditSeqAbs = -Infinity;
  private creditSlices = -Infinity;
  /** Quiet session: served receivers, least recently heard first (a Set keeps insertion order). */
  private readonly byHeard = new Set<T>(); // bounded by the records
  /** Uncredited receivers in order of creditFromRound (entries from an earlier stay are skipped). */
  private readonly uncreditedQueue: { rcv: T; epoch: number }[] = []; // bounded: compacted past 2 x records
  private quietMode = false;
  /** The next probe round to be sent (a receiver heard from now on can be credited from the one after). */
  private nextRound = 1;
  /** Active receivers in the catch-up pass without every slice (outside the heaps). */
  private readonly catchUpSet = new Set<T>(); // bounded: MAX_CATCH_UP
  /** The least seenAbs over catchUpSet (Infinity when empty), recomputed when one of them changes. */
  private catchUpSeenAbs = Infinity;

  /** `records`: every receiver record, in join order (participants.ts's table). */
  constructor(private readonly records: ReadonlyMap<number, T>) {}

  get quiet(): boolean {
    return this.quietMode;
  }

  /** Receivers in the catch-up set. */
  get catchUpCount(): number {
    return this.catchUpSet.size;
  }

  /** Active and without every slice: its progress holds the window and retention. */
  served(r: T): boolean {
    return r.seqSlot >= 0;
  }

  /** Into the heaps: credited only in a small session, where there is no credit to apply. */
  serve(r: T): void {
    r.credited = !this.quietMode;
    this.heapsOf(r.credited).seq.insert(r);
    this.heapsOf(r.credited).slices.insert(r);
    if (this.quietMode) {
      this.byHeard.add(r);
      this.awaitCredit(r);
    }
  }

  /** Out of the heaps (and, in the catch-up pass, out of the catch-up set). */
  unserve(r: T): void {
    if (this.catchUpSet.delete(r)) this.catchUpSeenAbs = this.leastCatchUpSeenAbs();
    const h = this.heapsOf(r.credited);
    h.seq.remove(r);
    h.slices.remove(r);
    this.byHeard.delete(r);
    r.creditFromRound = Infinity;
  }

  /** Out of the heaps into the catch-up set (if it was served: one with every slice needs nothing). */
  toCatchUp(r: T): void {
    if (!this.served(r)) return;
    this.unserve(r);
    this.catchUpSet.add(r);
    if (r.seenAbs < this.catchUpSeenAbs) this.catchUpSeenAbs = r.seenAbs;
  }

  /** Its seenAbs grew. */
  seenMoved(r: T): void {
    if (this.served(r)) this.heapsOf(r.credited).seq.update(r);
    if (this.catchUpSet.has(r)) this.catchUpSeenAbs = this.leastCatchUpSeenAbs();
  }

  /** Its deliveredSlices grew. */
  slicesMoved(r: T): void {
    if (this.served(r)) this.heapsOf(r.credited).slices.update(r);
  }

  /** An active receiver was heard (heardAtMs is now). */
  heard(r: T): void {
    if (!this.quietMode || !this.served(r)) return;
    // Least recently heard first: move it to the young end.
    this.byHeard.delete(r);
    this.byHeard.add(r);
    // Heard again after a silence: counts again, from rounds it can hear from now on.
    if (!r.credited && r.creditFromRound === Infinity) this.awaitCredit(r);
  }

  /**
   * From START on, receivers report only when a probe finds them behind (sender/core/
   * probe.ts): silence starts to count. Everyone serves as uncredited until two rounds
   * it could hear have ended.
   */
  goQuiet(now: number): void {
    if (this.quietMode) return;
    this.quietMode = true;
    for (const r of this.records.values()) {
      if (!this.served(r)) continue;
      r.heardAtMs = now;
      this.byHeard.add(r);
      this.awaitCredit(r);
    }
  }

  /** Probe round `round` is about to go out. */
  roundSent(round: number): void {
    this.nextRound = Math.max(this.nextRound, round + 1);
  }

  /**
   * Probe round `round` has ended: every credited receiver has read at least `seenAbs` and
   * holds `slices` (the least of the thresholds of this round and the one before, which
   * the round computed), and receivers waiting for credit since before the round before
   * are credited now.
   */
  credit(round: number, seenAbs: number, slices: number): void {
    if (seenAbs > this.creditSeqAbs) this.creditSeqAbs = seenAbs;
    if (slices > this.creditSlices) this.creditSlices = slices;
    const q = this.uncreditedQueue;
    let i = 0;
    for (; i < q.length; i++) {
      const { rcv, epoch } = q[i]!;
      if (epoch !== rcv.queueEpoch || !this.served(rcv) || rcv.credited) continue; // an earlier stay
      if (rcv.creditFromRound > round) break;
      this.moveTo(rcv, true);
    }
    q.splice(0, i);
  }

  /**
   * Receivers silent for `liveMs` or longer (heartbeats lost, or the receiver gone or
   * frozen) stop being credited: only what they reported counts until they are heard
   * again. Returns how many went stale.
   */
  expireSilent(now: number, liveMs: number): number {
    let n = 0;
    for (const r of this.byHeard) {
      if (now - r.heardAtMs < liveMs) break;
      this.byHeard.delete(r);
      r.creditFromRound = Infinity;
      if (r.credited) this.moveTo(r, false);
      n++;
    }
    return n;
  }

  /** The least seenAbs over the receivers served (and, with `catchUpFlows`, the catch-up set); Infinity when none. */
  minSeenAbs(catchUpFlows: boolean): number {
    const served = Math.min(Math.max(this.creditSeqAbs, this.credSeq.minKey()), this.uncredSeq.minKey());
    return catchUpFlows ? Math.min(served, this.catchUpSeenAbs) : served;
  }

  /** The least deliveredSlices over the receivers served; Infinity when none (catch-up receivers never count). */
  minDelivered(): number {
    return Math.min(Math.max(this.creditSlices, this.credSlices.minKey()), this.uncredSlices.minKey());
  }

  /** A scan of the catch-up set: at most MAX_CATCH_UP, and only when one of them changed. */
  private leastCatchUpSeenAbs(): number {
    let least = Infinity;
    for (const r of this.catchUpSet) if (r.seenAbs < least) least = r.seenAbs;
    return least;
  }

  /** Uncredited from now; credited once two probe rounds it can hear have ended. */
  private awaitCredit(r: T): void {
    if (r.credited) this.moveTo(r, false);
    r.creditFromRound = this.nextRound + 1;
    r.queueEpoch++;
    this.uncreditedQueue.push({ rcv: r, epoch: r.queueEpoch });
    if (this.uncreditedQueue.length > 2 * this.records.size + 16) this.compactQueue();
  }

  private compactQueue(): void {
    const live = this.uncreditedQueue.filter(({ rcv, epoch }) => epoch === rcv.queueEpoch && this.served(rcv) && !rcv.credited);
    this.uncreditedQueue.length = 0;
    this.uncreditedQueue.push(...live);
  }

  private moveTo(r: T, credited: boolean): void {
    if (r.credited === credited) return;
    const from = this.heapsOf(r.credited);
    from.seq.remove(r);
    from.slices.remove(r);
    r.credited = credited;
    const to = this.heapsOf(credited);
    to.seq.insert(r);
    to.slices.insert(r);
  }

  private heapsOf(credited: boolean): { seq: MinHeap<T>; slices: MinHeap<T> } {
    return credited ? { seq: this.credSeq, slices: this.credSlices } : { seq: this.uncredSeq, slices: this.uncredSlices };
  }
}
