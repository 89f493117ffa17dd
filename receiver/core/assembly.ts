// Slice assembly: the slices from the next one to deliver up to the end of the sender's
// retention window, filled block by block and parity by parity, decoded (Reed-Solomon,
// stripe by stripe) once a stripe has k symbols, and handed to the sink in order, each
// with its offset in the image, as fast as the sink takes them (maxQueuedSlices).
//
// It also knows which pass the delivery is on. A receiver that joined late (an ACCEPT
// naming joinSlice J > 0) takes J..end live with the others first, then the head 0..J-1
// by repair; see Pass.

import { blockPayloadBytes, fullSliceBytes, sliceBytesOf } from '../../protocol/geometry.js';
import { DATA_FLAG_PARITY, DATA_FLAG_REPAIR, type Data } from '../../protocol/messages/data.js';
import type { ReceiverConfig } from './config.js';
import type { ReceiverEvent } from './events.js';
import type { Session } from './session.js';
import { newRxSlice, type RxSlice } from './slice.js';
import { countDrop, type ReceiverStats } from './stats.js';

/** Which run of slices the delivery is on. */
export type Pass =
  /** Slices joinSlice.. to the image's end, live with the others (joinSlice 0: the whole image). */
  | { readonly kind: 'live'; readonly joinSlice: number }
  /**
   * Late join, after the live pass: the head 0..joinSlice-1, every slice of it by repair.
   * The sender counts us as having all totalSlices: the head is no longer in its window.
   */
  | { readonly kind: 'head'; readonly joinSlice: number; readonly totalSlices: number };

/** How far the sink is behind delivery. The core keeps it (the sink reports to the core). */
export interface SinkProgress {
  /** Slices handed to the sink and not yet written. */
  unwritten: number;
  bytesWritten: number;
}

export class Assembly {
  private readonly slices = new Map<number, RxSlice>(); // keys in [delivered, delivered + retainSlices)
  private next = 0; // next slice to hand to the sink (in the head pass: of the head)
  private current: Pass = { kind: 'live', joinSlice: 0 };

  constructor(
    private readonly session: Session,
    private readonly cfg: Pick<ReceiverConfig, 'coder' | 'maxQueuedSlices'>,
    private readonly sink: SinkProgress,
    private readonly stats: ReceiverStats,
    private readonly events: ReceiverEvent[],
  ) {}

  /** The next slice to deliver: every slice of the pass before it went to the sink. */
  get delivered(): number {
    return this.next;
  }

  get pass(): Pass {
    return this.current;
  }

  get(sliceNo: number): RxSlice | undefined {
    return this.slices.get(sliceNo);
  }

  /** The slices held, in the order they were made (the NAK scheduler fires in this order). */
  held(): IterableIterator<RxSlice> {
    return this.slices.values();
  }

  /** What STATUS says we delivered: in the head pass, everything from the sender's view of retention. */
  deliveredForSender(): number {
    return this.current.kind === 'head' ? this.current.totalSlices : this.next;
  }

  /**
   * Takes one DATA packet, already checked against the session. Returns the slice when the
   * packet brought a symbol it lacked (a duplicate or a packet we cannot hold brings none).
   */
  take(d: Data): RxSlice | undefined {
    const p = this.current;
    if (d.sliceNo < this.next || (p.kind === 'head' && d.sliceNo >= p.joinSlice)) {
      // Had it (in the head pass: everything from joinSlice on), but it counts as seen:
      // the sender's flow window follows our seenSeq.
      this.stats.duplicates++;
      return undefined;
    }
    if (d.sliceNo >= this.next + this.session.retainSlices) {
      // The sender never runs more than retainSlices past the slowest receiver: this is
      // a stray, or we were dropped without hearing it. Either way we cannot hold it.
      countDrop(this.stats, 'ERR_AHEAD');
      return undefined;
    }
    return this.store(d);
  }

  private store(d: Data): RxSlice | undefined {
    const g = this.session.geo;
    let s = this.slices.get(d.sliceNo);
    if (s?.assumed && s.sliceBytes !== d.sliceBytes) {
      // Its size was a guess (no packet of it had arrived); the first real one corrects it.
      this.slices.delete(d.sliceNo);
      s = undefined;
    }
    if (s === undefined) {
      s = this.newSlice(d.sliceNo, d.sliceBytes, false);
    } else if (s.sliceBytes !== d.sliceBytes) {
      countDrop(this.stats, 'ERR_BAD_FIELD');
      return undefined;
    }
    if (s.complete) {
      this.stats.duplicates++;
      return undefined;
    }
    if ((d.flags & DATA_FLAG_PARITY) !== 0) {
      this.stats.parityPackets++;
      const st = s.stripes[d.stripe]!;
      if (d.blockNo + 1 > st.heard) st.heard = d.blockNo + 1;
      if (st.have >= st.k || st.parity.has(d.blockNo)) {
        this.stats.duplicates++;
        return undefined;
      }
      st.parity.set(d.blockNo, d.payload.slice());
      st.have++;
    } else {
      this.stats.dataPackets++;
      if (s.haveBlock[d.blockNo] === 1) {
        this.stats.duplicates++;
        return undefined;
      }
      const st = s.stripes[d.blockNo % g.stripes]!;
      s.haveBlock[d.blockNo] = 1;
      if ((d.flags & DATA_FLAG_REPAIR) !== 0) this.stats.resentBlocks++;
      s.buf.set(d.payload, d.blockNo * g.blockBytes);
      if (st.have >= st.k) {
        // A parity symbol stood in for this block: drop one so `have` stays exact.
        const firstKey = st.parity.keys().next();
        if (!firstKey.done) st.parity.delete(firstKey.value);
      } else {
        st.have++;
      }
    }
    this.tryComplete(s);
    return s;
  }

