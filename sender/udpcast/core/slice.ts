// One slice on its way to stock receivers: its first pass, its REQACK rounds and the repair
// each round needs. Pure bookkeeping; the core (../core.ts) decides when.
//
// Repair: each round, every receiver that answered RETRANSMIT says which data blocks it
// holds. A block re-sent in the round it answered, or later, is on its way (or lost again,
// which its next answer says): it is not asked for twice. So an answer to an older round
// (it came late, or a REQACK copy was answered twice) adds only what has not been re-sent
// since, and a slow receiver whose answers always arrive a round late still progresses.
// Per stripe, a receiver missing m blocks needs m symbols: its missing data blocks or
// udpcast parity rows it has not seen (any m distinct rows rebuild any m blocks,
// protocol/udpcast/fec-code.ts). So a round sends, per stripe, either the union of what the
// receivers miss (as udpcast's own sender does), or as many fresh parity rows as the
// neediest receiver misses, whichever is fewer datagrams. With several receivers losing
// different blocks, parity wins: one row repairs a different loss at each receiver. A stock
// receiver switches FEC on at the first FEC datagram of a slice, with no negotiation
// (docs/udpcast-wire.md §6), so this works without --fec too. Rows are never reused within
// a slice (a stock receiver drops a FEC block it already holds), and there are 128 per
// stripe; past that, data.

import { minStripes, type PreparedStripe, stripeBlockCount, stripeBlockNo, type UdpcastParityCoder } from '../../../protocol/udpcast/fec-code.js';
import { BITMAP_BYTES, bitIsSet, MAX_FEC_ROWS, READY_SET_BYTES, setBit } from '../../../protocol/udpcast/wire.js';

export type Repair = { readonly kind: 'data'; readonly blockNo: number } | { readonly kind: 'fec'; readonly stripe: number; readonly row: number };

export class TxSlice {
  readonly nBlocks: number;
  /** Stripes of this slice's FEC datagrams (--fec's, or the fewest that keep stripes <= 128 blocks). */
  readonly stripes: number;
  /** REQACK's readySet: bit clNr = that receiver said OK. */
  readonly readySet = new Uint8Array(READY_SET_BYTES);
  nrReady = 0;
  /** Every live receiver said OK (it may wait in the window behind an older slice). */
  acked = false;
  /** The REQACK round (REQACK.rxmit). */
  rxmit = 0;
  /** First-pass datagrams sent so far: data blocks, then proactive FEC blocks in udpcast's order. */
  firstPassSent = 0;
  readonly firstPassTotal: number;
  /** Clients that answered any round of this slice: a stock receiver that did has this slice in its ring. */
  readonly answeredEver = new Uint8Array(READY_SET_BYTES);
  /** Clients that answered the current round. */
  readonly answered = new Uint8Array(READY_SET_BYTES);
  /** The current round's REQACK went out at this time (undefined: not yet). */
  roundSentAtMs: number | undefined;
  /** Repairs queued for the current round, sent before its next REQACK. UNBOUNDED per round by design: at most the slice's blocks plus 128 rows per stripe. */
  readonly queue: Repair[] = [];
  /** The repairs of the current round are decided: the next REQACK may follow them. */
  roundFlushed = false;
  /** The first round's largest missing share (for the pacer), once known. */
  firstRoundLoss = 0;
  firstRoundReported = false;
  /** When its first datagram could go, and when its first REQACK went (for the stats). */
  admittedAtMs = 0;
  firstReqackAtMs: number | undefined;
  /** Unicast copies of the end REQACK still to send this round (the end slice only). */
  readonly unicastQueue: string[] = [];
  /** Copies of this round's REQACK still to send right behind it. */
  reqackCopiesLeft = 0;
  /** When this round's REQACK goes again to receivers that have not answered, and the wait after that one. */
  reqackAgainAtMs: number | undefined;
  reqackAgainWaitMs = 0;

  private readonly nextRow: Int16Array;
  /** Parity rows sent per stripe in this round and in the one before. */
  private readonly roundParity: Int16Array;
  private readonly prevRoundParity: Int16Array;
  /** The round each data block was last re-sent in (-1: the first pass only). */
  private readonly repairedInRound: Int32Array;
  /**
   * Answers not yet planned: the blocks each still needs and the round it answered. Bounded:
   * planned at once (data repair) or when the round closes (parity repair), so at most a
   * round's answers: a few per participant (REQACK copies), 1024 participants.
   */
  private readonly pending: { readonly need: Uint8Array; readonly round: number }[] = [];
  private prepared: (PreparedStripe | undefined)[] | undefined;
  private padded: Uint8Array | undefined;

  constructor(
    readonly sliceNo: number,
    /** The slice's bytes (a view into the source's buffer); empty for the end slice. */
    readonly bytes: Uint8Array,
    readonly blockBytes: number,
    fec: { readonly stripes: number; readonly redundancy: number } | undefined,
  ) {
    this.nBlocks = Math.ceil(bytes.byteLength / blockBytes);
    this.stripes = Math.max(fec?.stripes ?? 1, minStripes(this.nBlocks));
    const redundancy = this.nBlocks === 0 ? 0 : (fec?.redundancy ?? 0);
    this.firstPassTotal = this.nBlocks + this.stripes * redundancy;
    this.nextRow = new Int16Array(this.stripes).fill(redundancy);
    this.roundParity = new Int16Array(this.stripes);
    this.prevRoundParity = new Int16Array(this.stripes);
    this.repairedInRound = new Int32Array(this.nBlocks).fill(-1);
  }

  get sliceBytes(): number {
    return this.bytes.byteLength;
  }

  get isEnd(): boolean {
    return this.nBlocks === 0;
  }

