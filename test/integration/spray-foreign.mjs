// A foreign talker for loopback.test.ts: sprays datagrams that are not part of the
// running session at its ports and groups, from an ephemeral port. Each round goes to
// one target (data group/port, rdv group/port, and the two crossed pairs, in turn) and
// holds: random bytes; a rackcast header (magic 0x5243, this build's version) of every type 1..13
// with a random session id and a body that is random and short, random and MTU-sized,
// random of the type's exact size, or zeros of that size (the last two get past the
// length checks, so the decoders' field and session checks are reached too); a wrong
// version; an unknown type; a truncated header. A random session id equals the real one with
// probability 2^-32 per datagram, which is negligible for the few thousand sent.
//
// Usage: node spray-foreign.mjs PORTBASE DATA_GROUP RDV_GROUP
// Runs until SIGTERM, then prints {"sent":N,"rounds":R,"errors":E} on stdout.
// Plain JavaScript so that it runs with node alone, without a build step.

import { randomBytes, randomInt } from 'node:crypto';
import dgram from 'node:dgram';
// The layouts' sizes from the build, so the exact-size bodies follow the protocol.
import { VERSION } from '../../dist/protocol/header.js';
import { ACCEPT_SIZE } from '../../dist/protocol/messages/accept.js';
import { DATA_HEADER_SIZE } from '../../dist/protocol/messages/data.js';
import { DROP_SIZE } from '../../dist/protocol/messages/drop.js';
import { END_SIZE } from '../../dist/protocol/messages/end.js';
import { HELLO_SIZE } from '../../dist/protocol/messages/hello.js';
import { JOIN_SIZE } from '../../dist/protocol/messages/join.js';
import { LEAVE_HEADER_SIZE } from '../../dist/protocol/messages/leave.js';
import { NAK_HEADER_SIZE } from '../../dist/protocol/messages/nak.js';
import { REPORT_HEADER_SIZE } from '../../dist/protocol/messages/report.js';
import { REPORT_ACK_SIZE } from '../../dist/protocol/messages/report-ack.js';
import { REQACK_SIZE } from '../../dist/protocol/messages/reqack.js';
import { START_SIZE } from '../../dist/protocol/messages/start.js';
import { STATUS_SIZE } from '../../dist/protocol/messages/status.js';

const MAGIC = 0x5243;
const HEADER_SIZE = 8;
const MAX_PAYLOAD = 1472;
const ROUND_INTERVAL_MS = 5;
const MAX_SEND_QUEUE = 256;
/** Bytes of each type 1..13 (HELLO..DROP) without its variable part; DATA with the default 1448-byte block. */
const TYPE_SIZE = [
  undefined,
  HELLO_SIZE,
  JOIN_SIZE,
  ACCEPT_SIZE,
  START_SIZE,
  DATA_HEADER_SIZE + 1448,
  NAK_HEADER_SIZE + 2,
  STATUS_SIZE,
  REQACK_SIZE,
  END_SIZE,
  REPORT_HEADER_SIZE,
  REPORT_ACK_SIZE,
  LEAVE_HEADER_SIZE,
  DROP_SIZE,
];

const [portbaseText, dataGroup, rdvGroup] = process.argv.slice(2);
const portbase = Number(portbaseText);
const targets = [
  [dataGroup, portbase],
  [rdvGroup, portbase + 1],
  [dataGroup, portbase + 1],
  [rdvGroup, portbase],
];

function header(version, type, bodyBytes, zeros = false) {
  const b = Buffer.alloc(HEADER_SIZE + bodyBytes);
  b.writeUInt16BE(MAGIC, 0);
  b.writeUInt8(version, 2);
  b.writeUInt8(type, 3);
  b.writeUInt32BE(randomInt(0, 0x1_0000_0000 - 1), 4);
  if (!zeros) randomBytes(bodyBytes).copy(b, HEADER_SIZE);
  return b;
}

function randomBodyBytes() {
  return Math.random() < 0.5 ? randomInt(0, 65) : randomInt(0, MAX_PAYLOAD - HEADER_SIZE + 1);
}

function typed(type) {
  const mode = randomInt(0, 4);
  if (mode < 2) return header(VERSION, type, randomBodyBytes());
  return header(VERSION, type, TYPE_SIZE[type] - HEADER_SIZE, mode === 3);
}

function round() {
  const out = [randomBytes(randomInt(0, MAX_PAYLOAD + 1))];
  for (let type = 1; type <= 13; type++) out.push(typed(type));
  out.push(header((VERSION + randomInt(1, 256)) & 0xff, randomInt(1, 14), randomBodyBytes()));
  out.push(header(VERSION, Math.random() < 0.5 ? 0 : randomInt(14, 256), randomBodyBytes()));
  out.push(header(VERSION, randomInt(1, 14), 0).subarray(0, randomInt(1, HEADER_SIZE)));
  return out;
}

let sent = 0;
let rounds = 0;
let errors = 0;
const sock = dgram.createSocket('udp4');
sock.bind(0, () => {
  sock.setMulticastInterface('127.0.0.1');
  sock.setMulticastLoopback(true);
  sock.setMulticastTTL(1);
  const timer = setInterval(() => {
    // Never queue without bound in libuv if the kernel is slower than us.
    if (sock.getSendQueueCount() > MAX_SEND_QUEUE) return;
    const [group, port] = targets[rounds % targets.length];
    rounds++;
    for (const b of round()) {
      sock.send(b, port, group, (e) => {
        if (e) errors++;
        else sent++;
      });
    }
  }, ROUND_INTERVAL_MS);
  process.once('SIGTERM', () => {
    clearInterval(timer);
    sock.close(() => {
      process.stdout.write(JSON.stringify({ sent, rounds, errors }) + '\n');
      process.exit(0);
    });
  });
});