  /**
   * Slice n for the NAK scheduler: the one held, or (not one packet of it arrived) a new
   * one of the size the image says, a full one while the size is unknown. Undefined when
   * the image has no slice n.
   */
  heldOrAssumed(n: number): RxSlice | undefined {
    const s = this.slices.get(n);
    if (s !== undefined) return s;
    const g = this.session.geo;
    const known = this.session.knownImageBytes();
    const bytes = known === undefined ? fullSliceBytes(g) : sliceBytesOf(g, known, n);
    if (bytes <= 0) return undefined;
    return this.newSlice(n, bytes, known === undefined);
  }

  private newSlice(sliceNo: number, sliceBytes: number, assumed: boolean): RxSlice {
    const s = newRxSlice(this.session.geo, sliceNo, sliceBytes, assumed);
    this.slices.set(sliceNo, s);
    if (this.slices.size > this.stats.maxHeldSlices) this.stats.maxHeldSlices = this.slices.size;
    return s;
  }

  /** Decodes every stripe that has k symbols; the slice is complete when all are whole. */
  private tryComplete(s: RxSlice): void {
    const g = this.session.geo;
    for (let st = 0; st < g.stripes; st++) if (s.stripes[st]!.have < s.stripes[st]!.k) return;
    const nBlocks = s.haveBlock.length;
    let decoded = false;
    for (let st = 0; st < g.stripes; st++) {
      const stripe = s.stripes[st]!;
      if (stripe.parity.size === 0) continue;
      const data: Uint8Array[] = [];
      const missing: number[] = [];
      const missingBlocks: number[] = [];
      for (let b = st, i = 0; b < nBlocks; b += g.stripes, i++) {
        const len = blockPayloadBytes(g, s.sliceBytes, b);
        if (s.haveBlock[b] === 1 && len === g.blockBytes) {
          data.push(s.buf.subarray(b * g.blockBytes, (b + 1) * g.blockBytes));
        } else if (s.haveBlock[b] === 1) {
          const padded = new Uint8Array(g.blockBytes); // the short last block, zero-padded as the sender coded it
          padded.set(s.buf.subarray(b * g.blockBytes, b * g.blockBytes + len));
          data.push(padded);
        } else {
          data.push(new Uint8Array(g.blockBytes));
          missing.push(i);
          missingBlocks.push(b);
        }
      }
      const parity = [...stripe.parity].slice(0, missing.length).map(([index, bytes]) => ({ index, bytes }));
      this.cfg.coder.decode(data, missing, parity);
      for (let j = 0; j < missing.length; j++) {
        const b = missingBlocks[j]!;
        const len = blockPayloadBytes(g, s.sliceBytes, b);
        s.buf.set(data[missing[j]!]!.subarray(0, len), b * g.blockBytes);
        s.haveBlock[b] = 1;
      }
      this.stats.decodedBlocks += missing.length;
      stripe.parity.clear();
      decoded = true;
    }
    if (decoded) this.stats.slicesDecoded++;
    s.complete = true;
  }

  /** Hands complete slices to the sink, in order, while it has room. True if any went. */
  deliverReady(): boolean {
    const before = this.next;
    const full = fullSliceBytes(this.session.geo);
    while (this.sink.unwritten < this.cfg.maxQueuedSlices) {
      const s = this.slices.get(this.next);
      if (s === undefined || !s.complete) break;
      this.slices.delete(this.next);
      this.events.push({ kind: 'deliver', sliceNo: s.sliceNo, offset: s.sliceNo * full, bytes: s.buf });
      this.next++;
      this.sink.unwritten++;
    }
    return this.next !== before;
  }

  /** Every slice of the current pass is delivered, in an image of totalSlices. */
  passDelivered(totalSlices: number): boolean {
    const p = this.current;
    return this.next >= (p.kind === 'head' ? p.joinSlice : totalSlices);
  }

  /** A late ACCEPT: delivery starts at joinSlice; what we held before is not ours to keep. */
  startLate(joinSlice: number): void {
    this.slices.clear();
    this.current = { kind: 'live', joinSlice };
    this.next = joinSlice;
  }

  /** The live pass of a late joiner is delivered: now the head, 0..joinSlice-1. */
  startHead(totalSlices: number): void {
    this.current = { kind: 'head', joinSlice: this.current.joinSlice, totalSlices };
    this.slices.clear();
    this.next = 0;
  }

  /** END told the image's size: a slice whose size was guessed before may now be known to be short. */
  dropWrongGuesses(totalBytes: number): void {
    for (const [n, s] of this.slices) {
      if (s.assumed && s.sliceBytes !== sliceBytesOf(this.session.geo, totalBytes, n)) this.slices.delete(n);
    }
  }
}
