// Sender micro bench: what one DATA, one STATUS and one NAK cost the sender core as the
// number of receivers grows (10, 1,000, 10,000 by default). Nothing per packet may grow
// with the receivers: the flow window's check before each DATA reads the least progress
// from heaps (sender/core/least-progress.ts), a STATUS moves one receiver in them, and the
// probe rounds and silence checks of a quiet session cost O(receivers) per round, not per
// packet. A growing column here is a regression.
//
//   npm run build && node dist/bench/sender-scale-bench.js [--receivers 10,1000,10000] [--packets 200000] [--runs 5] [--no-write]
//
// The core alone, in virtual time: N receivers join (distinct endpoints), the session
// starts (quiet: more than maxReportingReceivers), and the sender sends `--packets` DATA
// at 1 Gbit/s of 1448-byte blocks (12 µs of virtual time each). Feedback as a quiet session
// of that size sends it: one STATUS heartbeat a virtual millisecond, from each receiver in
// turn, saying it read everything sent (the heaps move on every one), and two NAKs a
// slice from receivers in turn, each asking for 3 symbols of the slice before the one
// being sent (the repairs they cause are DATA too). Wall-clock nanoseconds are measured
// around the sender's calls only: pollTransmit and handleTimeout for "per DATA", handle
// for "per STATUS" and "per NAK". Each figure is the median over --runs runs after a
// warm-up run. Results go to bench/results/sender-scale-<time>.json with the commit, Node
// version, CPU and load average.

import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { loadErasureCoder } from '../common/fec.js';
import { fullSliceBytes } from '../protocol/geometry.js';
import { DATA_FLAG_REPAIR } from '../protocol/messages/data.js';
import { SenderCore } from '../sender/core.js';
import { senderConfig } from '../test/support/cores.js';
import { joinBytes, nakBytes, statusBytes } from '../test/support/datagrams.js';
import { cpuModel, gitCommit, projectRoot, stamp } from './machine.js';

interface Args {
  readonly receivers: readonly number[];
  readonly packets: number;
  readonly runs: number;
  readonly write: boolean;
}

function parseArgs(argv: readonly string[]): Args {
  let receivers = [10, 1000, 10_000];
  let packets = 200_000;
  let runs = 5;
  let write = true;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--receivers') receivers = next().split(',').map(Number);
    else if (a === '--packets') packets = Number(next());
    else if (a === '--runs') runs = Number(next());
    else if (a === '--no-write') write = false;
    else throw new Error(`unknown option ${a}`);
  }
  for (const n of receivers) if (!(Number.isInteger(n) && n >= 1 && n <= 16_384)) throw new Error(`--receivers: ${n} is not 1..16384`);
  if (!(Number.isInteger(packets) && packets >= 1000)) throw new Error('--packets must be an integer >= 1000');
  if (!(Number.isInteger(runs) && runs >= 1)) throw new Error('--runs must be an integer >= 1');
  return { receivers, packets, runs, write };
}

const BLOCK_BYTES = 1448;
const SLICE_BLOCKS = 128;
/** Virtual time per DATA: 1448 + 24 + 28 bytes at 1 Gbit/s. */
const DATA_MS = ((BLOCK_BYTES + 24 + 28) * 8) / 1e6;

interface RunResult {
  readonly nsPerData: number;
  readonly nsPerStatus: number;
  readonly nsPerNak: number;
  readonly data: number;
  readonly status: number;
  readonly naks: number;
  readonly repairs: number;
  readonly windowStalls: number;
  readonly reqacks: number;
}

function endpoint(i: number): { address: string; port: number } {
  return { address: `198.18.${1 + (i >> 8)}.${i & 0xff}`, port: 10_000 + i };
}

