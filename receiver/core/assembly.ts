// Slice assembly: the slices from the next one to deliver up to the end of the sender's
// retention window, filled block by block and parity by parity, decoded (Reed-Solomon,
// stripe by stripe) once a stripe has k symbols, and handed to the sink in order, each
// with its offset in the image, as fast as the sink takes them (maxQueuedSlices).
//
// It also knows which pass the delivery is on. A receiver that joined late (an ACCEPT
// naming joinSlice J > 0) takes J..end live with the others first, then the head 0..J-1
// by repair; see Pass.
//
// Slices' bytes come from the SliceMemory (slice.ts). What holds: a slice is open in it
// exactly while the assembly holds it and it is incomplete, with the FINAL_SLICE values the
// session's checks accept for it (finalMaskOf); so a socket placing DATA into slices writes
// only blocks this file would have copied there itself. A DATA that arrives placed (payload
// undefined) goes through every check below all the same; only the copy is skipped.

import { blockPayloadBytes, dataIndexError, fullSliceBytes, sliceBytesOf, totalSlices } from '../../protocol/geometry.js';
import { DATA_FLAG_PARITY, DATA_FLAG_REPAIR, type DataHeader } from '../../protocol/messages/data.js';
import type { ReceiverConfig } from './config.js';
import type { ReceiverEvent } from './events.js';
import type { Session } from './session.js';
import { FINAL_CLEAR, FINAL_SET, heapSliceMemory, newRxSlice, type RxSlice, type SliceMemory } from './slice.js';
import { countDrop, type ReceiverStats } from './stats.js';

/**
 * A DATA packet as the assembly takes it: decoded from a datagram (payload: a view into it),
 * or already placed by the socket into its slice's memory (payload undefined).
 */
