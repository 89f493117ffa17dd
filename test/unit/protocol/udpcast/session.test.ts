// Every datagram of the three recorded sessions (Debian's udp-sender and udp-receiver talking
// to each other) decodes through the one entry point, to the kind its opcode names, and
// encodes back to the same bytes (the uninitialized fields stock peers send were zero).

import { describe, expect, it } from 'vitest';
import { decodeUdpcastDatagram, type UdpcastMessage } from '../../../../protocol/udpcast/codec.js';
import { encodeConnectReply } from '../../../../protocol/udpcast/connect-reply.js';
import { encodeConnectReq } from '../../../../protocol/udpcast/connect-req.js';
import { dataLength, encodeData } from '../../../../protocol/udpcast/data.js';
import { encodeDisconnect } from '../../../../protocol/udpcast/disconnect.js';
import { encodeFecBlock, fecBlockLength } from '../../../../protocol/udpcast/fec-block.js';
import { encodeGo } from '../../../../protocol/udpcast/go.js';
import { encodeHello, HELLO_SIZE } from '../../../../protocol/udpcast/hello.js';
import { encodeOk, OK_SIZE } from '../../../../protocol/udpcast/ok.js';
import { encodeReqack, REQACK_SIZE } from '../../../../protocol/udpcast/reqack.js';
import { encodeRetransmit, RETRANSMIT_SIZE } from '../../../../protocol/udpcast/retransmit.js';
import { RECORDED_BLOCK_BYTES, recordedSession, toHex } from './harness.js';

function encode(m: UdpcastMessage): Uint8Array {
  switch (m.kind) {
    case 'hello': {
      const b = new Uint8Array(HELLO_SIZE);
      encodeHello(m.msg, b);
      return b;
    }
    case 'connect-req': {
      const b = new Uint8Array(12);
      encodeConnectReq(m.msg, b);
      return b;
    }
    case 'connect-reply': {
      const b = new Uint8Array(32);
      encodeConnectReply(m.msg, b);
      return b;
    }
    case 'go': {
      const b = new Uint8Array(4);
      encodeGo({}, b);
      return b;
    }
    case 'disconnect': {
      const b = new Uint8Array(4);
      encodeDisconnect({}, b);
      return b;
    }
    case 'data': {
      const b = new Uint8Array(dataLength(m.msg));
      encodeData(m.msg, b);
      return b;
    }
    case 'fec': {
      const b = new Uint8Array(fecBlockLength(m.msg));
      encodeFecBlock(m.msg, b);
      return b;
    }
    case 'reqack': {
      const b = new Uint8Array(REQACK_SIZE);
      encodeReqack(m.msg, b);
      return b;
    }
    case 'ok': {
      const b = new Uint8Array(OK_SIZE);
      encodeOk(m.msg, b);
      return b;
    }
    case 'retransmit': {
      const b = new Uint8Array(RETRANSMIT_SIZE);
      encodeRetransmit(m.msg, b);
      return b;
    }
  }
}

const NAMES: Record<UdpcastMessage['kind'], string> = {
  hello: 'HELLO',
  'connect-req': 'CONNECT_REQ',
  'connect-reply': 'CONNECT_REPLY',
  go: 'GO',
  disconnect: 'DISCONNECT',
  data: 'DATA',
  fec: 'FEC',
  reqack: 'REQACK',
  ok: 'OK',
  retransmit: 'RETRANSMIT',
};

describe('recorded udpcast sessions', () => {
  it.each(['plain', 'fec', 'end'])('every datagram of the %s session decodes and re-encodes to its bytes', (name) => {
    const session = recordedSession(name);
    expect(session.length).toBeGreaterThan(10);
    const kinds = new Set<string>();
    for (const d of session) {
      const r = decodeUdpcastDatagram(d.bytes, RECORDED_BLOCK_BYTES);
      expect(r.ok, d.note).toBe(true);
      if (!r.ok) continue;
      expect(d.note).toContain(` ${NAMES[r.value.kind]} `);
      expect(toHex(encode(r.value)), d.note).toBe(toHex(d.bytes));
      kinds.add(r.value.kind);
    }
    expect(
      kinds.has('hello') && kinds.has('connect-req') && kinds.has('connect-reply') && kinds.has('reqack') && kinds.has('ok') && kinds.has('disconnect'),
    ).toBe(true);
  });
});
