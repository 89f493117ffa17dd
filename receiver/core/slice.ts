// One slice being received: its bytes as they arrive, which data blocks are in hand, the
// parity kept per stripe until the stripe can be decoded, and the NAK timer the scheduler
// keeps for it. The record lives as long as the assembly holds the slice: a slice dropped
// and made again (its size was a guess) starts over, timer and all.
//
// A slice's bytes live in memory the core asks of its SliceMemory: plain heap memory by
// default (the simulator, tests), or the driver's pool, from which the data socket places DATA
// blocks straight into the slice (common/udp/placement.ts).

import { blocksInSlice, type Geometry, stripeBlocks } from '../../protocol/geometry.js';

/** What a SliceMemory learns when the session begins. */
export interface SliceShape {
  readonly sessionId: number;
  /** The sender's address: only its DATA may be placed. */
  readonly senderAddress: string;
  readonly blockBytes: number;
  readonly fullSliceBytes: number;
  /** The most slices held at once (incomplete, or complete and waiting for the sink). */
  readonly retainSlices: number;
  /** Delivered slices the sink may not have written yet (maxQueuedSlices). */
  readonly queuedSlices: number;
}

/** DATA of a slice with FINAL_SLICE clear (bit 0) or set (bit 1) may be placed into it. */
export const FINAL_CLEAR = 1;
export const FINAL_SET = 2;

/**
 * Where slices' bytes live. The core opens a slice when it starts holding it and closes it
 * when it is complete (its bytes are final and go to the sink) or dropped. Memory of a
 * delivered slice is the driver's to free once written. Between open and close, a socket may
 * write DATA blocks of the slice into it (those the core takes there: see FINAL_*), and the
 * core is told of each as a record ('placed' input).
 */
export interface SliceMemory {
  begin(shape: SliceShape): void;
  /**
   * Memory for slice sliceNo: `bytes`, sliceBytes long (contents undefined), and `have`, one
   * zero byte per block (RxSlice.haveBlock: a socket places no block the core has);
   * finalMask: FINAL_CLEAR | FINAL_SET.
   */
  open(sliceNo: number, sliceBytes: number, nBlocks: number, finalMask: number): { readonly bytes: Uint8Array; readonly have: Uint8Array };
  /** Nothing more may be placed into the slice; `free`: it was dropped undelivered, and its memory is free. */
  close(sliceNo: number, buf: Uint8Array, free: boolean): void;
  /** The next slice the core delivers (placement lets the core open slices from there on first). */
  setBase(next: number): void;
}

/** Fresh heap memory per slice; nothing is ever placed. */
export const heapSliceMemory: SliceMemory = {
  begin: () => undefined,
  open: (_sliceNo, sliceBytes, nBlocks) => ({ bytes: new Uint8Array(sliceBytes), have: new Uint8Array(nBlocks) }),
  close: () => undefined,
  setBase: () => undefined,
};

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
  /**
   * What other receivers' NAKs asked for since ours last went (or repairs last landed), per
   * stripe: the largest need among those that heard at least othersHeard[i] (our heard then).
   * Undefined: none heard. The NAK scheduler's own (onOtherNak).
   */
  othersNeed: number[] | undefined;
  othersHeard: number[];
}

export interface RxSlice {
  readonly sliceNo: number;
  readonly sliceBytes: number;
  /** True when sliceBytes was assumed (no packet of it yet) and may be corrected. */
  readonly assumed: boolean;
  readonly buf: Uint8Array;
  /** The FINAL_SLICE values its memory was opened with (FINAL_CLEAR | FINAL_SET): what a socket may place. */
  readonly finalMask: number;
  readonly haveBlock: Uint8Array;
  readonly stripes: RxStripe[];
  /** Every block is in hand (received or decoded). A complete slice has no NAK timer. */
  complete: boolean;
  readonly nak: SliceNak;
}

/** A slice record in memory from `memory` (opened here, with finalMask). */
export function newRxSlice(g: Geometry, sliceNo: number, sliceBytes: number, assumed: boolean, memory: SliceMemory, finalMask: number): RxSlice {
  const nBlocks = blocksInSlice(g, sliceBytes);
  const { bytes, have } = memory.open(sliceNo, sliceBytes, nBlocks, finalMask);
  const stripes: RxStripe[] = [];
  for (let st = 0; st < g.stripes; st++) {
    stripes.push({ have: 0, heard: 0, k: stripeBlocks(g, nBlocks, st), parity: new Map() });
  }
  return {
    sliceNo,
    sliceBytes,
    assumed,
    buf: bytes,
    finalMask,
    haveBlock: have,
    stripes,
    complete: false,
    nak: { due: false, atMs: undefined, naked: false, asked: false, baseMs: 0, rand: 0, askedAtMs: undefined, othersNeed: undefined, othersHeard: [] },
  };
}

/** Symbols each stripe still lacks: what a NAK for the slice asks for. */
export function needOf(s: RxSlice): number[] {
  return s.stripes.map((st) => Math.max(0, st.k - st.have));
}
