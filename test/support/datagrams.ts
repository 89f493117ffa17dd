// Builders for every datagram a core can be fed, with the small round session the core
// tests use as defaults (session SESSION, data group DATA_GROUP:DATA_PORT, sender at
// SENDER). Every field can be given, so the fuzz harness builds its fresh packets with
// random values through the same builders.

import { CAP_PARITY_REPAIR, ipv4ToU32 } from '../../protocol/header.js';
import { ACCEPT_SIZE, encodeAccept } from '../../protocol/messages/accept.js';
import { CATCH_UP_SIZE, type CatchUp, encodeCatchUp } from '../../protocol/messages/catch-up.js';
import { type CloneReport, cloneReportLength, encodeCloneReport } from '../../protocol/messages/clone-report.js';
import { CLONE_REPORT_ACK_SIZE, encodeCloneReportAck } from '../../protocol/messages/clone-report-ack.js';
import { DATA_HEADER_SIZE, type Data, encodeData } from '../../protocol/messages/data.js';
import { DROP_SIZE, encodeDrop } from '../../protocol/messages/drop.js';
import { END_SIZE, encodeEnd } from '../../protocol/messages/end.js';
import { encodeHeartbeat, HEARTBEAT_SIZE, type Heartbeat } from '../../protocol/messages/heartbeat.js';
import { encodeHello, HELLO_SIZE, type Hello } from '../../protocol/messages/hello.js';
import { encodeJoin, JOIN_SIZE } from '../../protocol/messages/join.js';
import { encodeLeave, type Leave, leaveLength } from '../../protocol/messages/leave.js';
import { encodeNak, type Nak, nakLength } from '../../protocol/messages/nak.js';
import { encodeReport, type Report, reportLength } from '../../protocol/messages/report.js';
import { encodeReportAck, REPORT_ACK_SIZE } from '../../protocol/messages/report-ack.js';
import { encodeReqack, REQACK_SIZE, type Reqack } from '../../protocol/messages/reqack.js';
import { encodeStart, START_SIZE } from '../../protocol/messages/start.js';
import { encodeStatus, STATUS_SIZE, type Status } from '../../protocol/messages/status.js';
import type { Reason } from '../../protocol/reasons.js';

export const SESSION = 0x1234abcd;
export const OTHER_SESSION = 0x0badf00d;
export const DATA_GROUP = '239.192.67.1';
export const DATA_PORT = 9000;
export const SENDER = { address: '198.18.0.1', port: 9001 } as const;
export const STRANGER = { address: '198.18.0.99', port: 9001 } as const;

/** The i-th receiver's endpoint and id (ids are nonzero and unrelated to the address on purpose). */
export function rcv(i: number): { readonly from: { address: string; port: number }; readonly id: number } {
  return { from: { address: `198.18.0.${11 + i}`, port: 9001 }, id: 0x100 + i };
}

/** `encode` into a fresh buffer of `size` bytes; the view ends where the encoder stopped. */
export function encoded(size: number, encode: (buf: Uint8Array) => number): Uint8Array {
  const buf = new Uint8Array(size);
  return buf.subarray(0, encode(buf));
}

// ---- receiver → sender datagrams ------------------------------------------------------

export function joinBytes(o: { receiverId: number; rcvBufBytes?: number; caps?: number; sessionId?: number }): Uint8Array {
  return encoded(JOIN_SIZE, (b) =>
    encodeJoin(
      {
        sessionId: o.sessionId ?? SESSION,
        receiverId: o.receiverId,
        caps: o.caps ?? CAP_PARITY_REPAIR,
        rcvBufBytes: o.rcvBufBytes ?? 1000,
      },
      b,
    ),
  );
}

export function statusBytes(o: Partial<Status> & { receiverId: number }): Uint8Array {
  return encoded(STATUS_SIZE, (b) =>
    encodeStatus({ sessionId: SESSION, flags: 0, seenSeq: 0, deliveredSlices: 0, bytesWritten: 0, reqackId: 0, lossPpm: 0, ...o }, b),
  );
}

export function nakBytes(o: Partial<Nak> & { receiverId: number; sliceNo: number; need: readonly number[] }): Uint8Array {
  const msg: Nak = { sessionId: SESSION, seenSeq: 0, heard: o.need.map(() => 0), ...o };
  return encoded(nakLength(msg), (b) => encodeNak(msg, b));
}

export function reportBytes(o: Partial<Report> & { receiverId: number }): Uint8Array {
  const msg: Report = {
    sessionId: SESSION,
    outcome: 0,
    reason: 0,
    bytesWritten: 0,
    digest: new Uint8Array(32),
    detail: '',
    ...o,
  };
  return encoded(reportLength(msg), (b) => encodeReport(msg, b));
}

