// The datagrams the udpcast sender core hands to its driver: the control queue (HELLO and
// CONNECT_REPLY, sent ahead of data) and the builders of DATA, FEC and REQACK. Headers are
// fresh per datagram (a driver may batch several before the kernel copies them); payloads
// are views of the slice, never copies.

import { CONNECT_REPLY_SIZE, encodeConnectReply } from '../../../protocol/udpcast/connect-reply.js';
import { DATA_HEADER_SIZE, encodeDataHeader } from '../../../protocol/udpcast/data.js';
import { encodeFecHeader, FEC_HEADER_SIZE, fecBlockNo } from '../../../protocol/udpcast/fec-block.js';
import type { UdpcastParityCoder } from '../../../protocol/udpcast/fec-code.js';
import { encodeHello, HELLO_SIZE } from '../../../protocol/udpcast/hello.js';
import { encodeReqack, REQACK_SIZE } from '../../../protocol/udpcast/reqack.js';
import { MAX_CLIENTS, OP_HELLO, SENDER_CAPABILITIES } from '../../../protocol/udpcast/wire.js';
import type { Repair, TxSlice } from './slice.js';
import { countDrop, type UdpcastSenderStats, type UdpcastTransmit } from './types.js';

/** Transmits queued ahead of data (CONNECT_REPLY, HELLO). Bounded: one per CONNECT_REQ, at most MAX_CLIENTS + a few. */
export const MAX_CONTROL_QUEUE = MAX_CLIENTS + 16;

export class ControlQueue {
  private readonly queue: UdpcastTransmit[] = []; // bounded: MAX_CONTROL_QUEUE, plus one HELLO per interval (drained every turn)

  constructor(private readonly stats: UdpcastSenderStats) {}

  /** A unicast control datagram; dropped (and counted) when the queue is full. */
  push(to: string, bytes: Uint8Array): void {
    if (this.queue.length >= MAX_CONTROL_QUEUE) {
      countDrop(this.stats, 'control-queue-full');
      return;
    }
    this.queue.push({ to, parts: [bytes], paced: false });
    if (bytes.byteLength === CONNECT_REPLY_SIZE) this.stats.connectReplies++;
  }

  /** HELLO to the rendezvous address (and wherever the driver sends HELLO). */
  pushHello(dataGroup: string, blockBytes: number): void {
    const b = new Uint8Array(HELLO_SIZE);
    encodeHello({ opcode: OP_HELLO, capabilities: SENDER_CAPABILITIES, dataAddress: dataGroup, blockBytes }, b);
    this.queue.push({ to: 'rendezvous', parts: [b], paced: false });
    this.stats.hellos++;
  }

  shift(): UdpcastTransmit | undefined {
    return this.queue.shift();
  }
}

export function connectReplyBytes(clNr: number, blockBytes: number, advertised: string): Uint8Array {
  const b = new Uint8Array(CONNECT_REPLY_SIZE);
  encodeConnectReply({ clNr, blockBytes, capabilities: SENDER_CAPABILITIES, dataAddress: advertised }, b);
  return b;
}

/** A DATA or FEC datagram of slice s, counted as first pass or repair. */
export function blockTransmit(s: TxSlice, item: Repair, isRepair: boolean, to: string, coder: UdpcastParityCoder, stats: UdpcastSenderStats): UdpcastTransmit {
  if (item.kind === 'data') {
    const h = new Uint8Array(DATA_HEADER_SIZE);
    encodeDataHeader({ sliceNo: s.sliceNo, blockNo: item.blockNo, sliceBytes: s.sliceBytes }, h);
    if (isRepair) stats.rexmitBlocks++;
    else stats.dataBlocks++;
    return { to, parts: [h, s.block(item.blockNo)], paced: true };
  }
  const h = new Uint8Array(FEC_HEADER_SIZE);
  encodeFecHeader({ stripes: s.stripes, sliceNo: s.sliceNo, fecBlockNo: fecBlockNo(s.stripes, item.stripe, item.row), sliceBytes: s.sliceBytes }, h);
  if (isRepair) stats.repairFecBlocks++;
  else stats.fecBlocks++;
  return { to, parts: [h, s.parity(coder, item.stripe, item.row)], paced: true };
}

/** REQACK for slice s's current round, with its readySet. */
export function reqackTransmit(s: TxSlice, to: string, paced: boolean, stats: UdpcastSenderStats): UdpcastTransmit {
  const b = new Uint8Array(REQACK_SIZE);
  encodeReqack({ sliceNo: s.sliceNo, sliceBytes: s.sliceBytes, rxmit: s.rxmit, readySet: s.readySet }, b);
  stats.reqacks++;
  return { to, parts: [b], paced };
}
