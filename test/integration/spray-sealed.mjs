// A keyless attacker for auth.test.ts: it sits on the same network as a --key-file session,
// listens to it, and sprays what a host without the key can make, at the session's ports
// and groups, from an ephemeral port:
//
// - forgeries of captured datagrams: one random bit flipped; the header kept (live session
//   id, real type) with a random body and a random trailer; a random truncation;
// - fresh fakes: a rackcast header of every type 1..13 with the live session id, a random
//   body and a random trailer (source id, counter, tag), so only the tag can reject them;
// - plain (unsealed) rackcast headers and random bytes, as spray-foreign.mjs sends;
// - verbatim replays of captured datagrams: authentic, so the receivers may open each at
//   most once per socket, and must drop every later copy as a replay.
//
// It captures at most 64 data and 64 control datagrams, then stops reading the data group
// (that costs CPU the transfer needs on a 2-core machine); the pools never grow past that.
//
// Usage: node spray-sealed.mjs PORTBASE DATA_GROUP RDV_GROUP
// Runs until SIGTERM, then prints {"sent":N,"rounds":R,"errors":E,"captured":C,"replays":P,"forged":F}.
// Plain JavaScript so that it runs with node alone (the trailer size comes from the build).

import { randomBytes, randomInt } from 'node:crypto';
import dgram from 'node:dgram';
import { AUTH_TRAILER_SIZE } from '../../dist/protocol/auth-trailer.js';
import { VERSION } from '../../dist/protocol/header.js';

const MAGIC = 0x5243;
const HEADER_SIZE = 8;
const MAX_PAYLOAD = 1472;
const ROUND_INTERVAL_MS = 5;
const MAX_SEND_QUEUE = 256;
const POOL = 64;
const LOOPBACK = '127.0.0.1';

const [portbaseText, dataGroup, rdvGroup] = process.argv.slice(2);
const portbase = Number(portbaseText);
const targets = [
  [dataGroup, portbase],
  [rdvGroup, portbase + 1],
  [dataGroup, portbase + 1],
  [rdvGroup, portbase],
];

/** The port the sprays leave from, once bound. */
let sprayPort = -1;
/** Captured sealed datagrams, by the port they were heard on. */
const pools = { data: [], control: [] };
let sessionId;

function listen(port, group, pool, onFull) {
  const s = dgram.createSocket({ type: 'udp4', reuseAddr: true });
  s.on('error', () => undefined);
  s.on('message', (msg, rinfo) => {
    // Our own sprays come back on multicast loopback: the pools hold only what others sent.
    if (rinfo.port === sprayPort) return;
    if (msg.length < HEADER_SIZE + AUTH_TRAILER_SIZE || msg.readUInt16BE(0) !== MAGIC) return;
    sessionId ??= msg.readUInt32BE(4);
    if (pool.length < POOL) pool.push(Buffer.from(msg));
    if (pool.length >= POOL) onFull(s);
  });
  s.bind(port, () => s.addMembership(group, LOOPBACK));
  return s;
}

let dataSniffer = listen(portbase, dataGroup, pools.data, (s) => {
  if (dataSniffer === undefined) return;
  dataSniffer = undefined;
  s.close();
});
// Control traffic is light: keep listening, the pool just stops growing.
const controlSniffer = listen(portbase + 1, rdvGroup, pools.control, () => undefined);

function pick(pool) {
  return pool.length === 0 ? undefined : pool[randomInt(0, pool.length)];
}

function bitFlipped(d) {
  const f = Buffer.from(d);
  const bit = randomInt(0, f.length * 8);
  f[bit >>> 3] ^= 0x80 >>> (bit & 7);
  return f;
}

function rebodied(d) {
  const f = Buffer.from(d);
  randomBytes(f.length - HEADER_SIZE).copy(f, HEADER_SIZE);
  return f;
}

function truncated(d) {
  return Buffer.from(d.subarray(0, randomInt(0, d.length)));
}

function fake(type, session) {
  const bodyBytes = Math.random() < 0.5 ? randomInt(0, 65) : randomInt(0, MAX_PAYLOAD - HEADER_SIZE - AUTH_TRAILER_SIZE + 1);
  const b = Buffer.alloc(HEADER_SIZE + bodyBytes + AUTH_TRAILER_SIZE);
  b.writeUInt16BE(MAGIC, 0);
  b.writeUInt8(VERSION, 2);
  b.writeUInt8(type, 3);
  b.writeUInt32BE(session, 4);
  randomBytes(bodyBytes + AUTH_TRAILER_SIZE).copy(b, HEADER_SIZE);
  return b;
}

function plainHeader() {
  const b = Buffer.alloc(HEADER_SIZE + randomInt(0, 200));
  b.writeUInt16BE(MAGIC, 0);
  b.writeUInt8(VERSION, 2);
  b.writeUInt8(randomInt(1, 14), 3);
  b.writeUInt32BE(sessionId ?? randomInt(0, 0x1_0000_0000 - 1), 4);
  return b;
}

let replays = 0;
let forged = 0;

function round() {
  const out = [];
  for (const pool of [pools.data, pools.control]) {
    const d = pick(pool);
    if (d === undefined) continue;
    out.push(bitFlipped(d), rebodied(d), truncated(d));
    forged += 3;
    out.push(d); // verbatim: the same bytes every time it is picked
    replays++;
  }
  const session = sessionId ?? randomInt(0, 0x1_0000_0000 - 1);
  for (let type = 1; type <= 13; type++) out.push(fake(type, session));
  forged += 13;
  out.push(plainHeader(), randomBytes(randomInt(0, MAX_PAYLOAD + 1)));
  forged += 2;
  return out;
}

let sent = 0;
let rounds = 0;
let errors = 0;
const sock = dgram.createSocket('udp4');
sock.bind(0, () => {
  sprayPort = sock.address().port;
  sock.setMulticastInterface(LOOPBACK);
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
    dataSniffer?.close();
    controlSniffer.close();
    sock.close(() => {
      const captured = pools.data.length + pools.control.length;
      process.stdout.write(JSON.stringify({ sent, rounds, errors, captured, replays, forged }) + '\n');
      process.exit(0);
    });
  });
});
