// One slice being received: its bytes as they arrive, which data blocks are in hand, the
// parity kept per stripe until the stripe can be decoded, and the NAK timer the scheduler
// keeps for it. The record lives as long as the assembly holds the slice: a slice dropped
// and made again (its size was a guess) starts over, timer and all.

import { blocksInSlice, stripeBlocks, type Geometry } from '../../protocol/geometry.js';

export interface RxStripe {
  /** Symbols (data blocks + kept parity) in hand. */
  have: number;
  /** 1 + the highest parity index received (0: none): tells the sender which burst we heard. */
  heard: number;
  readonly k: number;
  /** Parity kept until the stripe can be decoded; at most k - data blocks in hand. */
  readonly parity: Map<number, Uint8Array>; // bounded by k
}

/** The NAK scheduler's state for one slice; only nak-scheduler.ts writes it. */
export interface SliceNak {
  /** A packet of a later slice, the LAST flag, a REQACK or END showed its first pass is over. */
  due: boolean;
  /** When the NAK timer fires; recomputed then from the need of that moment (see nakTime). */
  atMs: number | undefined;
  /** A NAK for it went out at least once. */
  naked: boolean;
  /** A NAK that covered it went out: ours, or another receiver's that silenced ours. */
  asked: boolean;
  /** The NAK backoff counts from here, with this random share of its band. */
  baseMs: number;
  rand: number;
  /** When a NAK that covers us went out (ours, or one we heard): the first repair after it times the round trip. */
  askedAtMs: number | undefined;
}

export interface RxSlice {
  readonly sliceNo: number;
  readonly sliceBytes: number;
  /** True when sliceBytes was assumed (no packet of it yet) and may be corrected. */
  readonly assumed: boolean;
  readonly buf: Uint8Array;
  readonly haveBlock: Uint8Array;
  readonly stripes: RxStripe[];
  /** Every block is in hand (received or decoded). A complete slice has no NAK timer. */
  complete: boolean;
  readonly nak: SliceNak;
}

export function newRxSlice(g: Geometry, sliceNo: number, sliceBytes: number, assumed: boolean): RxSlice {
  const nBlocks = blocksInSlice(g, sliceBytes);
  const stripes: RxStripe[] = [];
  for (let st = 0; st < g.stripes; st++) {
    stripes.push({ have: 0, heard: 0, k: stripeBlocks(g, nBlocks, st), parity: new Map() });
  }
  return {
    sliceNo,
    sliceBytes,
    assumed,
    buf: new Uint8Array(sliceBytes),
    haveBlock: new Uint8Array(nBlocks),
    stripes,
    complete: false,
    nak: { due: false, atMs: undefined, naked: false, asked: false, baseMs: 0, rand: 0, askedAtMs: undefined },
  };
}

/** Symbols each stripe still lacks: what a NAK for the slice asks for. */
export function needOf(s: RxSlice): number[] {
  return s.stripes.map((st) => Math.max(0, st.k - st.have));
}
