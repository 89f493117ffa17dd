import { describe, expect, it } from 'vitest';
import { decodeDatagram } from '../../../protocol/codec.js';
import { MESSAGE_TYPE_NAMES, MessageType, VERSION } from '../../../protocol/header.js';
import { decodeAccept } from '../../../protocol/messages/accept.js';
import { decodeCatchUp } from '../../../protocol/messages/catch-up.js';
import { decodeCloneReport } from '../../../protocol/messages/clone-report.js';
import { decodeCloneReportAck } from '../../../protocol/messages/clone-report-ack.js';
import { decodeData } from '../../../protocol/messages/data.js';
import { decodeDrop } from '../../../protocol/messages/drop.js';
import { decodeEnd } from '../../../protocol/messages/end.js';
import { decodeHeartbeat } from '../../../protocol/messages/heartbeat.js';
import { decodeHello } from '../../../protocol/messages/hello.js';
import { decodeJoin } from '../../../protocol/messages/join.js';
import { decodeLeave } from '../../../protocol/messages/leave.js';
import { decodeNak } from '../../../protocol/messages/nak.js';
import { decodeReport } from '../../../protocol/messages/report.js';
import { decodeReportAck } from '../../../protocol/messages/report-ack.js';
import { decodeReqack } from '../../../protocol/messages/reqack.js';
import { decodeStart } from '../../../protocol/messages/start.js';
import { decodeStatus } from '../../../protocol/messages/status.js';
import type { Result } from '../../../protocol/result.js';
import { mulberry32 } from '../../support/prng.js';
import { fromHex, readGolden } from './messages/codec-harness.js';

// The golden datagram of each type (test/fixtures/golden/*.hex) and its own decoder.
const CASES: readonly (readonly [string, MessageType, (b: Uint8Array) => Result<unknown>])[] = [
  ['hello', MessageType.Hello, decodeHello],
  ['join', MessageType.Join, decodeJoin],
  ['accept', MessageType.Accept, decodeAccept],
  ['start', MessageType.Start, decodeStart],
  ['data', MessageType.Data, decodeData],
  ['nak', MessageType.Nak, decodeNak],
  ['status', MessageType.Status, decodeStatus],
  ['reqack', MessageType.Reqack, decodeReqack],
  ['end', MessageType.End, decodeEnd],
  ['report', MessageType.Report, decodeReport],
  ['report-ack', MessageType.ReportAck, decodeReportAck],
  ['leave', MessageType.Leave, decodeLeave],
  ['drop', MessageType.Drop, decodeDrop],
  ['clone-report', MessageType.CloneReport, decodeCloneReport],
  ['clone-report-ack', MessageType.CloneReportAck, decodeCloneReportAck],
  ['heartbeat', MessageType.Heartbeat, decodeHeartbeat],
  ['catch-up', MessageType.CatchUp, decodeCatchUp],
];

const code = (r: Result<unknown>): string => (r.ok ? 'ok' : r.code);

describe('decodeDatagram', () => {
  it('has a case for every message type', () => {
    expect(CASES.map(([, type]) => type).sort((a, b) => a - b)).toEqual(
      Object.keys(MESSAGE_TYPE_NAMES)
        .map(Number)
        .sort((a, b) => a - b),
    );
  });

  it.each(CASES)('dispatches %s to its decoder', (name, type, decode) => {
    const bytes = fromHex(readGolden(name));
    const own = decode(bytes);
    expect(own.ok).toBe(true);
    if (!own.ok) return;
    expect(decodeDatagram(bytes)).toEqual({ ok: true, value: { type, msg: own.value } });
  });

  it.each(CASES)('passes on the error of the %s decoder', (name, _type, decode) => {
    // One byte of trailing garbage: fixed layouts and NAK/REPORT/LEAVE say ERR_BAD_LENGTH;
    // DATA takes it as payload, so cut DATA to its bare header instead.
    const golden = fromHex(readGolden(name));
    const bad = name === 'data' ? golden.slice(0, 24) : Uint8Array.from([...golden, 0]);
    const own = decode(bad);
    expect(own.ok).toBe(false);
    expect(decodeDatagram(bad)).toEqual(own);
  });

  it('tells ACCEPT and REPORT_ACK (the same first 12 bytes) apart by the type byte', () => {
    const accept = fromHex(readGolden('accept'));
    const asReportAck = accept.slice(0, 12);
    asReportAck[3] = MessageType.ReportAck;
    const a = decodeDatagram(accept);
    const r = decodeDatagram(asReportAck);
    expect(a.ok && a.value.type).toBe(MessageType.Accept);
    expect(r.ok && r.value.type).toBe(MessageType.ReportAck);
    expect(r.ok && r.value.msg).toEqual(a.ok && { sessionId: a.value.msg.sessionId, receiverId: (a.value.msg as { receiverId: number }).receiverId });
    // The whole ACCEPT relabelled is too long for a REPORT_ACK.
    const long = accept.slice();
    long[3] = MessageType.ReportAck;
    expect(code(decodeDatagram(long))).toBe('ERR_BAD_LENGTH');
  });

  it('a datagram with the body of another type fails the type it claims', () => {
    const join = fromHex(readGolden('join')); // 20 bytes
    join[3] = MessageType.Hello; // HELLO needs 36
    expect(code(decodeDatagram(join))).toBe('ERR_TRUNCATED');
    join[3] = MessageType.Accept; // ACCEPT is exactly 12
    expect(code(decodeDatagram(join))).toBe('ERR_BAD_LENGTH');
  });

  it('passes on header errors', () => {
    expect(code(decodeDatagram(new Uint8Array(0)))).toBe('ERR_TRUNCATED');
    expect(code(decodeDatagram(fromHex('5243 02 01')))).toBe('ERR_TRUNCATED');
    expect(code(decodeDatagram(fromHex('4352 02 01 00000000')))).toBe('ERR_BAD_MAGIC');
    expect(code(decodeDatagram(fromHex('5243 01 01 00000000')))).toBe('ERR_BAD_VERSION');
    expect(code(decodeDatagram(fromHex('5243 02 00 00000000')))).toBe('ERR_BAD_TYPE');
    expect(code(decodeDatagram(fromHex('5243 02 12 00000000')))).toBe('ERR_BAD_TYPE');
  });

  it('never throws and always returns a result, for any type byte', () => {
    const rand = mulberry32(0xc0dec);
    for (let i = 0; i < 20_000; i++) {
      const b = Uint8Array.from({ length: Math.floor(rand() * 101) }, () => Math.floor(rand() * 256));
      if (b.byteLength >= 4) {
        b[0] = 0x52;
        b[1] = 0x43;
        b[2] = VERSION;
      }
      const r = decodeDatagram(b);
      if (typeof r.ok !== 'boolean') expect.fail(`no result at seed 0xc0dec #${i}`);
    }
  });
});
