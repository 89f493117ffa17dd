// Which pass over the image this receiver is on, and the moves between passes. The core
// decides when (its phases, which message arrived); this part does what each move means
// for the assembly, the NAK scheduler and our feedback, and says why a move is refused.
//
// Late join (the sender runs with --streaming): a receiver whose first HELLO says the
// transfer is under way waits for its ACCEPT, which names joinSlice J. It then receives
// slices J..end with the others (pass A), and afterwards the head 0..J-1, every slice of
// it NAKed at once within the retention window (pass B, the head pass). Slices are
// delivered with their byte offsets: the driver writes them in place and verifies by
// reading the image back. A receiver whose sink takes the image only in order
// (lateJoinBlocker, or a compressed image it decompresses by magic) takes the whole image
// in the catch-up pass instead, if the sender serves one; else it says so and ends.
//
// The catch-up pass (the sender's CATCHUP: we are too slow for the rack; or late and in
// order, as above): we stop asking for repairs while the first pass goes on, keep our
// place (deliver in order what we have, hold the retention window, let go of what lies
// beyond it), and once the first pass is over (END) ask for everything we lack, the whole
// window at once, as a head pass does; the sender reads it again from its source.
// Once the first pass has run past what we hold (a DATA beyond it came), nothing more of
// it is of use: what we lack begins before it, and the sink takes only in order. We then
// leave the data group (dataWanted, acted on by the driver) so the kernel stops handing us
// datagrams we would read only to drop, CPU that a node of the rack may share with the
// healthy ones; and join it again when the catch-up pass begins, before its first NAK.
// The DATA we did not hear meanwhile is not loss: the first one after counts the gap as read.

import type { CatchUpWhy } from '../../protocol/messages/catch-up.js';
import type { Assembly } from './assembly.js';
import type { ReceiverConfig } from './config.js';
import type { ReceiverEvent } from './events.js';
import type { Feedback } from './feedback.js';
import type { NakScheduler } from './nak-scheduler.js';
import type { Session } from './session.js';

export class Passes {
  /** Late, and our output takes the image only in order: the whole image in the catch-up pass. */
  private lateInOrder = false;
  /** In the catch-up pass, the first pass ran past what we hold and is not over: we left the data group. */
  private outrun = false;
  /** We joined the data group again: the first DATA after says how much we did not hear. */
  private rejoined = false;

  constructor(
    private readonly cfg: Pick<ReceiverConfig, 'lateJoinBlocker' | 'decompressesByMagic'>,
    private readonly session: Session,
    private readonly assembly: Assembly,
    private readonly naks: NakScheduler,
    private readonly feedback: Feedback,
    private readonly events: ReceiverEvent[],
  ) {}

  /** We joined late and take the whole image in order, in the catch-up pass. */
  get inOrder(): boolean {
    return this.lateInOrder;
  }

  /** False while the first pass has outrun us in the catch-up pass: the driver leaves the data group. */
  get dataWanted(): boolean {
    return !this.outrun;
  }

  /**
   * A DATA of slice `sliceNo` we could not hold, beyond what we hold. In the catch-up pass
   * while the first pass goes on, the first pass has outrun us: we stop listening to it.
   */
  beyondHold(sliceNo: number): void {
    if (this.naks.inCatchUp && this.session.end === undefined && sliceNo >= this.assembly.delivered + this.session.holdSlices && !this.outrun) {
      this.outrun = true;
      this.events.push({ kind: 'dataGroupLeft', atSlice: this.assembly.delivered });
    }
  }

  /** The first DATA since we joined the data group again: true once, then the gap is counted. */
  takeRejoin(): boolean {
    const r = this.rejoined;
    this.rejoined = false;
    return r;
  }

  /**
   * The first HELLO says the transfer is under way. Undefined: we may join it (in order, in
   * the catch-up pass, if our output needs that and the sender serves one); else why not.
   */
  joinLate(): string | undefined {
    if (!this.session.streaming) {
      return 'the transfer is already under way, and the sender takes no late receivers (udp-sender --streaming)';
    }
    const inOrder = this.cfg.lateJoinBlocker !== undefined || (this.cfg.decompressesByMagic === true && this.session.imageCompressed);
    if (inOrder && this.session.catchUpOffered) {
      this.lateInOrder = true;
      this.feedback.joinInOrder();
    } else if (this.cfg.lateJoinBlocker !== undefined) {
      return this.blockedDetail();
    }
    return undefined;
  }

  /**
   * Our ACCEPT names joinSlice > 0: we were taken late (we may have heard the HELLO before
   * START, but the sender counts us from joinSlice). Undefined: delivery now starts there;
   * else why we cannot.
   */
  takeLate(joinSlice: number): string | undefined {
    if (this.cfg.lateJoinBlocker !== undefined) return this.blockedDetail();
    if (this.assembly.delivered > 0) {
      return 'the sender took us only after the transfer started, when we had begun from the first slice: start this receiver again to rejoin';
    }
    this.assembly.startLate(joinSlice);
    this.feedback.restartDeliveredCount(joinSlice);
    this.naks.raiseFrontier(joinSlice);
    return undefined;
  }

  /**
   * Late join: once slices joinSlice.. are delivered, the head 0..joinSlice-1 comes. Nothing
   * of it will come unasked, so every head slice in the window is due at once (the sender
   * re-reads it from its source and sends the data blocks again). Only while receiving.
   */
  startHeadWhenDue(totalSlices: number, now: number): void {
    const pass = this.assembly.pass;
    if (pass.kind !== 'live' || pass.joinSlice <= 0 || !this.assembly.passDelivered(totalSlices)) return;
    this.assembly.startHead(totalSlices);
    this.feedback.restartDeliveredCount(0);
    this.events.push({ kind: 'head', slices: this.assembly.pass.joinSlice });
    this.naks.markDue(now);
  }

  /** Into the catch-up pass: too slow for the rack, or late and in order. */
  enterCatchUp(why: CatchUpWhy, rateKBps: number, paceKBps: number, now: number): void {
    this.naks.putOff();
    this.events.push({ kind: 'catchUp', why, rateKBps, paceKBps });
    // The first pass may be over already (END came first): fetch at once.
    if (this.session.end !== undefined) this.beginCatchUp(now);
  }

  /** The first pass is over: what we lack comes now (nothing, unless in the catch-up pass). */
  beginCatchUp(now: number): void {
    if (this.outrun) {
      this.outrun = false;
      this.rejoined = true;
    }
    if (!this.naks.waiting) return;
    this.naks.fetch(now);
    this.feedback.reportAsWeGo();
    this.events.push({ kind: 'catchUpBegan', fromSlice: this.assembly.delivered });
  }

  private blockedDetail(): string {
    return `the transfer is already under way, and a late receiver writes the head of the image last, in place: ${this.cfg.lateJoinBlocker}`;
  }
}
