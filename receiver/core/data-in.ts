// The DATA the core is handling, as the assembly and the NAK scheduler take it (DataIn):
// one record reused for every packet, filled from a decoded DATA or from a record the data
// socket wrote when it placed the DATA into its slice's memory, so a placed DATA allocates
// nothing.

import type { Data } from '../../protocol/messages/data.js';
import type { DataIn } from './assembly.js';

export class DataInRecord {
  private readonly x: { -readonly [K in keyof DataIn]: DataIn[K] } = {
    sessionId: 0,
    seq: 0,
    sliceNo: 0,
    sliceBytes: 0,
    flags: 0,
    stripe: 0,
    blockNo: 0,
    payload: undefined,
    payloadBytes: 0,
  };

  /** A DATA decoded from a datagram; the payload stays a view into it. */
  fromData(d: Data): DataIn {
    const x = this.x;
    x.sessionId = d.sessionId;
    x.seq = d.seq;
    x.sliceNo = d.sliceNo;
    x.sliceBytes = d.sliceBytes;
    x.flags = d.flags;
    x.stripe = d.stripe;
    x.blockNo = d.blockNo;
    x.payload = d.payload;
    x.payloadBytes = d.payload.byteLength;
    return x;
  }

  /**
   * The placed DATA whose record starts at records[i] (layout: ReceiverInput 'placed'),
   * for the session `sessionId` with blocks of `blockBytes`. The socket checked it decodes,
   * its session and sender, and the payload's length against the slice's size.
   */
  fromPlaced(records: Uint32Array, i: number, sessionId: number, blockBytes: number): DataIn {
    const x = this.x;
    const bf = records[i + 3]!;
    x.sessionId = sessionId;
    x.stripe = 0;
    x.payload = undefined;
    x.seq = records[i]!;
    x.sliceBytes = records[i + 1]! & 0x7fff_ffff;
    x.sliceNo = records[i + 2]!;
    x.blockNo = bf & 0xffff;
    x.flags = bf >>> 16;
    x.payloadBytes = Math.min(blockBytes, x.sliceBytes - x.blockNo * blockBytes);
    return x;
  }
}
