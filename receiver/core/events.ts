// What goes into the receiver core besides the clock (ReceiverInput), what comes out of it
// for the driver (ReceiverEvent), and the datagrams it sends (ReceiverTransmit).

import type { Endpoint } from '../../protocol/endpoint.js';
import type { CatchUpWhy } from '../../protocol/messages/catch-up.js';
import type { Reason } from '../../protocol/reasons.js';
import type { PipelineLoad } from './load.js';

/** Words per placed DATA record (the layout common/udp/placement.ts and the native addon write). */
export const PLACED_RECORD_WORDS = 4;

export type ReceiverInput =
  | { readonly kind: 'datagram'; readonly from: Endpoint; readonly bytes: Uint8Array }
  /**
   * DATA from the session's sender that the data socket placed into the memory of open slices
   * (receiver/core/slice.ts SliceMemory; common/udp/placement.ts): `count` records of
   * PLACED_RECORD_WORDS words from records[first * PLACED_RECORD_WORDS], each
   * [seq, 0x80000000 | sliceBytes, sliceNo, blockNo | flags << 16], in arrival order. Read
   * during the call only.
   */
  | { readonly kind: 'placed'; readonly records: Uint32Array; readonly first: number; readonly count: number }
  /** The sink took (wrote) this many delivered slices. */
  | { readonly kind: 'written'; readonly slices: number; readonly bytes: number }
  /** The driver finished the sink and compared digests. */
  | {
      readonly kind: 'verified';
      readonly ok: boolean;
      readonly digest: Uint8Array;
      readonly reason: Reason;
      readonly detail: string;
    }
  /** What the driver measured of the pipeline and the process since its last report (for HEARTBEAT). */
  | ({ readonly kind: 'load' } & PipelineLoad)
  /** Stop now (signal, disk error): the sender is told why. */
  | { readonly kind: 'abort'; readonly reason: Reason; readonly detail: string };

export type ReceiverEvent =
  | {
      readonly kind: 'session';
      readonly sessionId: number;
      readonly sender: string;
      readonly dataGroup: string;
      readonly dataPort: number;
      readonly imageBytes: number;
      /** The sender asks clone agents for their CLONE_REPORT (udp-sender --clone-reports). */
      readonly cloneReports: boolean;
    }
  /** joinSlice > 0: we joined late; slices come from there, the head 0..joinSlice-1 last. */
  | { readonly kind: 'accepted'; readonly joinSlice: number }
  | { readonly kind: 'started'; readonly windowPackets: number }
  /** A complete slice, for the sink: in order within each pass; `offset` is its place in the image. */
  | { readonly kind: 'deliver'; readonly sliceNo: number; readonly offset: number; readonly bytes: Uint8Array }
  /**
   * We are in the catch-up pass: the sender found us too slow for the rack (rates in kB/s:
   * ours, and the pace we fell below), or we joined late and take the image only in order.
   * What we lack comes once the first pass is over.
   */
  | { readonly kind: 'catchUp'; readonly why: CatchUpWhy; readonly rateKBps: number; readonly paceKBps: number }
  /** In the catch-up pass, the first pass ran past what we hold (we had delivered atSlice): we leave the data group until it is over. */
  | { readonly kind: 'dataGroupLeft'; readonly atSlice: number }
  /** No DATA for silentMs while the sender asks about DATA we never saw: join the data group again (data-watch.ts). */
  | { readonly kind: 'dataSilent'; readonly silentMs: number }
  /** The first pass is over: the catch-up pass fetches the rest, from slice fromSlice on, in order. */
  | { readonly kind: 'catchUpBegan'; readonly fromSlice: number }
  /** Late join: every slice from joinSlice on is delivered; now the head 0..slices-1. */
  | { readonly kind: 'head'; readonly slices: number }
  | { readonly kind: 'complete'; readonly totalBytes: number; readonly digest: Uint8Array }
  | { readonly kind: 'done'; readonly ok: boolean; readonly reason: Reason; readonly detail: string };

/**
 * A datagram to send: to the sender alone (its control endpoint, the source of the HELLO
 * the session came from: STATUS, JOIN, REPORT, LEAVE), or to the rendezvous group (NAK,
 * which the other receivers hear too and keep quiet for).
 */
export interface ReceiverTransmit {
  readonly to: Endpoint | 'group';
  readonly bytes: Uint8Array;
}
