// The decoders alone under hostile datagrams (./hostile.ts): decodeDatagram must never
// throw, and a datagram it accepts must encode back to the same bytes.

import { decodeDatagram } from '../../../protocol/codec.js';
import { MESSAGE_TYPE_NAMES, MessageType } from '../../../protocol/header.js';
import { encodeAccept } from '../../../protocol/messages/accept.js';
import { encodeCatchUp } from '../../../protocol/messages/catch-up.js';
import { encodeData } from '../../../protocol/messages/data.js';
import { encodeDrop } from '../../../protocol/messages/drop.js';
import { encodeEnd } from '../../../protocol/messages/end.js';
import { encodeHeartbeat } from '../../../protocol/messages/heartbeat.js';
import { encodeHello } from '../../../protocol/messages/hello.js';
import { encodeJoin } from '../../../protocol/messages/join.js';
import { encodeNak } from '../../../protocol/messages/nak.js';
import { encodeReportAck } from '../../../protocol/messages/report-ack.js';
import { encodeReqack } from '../../../protocol/messages/reqack.js';
import { encodeStart } from '../../../protocol/messages/start.js';
import { encodeStatus } from '../../../protocol/messages/status.js';
import { Rng } from '../prng.js';
import { ALL_TYPES, freshPacket, hostileDatagram } from './hostile.js';
import { FUZZ_SESSION_ID, FuzzViolation } from './transfer.js';

/** Re-encoders for the types whose decode is canonical (REPORT and LEAVE carry text, which decoding may normalise). */
const REENCODE: Partial<Record<MessageType, (msg: never, buf: Uint8Array) => number>> = {
  [MessageType.Hello]: encodeHello,
  [MessageType.Join]: encodeJoin,
  [MessageType.Accept]: encodeAccept,
  [MessageType.Start]: encodeStart,
  [MessageType.Data]: encodeData,
  [MessageType.Nak]: encodeNak,
  [MessageType.Status]: encodeStatus,
  [MessageType.Reqack]: encodeReqack,
  [MessageType.End]: encodeEnd,
  [MessageType.ReportAck]: encodeReportAck,
  [MessageType.Drop]: encodeDrop,
  [MessageType.Heartbeat]: encodeHeartbeat,
  [MessageType.CatchUp]: encodeCatchUp,
};

/**
 * `count` hostile datagrams straight into decodeDatagram: it must never throw, and a datagram
 * it accepts must encode back to the same bytes (no two encodings of one message, so no
 * field is ignored). Returns the results by code ('ok' for accepted).
 */
export function fuzzDecoders(seed: number, count: number, sessionId = FUZZ_SESSION_ID): Record<string, number> {
  const rng = new Rng(seed);
  const byCode: Record<string, number> = {};
  const samples = ALL_TYPES.map((type) => freshPacket(rng, type, { sessionId }));
  const out = new Uint8Array(70_000);
  for (let i = 0; i < count; i++) {
    const h = hostileDatagram(rng, { sessionId }, samples);
    let r: ReturnType<typeof decodeDatagram>;
    try {
      r = decodeDatagram(h.bytes);
    } catch (e) {
      throw new FuzzViolation(seed, 'foreign', `decodeDatagram threw on ${Buffer.from(h.bytes).toString('hex')}: ${String(e)}`);
    }
    const code = r.ok ? 'ok' : r.code;
    byCode[code] = (byCode[code] ?? 0) + 1;
    if (!r.ok) continue;
    const enc = REENCODE[r.value.type];
    if (enc === undefined) continue;
    const n = enc(r.value.msg as never, out);
    if (n !== h.bytes.byteLength || Buffer.compare(Buffer.from(out.subarray(0, n)), Buffer.from(h.bytes)) !== 0) {
      throw new FuzzViolation(
        seed,
        'foreign',
        `${MESSAGE_TYPE_NAMES[r.value.type]} decoded from ${Buffer.from(h.bytes).toString('hex')} encodes back as ${Buffer.from(out.subarray(0, n)).toString('hex')}`,
      );
    }
    if (i % 64 === 0) samples[rng.int(0, samples.length)] = h.bytes;
  }
  return byCode;
}
