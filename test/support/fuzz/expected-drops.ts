// What a core's outer checks must count for a hostile datagram: the drop code each core
// gives before it looks inside a message, from the datagram, its source and the session.

import { decodeDatagram, type Message } from '../../../protocol/codec.js';
import { MessageType } from '../../../protocol/header.js';

const RECEIVER_TO_SENDER = new Set([
  MessageType.Join,
  MessageType.Status,
  MessageType.Nak,
  MessageType.Report,
  MessageType.Leave,
  MessageType.CloneReport,
  MessageType.Heartbeat,
]);

/**
 * The drop code the receiver core's outer checks must count for `bytes` (undefined: not
 * dropped at the outer checks; an inner check may still count one). `session` is the
 * session and sender the receiver chose (undefined while it listens).
 */
export function expectedReceiverDrop(bytes: Uint8Array, from: string, session: { id: number; sender: string } | undefined): string | undefined {
  const r = decodeDatagram(bytes);
  if (!r.ok) return r.code;
  if (session === undefined) return undefined;
  if (r.value.msg.sessionId !== session.id) return 'ERR_WRONG_SESSION';
  if (RECEIVER_TO_SENDER.has(r.value.type)) return undefined;
  if (from !== session.sender) return 'ERR_WRONG_SENDER';
  return undefined;
}

/** The drop code the sender core's outer checks must count (see expectedReceiverDrop). */
export function expectedSenderDrop(bytes: Uint8Array, from: string, sessionId: number, receivers: ReadonlyMap<number, string>): string | undefined {
  const r = decodeDatagram(bytes);
  if (!r.ok) return r.code;
  const m: Message = r.value;
  if (m.msg.sessionId !== sessionId) return 'ERR_WRONG_SESSION';
  if (m.type === MessageType.Join) return undefined;
  if (!RECEIVER_TO_SENDER.has(m.type)) return 'ERR_OWN';
  const id = (m.msg as { receiverId: number }).receiverId;
  const address = receivers.get(id);
  if (address === undefined) return 'ERR_UNKNOWN_RECEIVER';
  if (address !== from) return 'ERR_FOREIGN_ADDRESS';
  return undefined;
}