export interface DataIn extends DataHeader {
  payload: Uint8Array | undefined;
  payloadBytes: number;
}

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
  private readonly slices = new Map<number, RxSlice>(); // keys in [delivered, delivered + session.holdSlices)
  private next = 0; // next slice to hand to the sink (in the head pass: of the head)
  private current: Pass = { kind: 'live', joinSlice: 0 };

  private readonly memory: SliceMemory;

  constructor(
    private readonly session: Session,
    private readonly cfg: Pick<ReceiverConfig, 'coder' | 'maxQueuedSlices' | 'sliceMemory'>,
    private readonly sink: SinkProgress,
    private readonly stats: ReceiverStats,
    private readonly events: ReceiverEvent[],
  ) {
    this.memory = cfg.sliceMemory ?? heapSliceMemory;
    const g = session.geo;
    this.memory.begin({
      sessionId: session.sessionId,
      senderAddress: session.senderAddress,
      blockBytes: g.blockBytes,
      fullSliceBytes: fullSliceBytes(g),
      retainSlices: session.holdSlices,
      queuedSlices: cfg.maxQueuedSlices,
    });
  }

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
  take(d: DataIn): RxSlice | undefined {
    const p = this.current;
    if (d.sliceNo < this.next || (p.kind === 'head' && d.sliceNo >= p.joinSlice)) {
      // Had it (in the head pass: everything from joinSlice on), but it counts as seen:
      // the sender's flow window follows our seenSeq.
      this.stats.duplicates++;
      return undefined;
    }
    if (d.sliceNo >= this.next + this.session.holdSlices) {
      // The sender never runs more than retainSlices past the slowest receiver: this is
      // a stray, or we were dropped without hearing it (or, with --async, past what we can
      // hold while we wait for an earlier slice). Either way we cannot hold it.
      countDrop(this.stats, 'ERR_AHEAD');
      return undefined;
    }
    return this.store(d);
  }

  private store(d: DataIn): RxSlice | undefined {
    const g = this.session.geo;
    // The wire numbers this part indexes with: a parity symbol's stripe (s.stripes) and
    // index (the decoder's rows), a data block's number (haveBlock and the buffer). The core's
    // checks (dataFieldsError) keep them in range; this part does not rest on them, and
    // refuses one out of range (the same check, dataIndexError) before it opens a slice for it.
    const bad = dataIndexError(g, d);
    if (bad !== undefined) {
      countDrop(this.stats, bad.code);
      return undefined;
    }
    let s = this.slices.get(d.sliceNo);
    if (s?.assumed && s.sliceBytes !== d.sliceBytes) {
      // Its size was a guess (no packet of it had arrived); the first real one corrects it.
      this.drop(s);
      s = undefined;
    }
    if (s === undefined) {
      if (d.payload === undefined) {
        // Placed into a slice we do not hold: cannot happen while the memory's entries follow
        // this file (see the top). Its bytes are not in any slice we hold, so it brings nothing.
        countDrop(this.stats, 'ERR_UNPLACED');
        return undefined;
      }
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
      const st = s.stripes[d.stripe]!; // checked above
      if (d.blockNo + 1 > st.heard) st.heard = d.blockNo + 1;
      if (st.have >= st.k || st.parity.has(d.blockNo) || d.payload === undefined) {
        // (Parity is never placed: the third case cannot happen.)
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
      if (d.payload !== undefined) s.buf.set(d.payload, d.blockNo * g.blockBytes);
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
    const s = newRxSlice(this.session.geo, sliceNo, sliceBytes, assumed, this.memory, this.finalMaskOf(sliceNo, sliceBytes));
    this.slices.set(sliceNo, s);
    if (this.slices.size > this.stats.maxHeldSlices) this.stats.maxHeldSlices = this.slices.size;
    return s;
  }

  /**
   * The FINAL_SLICE values a DATA of this slice may carry and pass checkDataAgainstSession
   * as the session stands: with the image's size known, exactly the one it must; else set
   * for a short slice, either for a full one.
   */
  private finalMaskOf(sliceNo: number, sliceBytes: number): number {
    const g = this.session.geo;
    const known = this.session.knownImageBytes();
    if (known !== undefined) return sliceNo === totalSlices(g, known) - 1 ? FINAL_SET : FINAL_CLEAR;
    return sliceBytes < fullSliceBytes(g) ? FINAL_SET : FINAL_CLEAR | FINAL_SET;
  }

  /** Lets go of a slice that will not be delivered: its memory is free. */
  private drop(s: RxSlice): void {
    this.slices.delete(s.sliceNo);
    this.memory.close(s.sliceNo, s.buf, true);
  }

  /** Lets go of every slice held (a new pass begins). */
  private dropAll(): void {
    for (const s of this.slices.values()) this.memory.close(s.sliceNo, s.buf, true);
    this.slices.clear();
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
    // Its bytes are final: nothing may land on them any more.
    this.memory.close(s.sliceNo, s.buf, false);
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
    if (this.next !== before) this.memory.setBase(this.next);
    return this.next !== before;
  }

  /** Every slice of the current pass is delivered, in an image of totalSlices. */
  passDelivered(totalSlices: number): boolean {
    const p = this.current;
    return this.next >= (p.kind === 'head' ? p.joinSlice : totalSlices);
  }

  /** A late ACCEPT: delivery starts at joinSlice; what we held before is not ours to keep. */
  startLate(joinSlice: number): void {
    this.dropAll();
    this.current = { kind: 'live', joinSlice };
    this.next = joinSlice;
    this.memory.setBase(this.next);
  }

  /** The live pass of a late joiner is delivered: now the head, 0..joinSlice-1. */
  startHead(totalSlices: number): void {
    this.current = { kind: 'head', joinSlice: this.current.joinSlice, totalSlices };
    this.dropAll();
    this.next = 0;
    this.memory.setBase(this.next);
  }

  /**
   * END told the image's size: a slice whose size was guessed before may now be known to be
   * short. And DATA of a slice held may now pass the checks with fewer FINAL_SLICE values
   * than when it was opened (or none, past the image): such a slice is closed to placement,
   * and its DATA is copied as it comes.
   */
  dropWrongGuesses(totalBytes: number): void {
    const g = this.session.geo;
    for (const s of [...this.slices.values()]) {
      if (s.assumed && s.sliceBytes !== sliceBytesOf(g, totalBytes, s.sliceNo)) {
        this.drop(s);
      } else if (!s.complete && (s.sliceBytes !== sliceBytesOf(g, totalBytes, s.sliceNo) || s.finalMask !== this.finalMaskOf(s.sliceNo, s.sliceBytes))) {
        this.memory.close(s.sliceNo, s.buf, false);
      }
    }
  }
}
