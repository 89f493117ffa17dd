// Dropping a receiver mid-session: the one sequence every cause goes through (no answer
// after --retries-until-drop rounds, rounds.ts; a slice it lacks that was freed and cannot be
// read again, nak-router.ts). Its record resolves as dropped, a DROP tells it why, the event
// says it, and the retention and flow window it held are freed at once.

import type { Reason } from '../../protocol/reasons.js';
import type { SenderEvent } from './events.js';
import type { FlowWindow } from './flow.js';
import type { Participants, ReceiverRecord } from './participants.js';
import type { Transmitter } from './transmit.js';

export class Drops {
  constructor(
    private readonly participants: Participants,
    private readonly tx: Transmitter,
    private readonly flow: FlowWindow,
    private readonly events: SenderEvent[],
  ) {}

  drop(rcv: ReceiverRecord, reason: Reason, detail: string, now: number): void {
    this.participants.drop(rcv, reason, detail, now);
    this.tx.drop(rcv.id, reason);
    this.events.push({ kind: 'dropped', receiverId: rcv.id, reason, detail });
    this.flow.freeDelivered();
  }
}
