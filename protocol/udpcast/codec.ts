// One entry point for every udpcast datagram: the opcode picks the message's decoder, which
// checks the length and range-checks every field. Never throws on wire input.

import { err, ok, type Result } from '../result.js';
import { decodeConnectReply, type UdpcastConnectReply } from './connect-reply.js';
import { decodeConnectReq, type UdpcastConnectReq } from './connect-req.js';
import { decodeData, type UdpcastData } from './data.js';
import { decodeDisconnect } from './disconnect.js';
import { decodeFecBlock, type UdpcastFecBlock } from './fec-block.js';
import { decodeGo } from './go.js';
import { decodeHello, isHelloOpcode, type UdpcastHello } from './hello.js';
import { decodeOk, type UdpcastOk } from './ok.js';
import { decodeReqack, type UdpcastReqack } from './reqack.js';
import { decodeRetransmit, type UdpcastRetransmit } from './retransmit.js';
import { OP_CONNECT_REPLY, OP_CONNECT_REQ, OP_DATA, OP_DISCONNECT, OP_FEC, OP_GO, OP_OK, OP_REQACK, OP_RETRANSMIT, opcodeOf } from './wire.js';

export type UdpcastMessage =
  | { readonly kind: 'hello'; readonly msg: UdpcastHello }
  | { readonly kind: 'connect-req'; readonly msg: UdpcastConnectReq }
  | { readonly kind: 'connect-reply'; readonly msg: UdpcastConnectReply }
  | { readonly kind: 'go' }
  | { readonly kind: 'disconnect' }
  | { readonly kind: 'data'; readonly msg: UdpcastData }
  | { readonly kind: 'fec'; readonly msg: UdpcastFecBlock }
  | { readonly kind: 'reqack'; readonly msg: UdpcastReqack }
  | { readonly kind: 'ok'; readonly msg: UdpcastOk }
  | { readonly kind: 'retransmit'; readonly msg: UdpcastRetransmit };

function tag<K extends UdpcastMessage['kind'], M>(kind: K, r: Result<M>): Result<UdpcastMessage> {
  return r.ok ? ok({ kind, msg: r.value } as unknown as UdpcastMessage) : r;
}

/** blockBytes: the session's block size, which fixes DATA and FEC lengths. */
export function decodeUdpcastDatagram(bytes: Uint8Array, blockBytes: number): Result<UdpcastMessage> {
  const op = opcodeOf(bytes);
  if (op === undefined) return err('ERR_TRUNCATED', 'udpcast opcode');
  if (isHelloOpcode(op)) return tag('hello', decodeHello(bytes));
  switch (op) {
    case OP_OK:
      return tag('ok', decodeOk(bytes));
    case OP_RETRANSMIT:
      return tag('retransmit', decodeRetransmit(bytes));
    case OP_GO: {
      const r = decodeGo(bytes);
      return r.ok ? ok({ kind: 'go' }) : r;
    }
    case OP_CONNECT_REQ:
      return tag('connect-req', decodeConnectReq(bytes));
    case OP_DISCONNECT: {
      const r = decodeDisconnect(bytes);
      return r.ok ? ok({ kind: 'disconnect' }) : r;
    }
    case OP_REQACK:
      return tag('reqack', decodeReqack(bytes));
    case OP_CONNECT_REPLY:
      return tag('connect-reply', decodeConnectReply(bytes));
    case OP_DATA:
      return tag('data', decodeData(bytes, blockBytes));
    case OP_FEC:
      return tag('fec', decodeFecBlock(bytes, blockBytes));
    default:
      return err('ERR_BAD_TYPE', `udpcast opcode 0x${op.toString(16)}`);
  }
}
