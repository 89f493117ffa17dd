// Where a NAK goes. One from a receiver no longer active, or whose stripe count is not the
// session's, is ignored (counted). One from a receiver in the catch-up pass while the first
// pass goes on is answered with CATCHUP again (slow-policy.ts). One for a slice no longer
// held, from a late receiver asking for its head (--streaming) or a receiver in the catch-up
// pass, waits for the slice to be read again (reload.ts) and comes back here. One for a
// slice held and sent in full goes to the repair scheduler (repair.ts); any other (a slice
// freed because every receiver had it, or not yet sent in full) is ignored (counted).
//
// What holds: repair.ts only sees NAKs from active receivers, with one need and heard
// entry per stripe of the session, for a slice held and sent in full.

import type { Nak } from '../../protocol/messages/nak.js';
import type { SenderConfig } from './config.js';
import type { Phase } from './events.js';
import type { Participants, ReceiverRecord } from './participants.js';
import type { ReloadTable } from './reload.js';
import type { RepairScheduler } from './repair.js';
import type { SliceStore } from './slices.js';
import type { CatchUpPass } from './slow-policy.js';
import type { SenderStats } from './stats.js';

export class NakRouter {
  constructor(
    private readonly cfg: Readonly<Pick<SenderConfig, 'stripes' | 'streaming'>>,
    private readonly stats: SenderStats,
    private readonly participants: Participants,
    private readonly slices: SliceStore,
    private readonly reload: ReloadTable,
    private readonly repair: RepairScheduler,
    private readonly catchUp: CatchUpPass,
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
    const head = this.cfg.streaming && nak.sliceNo < rcv.joinSlice;
    if (slice === undefined && (head || rcv.catchUp) && nak.sliceNo < this.slices.baseSlice) {
      // A late receiver's head, or the catch-up pass, no longer held: read it again, then answer this NAK.
      if (!this.reload.want(nak)) this.stats.naksIgnored++;
      return;
    }
    // A slice already freed (every receiver had it) or not yet sent in full cannot be asked for.
    if (slice === undefined || slice.nextBlock < slice.firstPassCount) {
      this.stats.naksIgnored++;
      return;
    }
    this.repair.answer(slice, nak, now);
  }

  /** Slice `sliceNo` read again from the source (a 'reload' input): the NAK that waited for it is answered. */
  reloaded(sliceNo: number, bytes: Uint8Array, phase: Phase, now: number): void {
    const nak = this.reload.take(sliceNo, bytes, phase === 'done');
    if (nak === undefined) return;
    const rcv = this.participants.get(nak.receiverId);
    if (rcv !== undefined) this.answer(rcv, nak, phase, now);
  }
}
