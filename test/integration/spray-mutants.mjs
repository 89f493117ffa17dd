// A hostile talker for fuzz-live.test.ts: listens to a running transfer on loopback (the
// rendezvous group for HELLO, START, STATUS, NAK, REPORT...; the data group for a few DATA),
// learns the real session id, geometry and receiver ids (from what crosses the group, and,
// since JOIN, STATUS and REPORT go to the sender alone, from IDS_FILE: hex ids one per line,
// which the test writes from the receivers' logs), and once the transfer has started
// sprays mutations of the packets it heard, of every type, at the data and control ports:
// bit flips, truncation, extension, out-of-range fields, wrong session, wrong version, wrong
// magic, a changed type, spliced bodies (test/support/fuzz/hostile.ts, the same generators
// as the core fuzz tests), plus fresh packets of every type with the real session id and
// random fields.
//
//   foreign  sends from 127.0.0.2: another address than the sender's and the receivers'
//            (127.0.0.1). Everything is sent, valid or not: the real session id gets the
//            datagrams past the session check, the address check must stop them.
//   same     sends from 127.0.0.1, the address of the sender and every receiver. Without
//            --key-file a datagram from a peer's address with the session id IS that peer to
//            the protocol, so only what the decoders or the session's geometry reject is
//            sent (a forged valid one would be a forgery, not a broken datagram): this mode
//            reaches every decoder field check with the real session id.
//
// Usage: node spray-mutants.mjs PORTBASE DATA_GROUP RDV_GROUP MODE [SEED]
// Runs until SIGTERM, then prints one JSON line on stdout: what it heard and sent.
// Plain JavaScript on the build (dist/), so that it runs with node alone.

import dgram from 'node:dgram';
import { existsSync, readFileSync } from 'node:fs';
import { decodeDatagram } from '../../dist/protocol/codec.js';
import { checkDataAgainstSession } from '../../dist/protocol/geometry.js';
import { MESSAGE_TYPE_NAMES, MessageType } from '../../dist/protocol/header.js';
import { ALL_TYPES, freshPacket, hostileDatagram, mutate } from '../../dist/test/support/fuzz/hostile.js';
import { Rng } from '../../dist/test/support/prng.js';

const LOOPBACK = '127.0.0.1';
const ROUND_INTERVAL_MS = 5;
const MAX_SEND_QUEUE = 256;
const DATA_SAMPLES = 64;
const SAMPLES_PER_TYPE = 8;

const [portbaseText, dataGroup, rdvGroup, mode, seedText, idsFile] = process.argv.slice(2);
const portbase = Number(portbaseText);
if (!Number.isInteger(portbase) || (mode !== 'foreign' && mode !== 'same')) {
  process.stderr.write('usage: spray-mutants.mjs PORTBASE DATA_GROUP RDV_GROUP foreign|same [SEED]\n');
  process.exit(2);
}
const rng = new Rng(seedText === undefined ? Date.now() : Number(seedText));

/** The session as heard: id and geometry from HELLO, receiver ids from their datagrams. */
let session;
let started = false;
const receiverIds = new Set(); // bounded: MAX_RECEIVER_IDS
const MAX_RECEIVER_IDS = 64;
const samples = new Map(); // MessageType -> Uint8Array[] (bounded: SAMPLES_PER_TYPE each)
const heard = {};
let dataSamples = 0;

function keep(bytes) {
  const r = decodeDatagram(bytes);
  if (!r.ok) return;
  const { type, msg } = r.value;
  heard[MESSAGE_TYPE_NAMES[type]] = (heard[MESSAGE_TYPE_NAMES[type]] ?? 0) + 1;
  if (type === MessageType.Hello && session === undefined) {
    session = {
      id: msg.sessionId,
      geometry: { blockBytes: msg.blockBytes, sliceBlocks: msg.sliceBlocks, stripes: msg.stripes, imageBytes: msg.imageBytes },
    };
  }
  if (session === undefined || msg.sessionId !== session.id) return;
  if (type === MessageType.Start || type === MessageType.Data || (type === MessageType.Hello && msg.phase === 1)) started = true;
  if ('receiverId' in msg && msg.receiverId !== 0 && type !== MessageType.Drop && receiverIds.size < MAX_RECEIVER_IDS) receiverIds.add(msg.receiverId);
  const list = samples.get(type) ?? [];
  if (list.length >= SAMPLES_PER_TYPE) list.shift();
  list.push(Uint8Array.from(bytes));
  samples.set(type, list);
}

