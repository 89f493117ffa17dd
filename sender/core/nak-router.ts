// Where a NAK goes. One from a receiver no longer active, or whose stripe count is not the
// session's, is ignored (counted). One from a receiver in the catch-up pass while the first
// pass goes on is answered with CATCHUP again (slow-policy.ts). One for a slice no longer
// held, from a late receiver asking for its head (--streaming) or a receiver in the catch-up
// pass, waits for the slice to be read again (reload.ts) and comes back here. One for a
// slice held and sent in full goes to the repair scheduler (repair.ts); one for a slice not
// yet sent in full, or freed after this receiver said it held it (a NAK that crossed its own
// STATUS), is ignored (counted).
//
// A slice freed while this receiver still lacks it: in a quiet session (probe.ts) the
// sender takes a receiver's silence for progress, and one whose answers were lost or late
// two rounds running is credited with slices it does not hold; once every receiver is
// credited with a slice it is freed. That receiver then asks for a slice the sender no
// longer holds; ignoring it left both waiting for ever (the sender for its REPORT, it for
// the repair; the NAKs it hears from others with the same need keep it from giving up).
// So the slice is read again (reload.ts) when the source allows it (a file or a device:
// cfg.canReload, catchUp or streaming), and otherwise the receiver is dropped with
// Reason.Unrecoverable: one line saying why, rather than a hang. Not on its first such NAK:
// a NAK that crossed the repair it asked for and came late (feedback lags tens of ms on a
// loaded machine) names a slice the receiver has by now; only one that asks again for the
// same slice FREED_CONFIRM_MS later still lacks it. Counted in freedSliceNaks.
//
// What holds: repair.ts only sees NAKs from active receivers, with one need and heard
// entry per stripe of the session, for a slice held and sent in full. A NAK from an active
// receiver for a freed slice it has not said it holds is answered (reload) or ends that
// receiver (drop): never ignored.

import type { Nak } from '../../protocol/messages/nak.js';
import { Reason } from '../../protocol/reasons.js';
import type { SenderConfig } from './config.js';
import type { Drops } from './drops.js';
import type { Phase } from './events.js';
import type { Participants, ReceiverRecord } from './participants.js';
import type { ReloadTable } from './reload.js';
import type { RepairScheduler } from './repair.js';
import type { SliceStore } from './slices.js';
import type { CatchUpPass } from './slow-policy.js';
import type { SenderStats } from './stats.js';

/** A receiver asks again for a freed slice at least this long after its first such NAK: it lacks it (see the top of this file). */
export const FREED_CONFIRM_MS = 250;

export class NakRouter {
  /** Receivers that asked for a freed slice they lack, without a reloadable source: the slice and when first asked. */
  private readonly freedAsked = new Map<number, { sliceNo: number; atMs: number }>(); // bounded by cfg.maxReceivers: one per receiver admitted
  constructor(
    private readonly cfg: Readonly<Pick<SenderConfig, 'stripes' | 'streaming' | 'catchUp' | 'canReload'>>,
    private readonly stats: SenderStats,
    private readonly participants: Participants,
    private readonly slices: SliceStore,
    private readonly reload: ReloadTable,
    private readonly repair: RepairScheduler,
    private readonly catchUp: CatchUpPass,
    private readonly drops: Drops,
  ) {}

  /** A NAK as it arrives, or again once the head slice it asked for is reloaded. */
  answer(rcv: ReceiverRecord, nak: Nak, phase: Phase, now: number): void {
    if (rcv.state !== 'active' || nak.need.length !== this.cfg.stripes) {
      this.stats.naksIgnored++;
      return;
    }
    if (rcv.catchUp && phase === 'transferring') {
      this.catchUp.nakTooEarly(rcv, now);
      return;
    }
    const slice = this.slices.get(nak.sliceNo);
    const freed = slice === undefined && nak.sliceNo < this.slices.baseSlice;
    const head = this.cfg.streaming && nak.sliceNo < rcv.joinSlice;
    if (freed && (head || rcv.catchUp)) {
      // A late receiver's head, or the catch-up pass, no longer held: read it again, then answer this NAK.
      if (!this.reload.want(nak)) this.stats.naksIgnored++;
      return;
    }
    if (freed && rcv.deliveredSlices <= nak.sliceNo) {
      this.freedWhileLacking(rcv, nak, now);
      return;
    }
    // A slice freed after this receiver said it held it, or not yet sent in full, cannot be asked for.
    if (slice === undefined || slice.nextBlock < slice.firstPassCount) {
      this.stats.naksIgnored++;
      return;
    }
    // Automatic parity learns from the NAKs of receivers that heard the slice's first pass.
    if (!rcv.catchUp && rcv.joinSlice <= nak.sliceNo) slice.naks++;
    this.repair.answer(slice, nak, now);
  }

  /** A slice freed while `rcv` still lacks it (credited by silence): read it again, or drop `rcv` (see the top of this file). */
  private freedWhileLacking(rcv: ReceiverRecord, nak: Nak, now: number): void {
    this.stats.freedSliceNaks++;
    if (this.cfg.catchUp || this.cfg.streaming || this.cfg.canReload === true) {
      if (!this.reload.want(nak)) this.stats.naksIgnored++;
      return;
    }
    const asked = this.freedAsked.get(rcv.id);
    if (asked === undefined || asked.sliceNo !== nak.sliceNo) {
      this.freedAsked.set(rcv.id, { sliceNo: nak.sliceNo, atMs: now });
      return;
    }
    if (now < asked.atMs + FREED_CONFIRM_MS) return;
    this.freedAsked.delete(rcv.id);
    this.drops.drop(rcv, Reason.Unrecoverable, `slice ${nak.sliceNo} was freed before it had it, and the source cannot be read again`, now);
  }

  /** Slice `sliceNo` read again from the source (a 'reload' input): the NAK that waited for it is answered. */
  reloaded(sliceNo: number, bytes: Uint8Array, phase: Phase, now: number): void {
    const nak = this.reload.take(sliceNo, bytes, phase === 'done');
    if (nak === undefined) return;
    const rcv = this.participants.get(nak.receiverId);
    if (rcv !== undefined) this.answer(rcv, nak, phase, now);
  }
}