function run(receivers: number, packets: number): RunResult {
  const coder = loadErasureCoder().coder;
  const cfg = senderConfig({
    blockBytes: BLOCK_BYTES,
    sliceBlocks: SLICE_BLOCKS,
    imageBytes: 2 ** 40,
    retainSlices: 16,
    minReceivers: receivers,
    maxReceivers: 16_384,
    helloIntervalMs: 50,
    reqackIntervalMs: 20,
    answerWindowMs: 2,
    heartbeatMs: 250,
    retriesUntilDrop: 20,
    coder,
  });
  const core = new SenderCore(cfg, 0);
  let now = 0;
  for (let i = 0; i < receivers; i++) {
    core.handle({ kind: 'datagram', from: endpoint(i), bytes: joinBytes({ receiverId: 0x100 + i, rcvBufBytes: 8 << 20 }) }, now);
  }
  const slice = new Uint8Array(fullSliceBytes({ blockBytes: BLOCK_BYTES, sliceBlocks: SLICE_BLOCKS, stripes: 1, imageBytes: 0 })).fill(0x5a);
  // Announcing: drain ACCEPTs and START.
  for (let guard = 0; core.currentPhase === 'announcing' && guard < 10_000; guard++) {
    now += 1;
    core.handleTimeout(now);
    while (core.pollTransmit(now) !== undefined);
  }
  if (core.currentPhase !== 'transferring') throw new Error(`${receivers} receivers: the session did not start (${core.currentPhase})`);

  let dataNs = 0n;
  let statusNs = 0n;
  let nakNs = 0n;
  let data = 0;
  let status = 0;
  let naks = 0;
  let lastSeq = 0;
  let sliceNo = 0;
  let naksThisSlice = 0;
  let nextStatusMs = now + 1;
  let statusFrom = 0;
  let nakFrom = 0;
  while (data < packets) {
    while (core.wantsSlice()) core.handle({ kind: 'slice', bytes: slice }, now);
    const t0 = process.hrtime.bigint();
    const due = core.pollTimeout();
    if (due !== undefined && due <= now) core.handleTimeout(now);
    const t = core.pollTransmit(now);
    dataNs += process.hrtime.bigint() - t0;
    if (t !== undefined && t.to === 'data') {
      data++;
      const h = t.parts[0]!;
      const v = new DataView(h.buffer, h.byteOffset, h.byteLength);
      lastSeq = v.getUint32(8, false);
      const s = v.getUint32(12, false);
      if ((v.getUint8(20) & DATA_FLAG_REPAIR) === 0 && s > sliceNo) {
        sliceNo = s;
        naksThisSlice = 0;
      }
      now += DATA_MS;
    } else if (t === undefined) {
      now += DATA_MS; // blocked (window, pacing): time passes, feedback comes
    }
    if (now >= nextStatusMs) {
      nextStatusMs += 1;
      const i = statusFrom++ % receivers;
      const bytes = statusBytes({ receiverId: 0x100 + i, seenSeq: lastSeq, deliveredSlices: Math.max(0, sliceNo - 1), bytesWritten: 0 });
      const s0 = process.hrtime.bigint();
      core.handle({ kind: 'datagram', from: endpoint(i), bytes }, now);
      statusNs += process.hrtime.bigint() - s0;
      status++;
    }
    if (sliceNo > 0 && naksThisSlice < 2) {
      naksThisSlice++;
      const i = nakFrom++ % receivers;
      const bytes = nakBytes({ receiverId: 0x100 + i, sliceNo: sliceNo - 1, seenSeq: lastSeq, need: [3], heard: [0] });
      const n0 = process.hrtime.bigint();
      core.handle({ kind: 'datagram', from: endpoint(i), bytes }, now);
      nakNs += process.hrtime.bigint() - n0;
      naks++;
    }
  }
  const st = core.stats;
  return {
    nsPerData: Number(dataNs) / data,
    nsPerStatus: status === 0 ? 0 : Number(statusNs) / status,
    nsPerNak: naks === 0 ? 0 : Number(nakNs) / naks,
    data,
    status,
    naks,
    repairs: st.repairPackets,
    windowStalls: st.windowStalls,
    reqacks: st.reqacks,
  };
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function main(): void {
  const args = parseArgs(process.argv.slice(2));
  const rows: Record<string, unknown>[] = [];
  console.log(
    `sender core, ${args.packets} DATA a run, median of ${args.runs} runs; load average ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
  console.log('receivers | ns/DATA | ns/STATUS | ns/NAK | repairs | window stalls | REQACK');
  for (const n of args.receivers) {
    run(n, Math.min(args.packets, 20_000)); // warm-up
    const rs = Array.from({ length: args.runs }, () => run(n, args.packets));
    const row = {
      receivers: n,
      nsPerData: median(rs.map((r) => r.nsPerData)),
      nsPerStatus: median(rs.map((r) => r.nsPerStatus)),
      nsPerNak: median(rs.map((r) => r.nsPerNak)),
      data: rs[0]!.data,
      status: rs[0]!.status,
      naks: rs[0]!.naks,
      repairs: rs[0]!.repairs,
      windowStalls: rs[0]!.windowStalls,
      reqacks: rs[0]!.reqacks,
      runs: rs,
    };
    rows.push(row);
    console.log(
      `${String(n).padStart(9)} | ${row.nsPerData.toFixed(0).padStart(7)} | ${row.nsPerStatus.toFixed(0).padStart(9)} | ${row.nsPerNak.toFixed(0).padStart(6)} | ` +
        `${String(row.repairs).padStart(7)} | ${String(row.windowStalls).padStart(13)} | ${row.reqacks}`,
    );
  }
  if (!args.write) return;
  const root = projectRoot();
  const { commit, dirty } = gitCommit(root);
  const when = new Date();
  const out = join(root, 'bench', 'results', `sender-scale-${stamp(when)}.json`);
  mkdirSync(join(root, 'bench', 'results'), { recursive: true });
  const doc = {
    bench: 'sender-scale',
    when: when.toISOString(),
    commit,
    dirty,
    node: process.version,
    cpu: cpuModel(),
    cpus: cpus().length,
    loadavg: loadavg(),
    packets: args.packets,
    runs: args.runs,
    rows,
  };
  writeFileSync(out, `${JSON.stringify(doc, null, 2)}\n`);
  console.log(`wrote ${out}`);
}

main();