/** 'same' mode: only what the receiving core must reject on the datagram alone. */
function rejected(bytes) {
  const r = decodeDatagram(bytes);
  if (!r.ok) return true;
  if (r.value.msg.sessionId !== session.id) return true;
  if (r.value.type === MessageType.Data) return !checkDataAgainstSession(session.geometry, r.value.msg).ok;
  return false;
}

const listen = dgram.createSocket({ type: 'udp4', reuseAddr: true });
const dataListen = dgram.createSocket({ type: 'udp4', reuseAddr: true });
const out = dgram.createSocket('udp4');
let dataOpen = true;
listen.on('message', (b) => keep(b));
dataListen.on('message', (b) => {
  keep(b);
  // A few DATA are enough to mutate; reading them all would cost the transfer CPU.
  if (++dataSamples >= DATA_SAMPLES && dataOpen) {
    dataOpen = false;
    dataListen.close();
  }
});

const counts = { sent: 0, filtered: 0, errors: 0, rounds: 0, byKind: {}, byType: {} };
const targets = [
  [dataGroup, portbase],
  [rdvGroup, portbase + 1],
];

function hostile(type) {
  const t = { sessionId: session.id, geometry: session.geometry, receiverIds: [...receiverIds] };
  const pool = samples.get(type);
  if (type === undefined) return hostileDatagram(rng, t, [...samples.values()].flat());
  if (pool !== undefined && rng.chance(0.7)) {
    const m = mutate(rng, rng.pick(pool), undefined, rng.pick([...samples.values()].flat()));
    return { bytes: m.bytes, kind: m.kind };
  }
  if (rng.chance(0.5)) return { bytes: freshPacket(rng, type, t), kind: 'fresh' };
  const m = mutate(rng, freshPacket(rng, type, t));
  return { bytes: m.bytes, kind: m.kind };
}

/** The receiver ids the test learned from the receivers' logs (what an attacker on the receivers' own hosts would know). */
function readIdsFile() {
  if (idsFile === undefined || !existsSync(idsFile)) return;
  for (const line of readFileSync(idsFile, 'utf8').split('\n')) {
    const id = Number.parseInt(line.trim(), 16);
    if (Number.isInteger(id) && id > 0 && receiverIds.size < MAX_RECEIVER_IDS) receiverIds.add(id);
  }
}

function round() {
  readIdsFile();
  if (out.getSendQueueCount() > MAX_SEND_QUEUE) return;
  counts.rounds++;
  for (const type of [...ALL_TYPES, undefined, undefined]) {
    const h = hostile(type);
    if (mode === 'same' && !rejected(h.bytes)) {
      counts.filtered++;
      continue;
    }
    const [group, port] = rng.pick(targets);
    const name = h.bytes.length >= 4 ? (MESSAGE_TYPE_NAMES[h.bytes[3]] ?? 'unknown') : 'short';
    out.send(h.bytes, port, group, (e) => {
      if (e) counts.errors++;
      else {
        counts.sent++;
        counts.byKind[h.kind] = (counts.byKind[h.kind] ?? 0) + 1;
        counts.byType[name] = (counts.byType[name] ?? 0) + 1;
      }
    });
  }
}

let timer;
listen.bind(portbase + 1, () => {
  listen.addMembership(rdvGroup, LOOPBACK);
  dataListen.bind(portbase, () => {
    dataListen.addMembership(dataGroup, LOOPBACK);
    out.bind(0, mode === 'foreign' ? '127.0.0.2' : LOOPBACK, () => {
      out.setMulticastInterface(LOOPBACK);
      out.setMulticastLoopback(true);
      out.setMulticastTTL(1);
      timer = setInterval(() => {
        if (session !== undefined && started) round();
      }, ROUND_INTERVAL_MS);
      process.stderr.write('spray-mutants: listening\n');
    });
  });
});

process.once('SIGTERM', () => {
  clearInterval(timer);
  listen.close();
  if (dataOpen) dataListen.close();
  out.close(() => {
    process.stdout.write(
      JSON.stringify({
        mode,
        session: session === undefined ? null : session.id.toString(16),
        receiverIds: [...receiverIds].map((id) => id.toString(16)),
        heard,
        ...counts,
      }) + '\n',
    );
    process.exit(0);
  });
});
