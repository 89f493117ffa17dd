// What goes into the sender core besides the clock (SenderInput), what comes out of it for
// the driver to log (SenderEvent), and the phases it goes through (sender/core.ts says what
// holds in each). The parts in sender/core/ that report to the driver push SenderEvents
// onto the core's queue, which the driver drains every turn.

import type { Endpoint } from '../../protocol/endpoint.js';
import type { CatchUpWhy } from '../../protocol/messages/catch-up.js';
import type { CloneReport } from '../../protocol/messages/clone-report.js';
import type { Reason } from '../../protocol/reasons.js';

export type SenderInput =
  | { readonly kind: 'datagram'; readonly from: Endpoint; readonly bytes: Uint8Array }
  /** Enter on the sender's terminal. */
  | { readonly kind: 'start' }
  /**
   * The next slice of the image: fullSliceBytes except the last. Only after wantsSlice() said
   * yes (a driver reads while the core runs on: see wantsSlice); once the session is done it
   * is discarded.
   */
  | { readonly kind: 'slice'; readonly bytes: Uint8Array }
  /** The source ended; digest is the SHA-256 of every byte given in slices. */
  | { readonly kind: 'eof'; readonly digest: Uint8Array }
  /** Slice `sliceNo` read again from the source, as pollReload() asked (--streaming). */
  | { readonly kind: 'reload'; readonly sliceNo: number; readonly bytes: Uint8Array }
  /** Stop now (signal, source error): every receiver is told. */
  | { readonly kind: 'abort'; readonly detail: string };

export type SenderEvent =
  /** joinSlice > 0: a late receiver (--streaming), which gets the head 0..joinSlice-1 by repair. */
  | {
      readonly kind: 'joined';
      readonly receiverId: number;
      readonly address: string;
      /** Its --hosts line, or undefined without --hosts. */
      readonly host: string | undefined;
      readonly rcvBufBytes: number;
      readonly joinSlice: number;
    }
  | { readonly kind: 'started'; readonly receivers: number; readonly windowPackets: number }
  /**
   * The receiver goes to the catch-up pass: the slow-node policy found it too slow (rates in
   * bytes per second: its own, and the pace it fell below), or it joined late and takes the
   * image only in order (rates 0).
   */
  | { readonly kind: 'movedToCatchUp'; readonly receiverId: number; readonly why: CatchUpWhy; readonly rateBps: number; readonly paceBps: number }
  /** The first pass is over: the catch-up pass begins for this receiver. */
  | { readonly kind: 'catchUpBegan'; readonly receiverId: number }
  /** --start-timeout passed before the session started: it ends now (a 'done' follows), nothing was sent. */
  | { readonly kind: 'startTimedOut'; readonly receivers: number }
  | { readonly kind: 'dropped'; readonly receiverId: number; readonly reason: Reason; readonly detail: string }
  | { readonly kind: 'reported'; readonly receiverId: number; readonly ok: boolean; readonly detail: string }
  | { readonly kind: 'left'; readonly receiverId: number; readonly reason: Reason; readonly detail: string }
  | { readonly kind: 'ending'; readonly totalBytes: number; readonly totalSlices: number }
  /** A clone agent's CLONE_REPORT, the first from that receiver (repeats are only counted). */
  | { readonly kind: 'clone-reported'; readonly receiverId: number; readonly report: CloneReport }
  /** --async --carousel: pass `pass` (2..carouselPasses) begins; the driver reads the image again from slice 0. */
  | { readonly kind: 'pass'; readonly pass: number }
  | { readonly kind: 'done'; readonly ok: boolean };

export type Phase = 'announcing' | 'transferring' | 'ending' | 'done';