/** A clone agent's report: by default a whole clone done (table written, extlinux installed). */
export function cloneReportBytes(o: Partial<CloneReport> & { receiverId: number }): Uint8Array {
  const msg: CloneReport = {
    sessionId: SESSION,
    outcome: 0,
    failedStep: 0,
    table: 1,
    fixups: 1,
    bootloader: 1,
    bootloaderKind: 1,
    partitionsFormatted: 3,
    partitionsKept: 0,
    elapsedMs: 0,
    host: '',
    detail: '',
    ...o,
  };
  return encoded(cloneReportLength(msg), (b) => encodeCloneReport(msg, b));
}

export function cloneReportAckBytes(receiverId: number, sessionId = SESSION): Uint8Array {
  return encoded(CLONE_REPORT_ACK_SIZE, (b) => encodeCloneReportAck({ sessionId, receiverId }, b));
}

export function leaveBytes(o: Partial<Leave> & { receiverId: number; reason: Reason }): Uint8Array {
  const msg: Leave = { sessionId: SESSION, detail: '', ...o };
  return encoded(leaveLength(msg), (b) => encodeLeave(msg, b));
}

// ---- sender → receiver datagrams ------------------------------------------------------

/** The HELLO the receiver tests use: 100-byte blocks, 4 a slice, 1 stripe, 950 bytes (400 + 400 + 150). */
export function helloBytes(over: Partial<Hello> = {}): Uint8Array {
  return encoded(HELLO_SIZE, (b) =>
    encodeHello(
      {
        sessionId: SESSION,
        caps: CAP_PARITY_REPAIR,
        blockBytes: 100,
        sliceBlocks: 4,
        stripes: 1,
        phase: 0,
        dataPort: DATA_PORT,
        dataGroup: ipv4ToU32(DATA_GROUP),
        imageBytes: 950,
        retainSlices: 4,
        redundancy: 0,
        ...over,
      },
      b,
    ),
  );
}

export function acceptBytes(receiverId: number, sessionId = SESSION, joinSlice = 0): Uint8Array {
  return encoded(ACCEPT_SIZE, (b) => encodeAccept({ sessionId, receiverId, joinSlice }, b));
}

export function startBytes(windowPackets: number, receivers = 1, sessionId = SESSION): Uint8Array {
  return encoded(START_SIZE, (b) => encodeStart({ sessionId, receivers, windowPackets }, b));
}

export function dataBytes(d: Omit<Data, 'sessionId'> & { sessionId?: number }): Uint8Array {
  const msg: Data = { sessionId: SESSION, ...d };
  return encoded(DATA_HEADER_SIZE + d.payload.byteLength, (b) => encodeData(msg, b));
}

/** A REQACK; without flags, a small session's (answered at once, no heartbeat from it). */
export function reqackBytes(o: Pick<Reqack, 'reqackId' | 'needSlices' | 'needSeq'> & Partial<Reqack>): Uint8Array {
  return encoded(REQACK_SIZE, (b) => encodeReqack({ sessionId: SESSION, flags: 0, answerWindowMs: 0, groupSize: 1, heartbeatMs: 0, ...o }, b));
}

export function endBytes(totalBytes: number, totalSlices: number, digest: Uint8Array, sessionId = SESSION): Uint8Array {
  return encoded(END_SIZE, (b) => encodeEnd({ sessionId, totalBytes, totalSlices, digest }, b));
}

export function reportAckBytes(receiverId: number, sessionId = SESSION): Uint8Array {
  return encoded(REPORT_ACK_SIZE, (b) => encodeReportAck({ sessionId, receiverId }, b));
}

export function heartbeatBytes(o: Partial<Heartbeat> & { receiverId: number }): Uint8Array {
  const msg: Heartbeat = {
    sessionId: SESSION,
    limit: 0,
    flags: 0,
    cpuPermille: 0,
    elapsedMs: 0,
    bytesWritten: 0,
    outputBytes: 0,
    sinkBusyMs: 0,
    outputBusyMs: 0,
    packetsRead: 0,
    packetsSent: 0,
    repairedBlocks: 0,
    deliveredSlices: 0,
    ...o,
  };
  return encoded(HEARTBEAT_SIZE, (b) => encodeHeartbeat(msg, b));
}

export function catchUpBytes(o: Partial<CatchUp> & { receiverId: number }): Uint8Array {
  const msg: CatchUp = { sessionId: SESSION, why: 1, rateKBps: 0, paceKBps: 0, ...o };
  return encoded(CATCH_UP_SIZE, (b) => encodeCatchUp(msg, b));
}

export function dropBytes(receiverId: number, reason: Reason, sessionId = SESSION): Uint8Array {
  return encoded(DROP_SIZE, (b) => encodeDrop({ sessionId, receiverId, reason }, b));
}