  /** Payload of data block i (the last one short): a view, no copy. */
  block(i: number): Uint8Array {
    const start = i * this.blockBytes;
    return this.bytes.subarray(start, Math.min(start + this.blockBytes, this.bytes.byteLength));
  }

  /** The first pass's k-th datagram: data blocks first, then FEC block f = k - nBlocks (row f / S, stripe f % S). */
  firstPassItem(k: number): Repair {
    if (k < this.nBlocks) return { kind: 'data', blockNo: k };
    const f = k - this.nBlocks;
    return { kind: 'fec', stripe: f % this.stripes, row: Math.floor(f / this.stripes) };
  }

  isReady(clNr: number): boolean {
    return bitIsSet(this.readySet, clNr);
  }

  markReady(clNr: number): boolean {
    if (bitIsSet(this.readySet, clNr)) return false;
    setBit(this.readySet, clNr);
    this.nrReady++;
    return true;
  }

  unmarkReady(clNr: number): void {
    if (!bitIsSet(this.readySet, clNr)) return;
    this.readySet[clNr >> 3]! &= ~(1 << (clNr & 7));
    this.nrReady--;
  }

  /** A new REQACK round begins: answers and per-round parity start afresh; `copies` REQACKs go back to back. */
  newRound(nowMs: number, copies: number): void {
    this.answered.fill(0);
    this.prevRoundParity.set(this.roundParity);
    this.roundParity.fill(0);
    this.pending.length = 0;
    this.reqackCopiesLeft = copies - 1;
    this.reqackAgainAtMs = undefined;
    this.roundFlushed = false;
    this.roundSentAtMs = nowMs;
    this.firstReqackAtMs ??= nowMs;
  }

  /** A RETRANSMIT answering round `round`: haveMap bit i = data block i held. Returns the share of blocks it misses. */
  addRetransmit(haveMap: Uint8Array, round: number): number {
    const need = new Uint8Array(BITMAP_BYTES);
    let missing = 0;
    let needed = 0;
    for (let i = 0; i < this.nBlocks; i++) {
      if (bitIsSet(haveMap, i)) continue;
      missing++;
      if (this.repairedInRound[i]! >= round) continue;
      setBit(need, i);
      needed++;
    }
    if (needed > 0) this.pending.push({ need, round });
    return this.nBlocks === 0 ? 0 : missing / this.nBlocks;
  }

  /**
   * Turns the answers gathered since the last call into repairs (queue), given what this
   * round already queued. Returns how many repairs were added.
   */
  planRepairs(parityRepair: boolean): number {
    let added = 0;
    const S = this.stripes;
    for (let s = 0; s < S; s++) {
      const k = stripeBlockCount(this.nBlocks, S, s);
      if (k === 0) continue;
      let maxDeficit = 0;
      const union: number[] = [];
      const inUnion = new Uint8Array(k);
      for (const p of this.pending) {
        let m = 0;
        const mine: number[] = [];
        for (let j = 0; j < k; j++) {
          const b = stripeBlockNo(S, s, j);
          if (bitIsSet(p.need, b) && this.repairedInRound[b]! < p.round) {
            m++;
            mine.push(j);
          }
        }
        // Rows sent since the answered round count (an older answer: this round's and the last one's).
        const deficit = m - this.roundParity[s]! - (p.round < this.rxmit ? this.prevRoundParity[s]! : 0);
        if (deficit <= 0) continue;
        maxDeficit = Math.max(maxDeficit, deficit);
        for (const j of mine) {
          if (inUnion[j] === 0) {
            inUnion[j] = 1;
            union.push(j);
          }
        }
      }
      if (maxDeficit === 0) continue;
      if (parityRepair && union.length > maxDeficit && this.nextRow[s]! + maxDeficit <= MAX_FEC_ROWS) {
        for (let t = 0; t < maxDeficit; t++) this.queue.push({ kind: 'fec', stripe: s, row: this.nextRow[s]!++ });
        this.roundParity[s]! += maxDeficit!;
        added += maxDeficit;
      } else {
        union.sort((a, b) => a - b);
        for (const j of union) {
          const b = stripeBlockNo(S, s, j);
          this.repairedInRound[b] = this.rxmit;
          this.queue.push({ kind: 'data', blockNo: b });
        }
        added += union.length;
      }
    }
    this.pending.length = 0;
    // Data blocks in slice order, then parity: what a receiver writes first comes first.
    this.queue.sort((a, b) => (a.kind === b.kind ? (a.kind === 'data' ? a.blockNo - (b as { blockNo: number }).blockNo : 0) : a.kind === 'data' ? -1 : 1));
    return added;
  }

  /** Parity row `row` of stripe `stripe`, computed now. */
  parity(coder: UdpcastParityCoder, stripe: number, row: number): Uint8Array {
    this.prepared ??= new Array<PreparedStripe | undefined>(this.stripes);
    let p = this.prepared[stripe];
    if (p === undefined) {
      const k = stripeBlockCount(this.nBlocks, this.stripes, stripe);
      const blocks: Uint8Array[] = [];
      for (let j = 0; j < k; j++) blocks.push(this.codingBlock(stripeBlockNo(this.stripes, stripe, j)));
      p = coder.prepare(blocks, this.blockBytes);
      this.prepared[stripe] = p;
    }
    const out = new Uint8Array(this.blockBytes);
    coder.encode(p, [row], [out]);
    return out;
  }

  /** Data block i as coded: the last one zero-padded to a full block. */
  private codingBlock(i: number): Uint8Array {
    const b = this.block(i);
    if (b.byteLength === this.blockBytes) return b;
    this.padded ??= new Uint8Array(this.blockBytes);
    this.padded.set(b);
    return this.padded;
  }

  /** Frees what coding held (the slice is done). */
  release(): void {
    this.prepared = undefined;
    this.padded = undefined;
  }
}
