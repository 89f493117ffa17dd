// Who may join, and as what: a JOIN is taken while announcing, refused once the session is
// done, and in between (transferring, ending) taken only with --streaming. A receiver
// must be of a host --hosts lists (when it lists any), able to take parity repair, and
// within maxReceivers; a JOIN from a known id is a repeat (our ACCEPT was lost).
//
// Late receivers (--streaming): a JOIN after START is taken with the slice the first
// pass is about to send (ACCEPT's joinSlice J). The receiver takes J.. live with the
// others, then asks for the head 0..J-1 by NAK. A head slice no longer held is re-read
// from the source (the driver answers pollReload() with a 'reload' input), and a stripe
// the receiver has nothing of is answered with its own data blocks, not k parity. A late
// receiver whose output takes the image only in order (JOIN's CAP_IN_ORDER) goes to the
// catch-up pass at once (slow-policy.ts), so it needs one (cfg.catchUp) with room in it.
//
// What holds: a receiver id is taken once, for good; every receiver taken got an ACCEPT,
// every JOIN refused a DROP to where it came from, and nothing is answered with --async.

import type { Endpoint } from '../../protocol/endpoint.js';
import { CAP_IN_ORDER } from '../../protocol/header.js';
import { CatchUpWhy } from '../../protocol/messages/catch-up.js';
import type { Join } from '../../protocol/messages/join.js';
import { Reason } from '../../protocol/reasons.js';
import type { StartGate } from './announce.js';
import type { SenderConfig } from './config.js';
import type { Phase, SenderEvent } from './events.js';
import type { Participants } from './participants.js';
import type { Roster } from './roster.js';
import type { SliceStore } from './slices.js';
import type { CatchUpPass } from './slow-policy.js';
import type { SenderStats } from './stats.js';
import type { Transmitter } from './transmit.js';

type AdmissionConfig = Pick<SenderConfig, 'async' | 'streaming' | 'catchUp' | 'minReceivers'>;

export class Admission {
  constructor(
    private readonly cfg: Readonly<AdmissionConfig>,
    private readonly stats: SenderStats,
    private readonly roster: Roster,
    private readonly participants: Participants,
    private readonly slices: SliceStore,
    private readonly tx: Transmitter,
    private readonly startGate: StartGate,
    private readonly catchUp: CatchUpPass,
    private readonly events: SenderEvent[],
  ) {}

  /** Hosts with a receiver in the session now (without --hosts: 0). */
  hostsJoined(): number {
    return this.roster.hostsWith((id) => this.participants.get(id)?.state === 'active');
  }

  /** Everyone the start waits for is here: --min-receivers of them, or a receiver of every host --hosts lists. */
  enoughJoined(): boolean {
    if (this.roster.listed) return this.hostsJoined() === this.roster.size;
    return this.cfg.minReceivers > 0 && this.participants.activeCount() >= this.cfg.minReceivers;
  }

  /** A JOIN from `from` while the session is in `phase`. */
  join(from: Endpoint, join: Join, phase: Phase, now: number): void {
    this.stats.joinsReceived++;
    if (this.cfg.async) return; // async receivers never join; a JOIN is a stray
    const known = this.participants.get(join.receiverId);
    if (known !== undefined) {
      // Our ACCEPT was lost: say it again (only to the address that joined).
      if (known.address === from.address && known.state === 'active') this.tx.accept(join.receiverId, known.joinSlice, known.endpoint);
      return;
    }
    const late = phase !== 'announcing';
    // Late and in order: the whole image in the catch-up pass, which it must be able to have.
    const inOrder = late && (join.caps & CAP_IN_ORDER) !== 0;
    const host = this.roster.hostOf(from.address, undefined);
    const refusal =
      late && (!this.cfg.streaming || phase === 'done' || (inOrder && !this.cfg.catchUp))
        ? Reason.LateJoin
        : this.roster.listed && host === undefined
          ? Reason.NotListed
          : inOrder && !this.participants.catchUpHasRoom()
            ? Reason.SessionFull
            : this.participants.refusal(join);
    if (refusal !== undefined) {
      this.stats.joinsRefused++;
      this.tx.drop(join.receiverId, refusal, from);
      return;
    }
    // A late receiver takes the slices from the one the first pass is about to start on: it
    // holds back neither the flow window (it has seen everything sent) nor retention.
    const joinSlice = late ? this.slices.lateJoinSlice() : 0;
    if (late) this.stats.lateJoins++;
    const hostName = host === undefined ? undefined : this.roster.nameOf(host);
    const rcv = this.participants.add(join, from, hostName, joinSlice, late ? this.tx.lastSeq : 0, late ? this.tx.sentCount : 0, now);
    if (host !== undefined) this.roster.attach(host, join.receiverId);
    this.startGate.joined(now);
    this.tx.accept(join.receiverId, joinSlice, from);
    this.events.push({
      kind: 'joined',
      receiverId: join.receiverId,
      address: from.address,
      host: hostName,
      rcvBufBytes: join.rcvBufBytes,
      joinSlice,
    });
    if (inOrder) this.catchUp.move(rcv, CatchUpWhy.LateInOrder, 0, 0, now, phase === 'ending');
  }
}
