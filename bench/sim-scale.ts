// Large sessions in the simulator, too slow for the test suite: the transfer of
// test/sim/scale.test.ts (4 MiB, 1448-byte blocks, 128-block slices, 1% loss, 0.2 ms
// latency, 1 Gbit/s) with 1 receiver and with --receivers (5,000 by default), the same
// counters, and the wall time and memory it took to simulate. Every receiver must verify.
//
//   npm run build && node dist/bench/sim-scale.js [--receivers 5000] [--seed 16] [--burst 8] [--image-mib 4] [--no-write]
//       [--slice-blocks 128] [--stripes 1] [--cli] [--link-mbit 1000]
//
// --cli: the sender and receivers as the CLI sets them up for N receivers
// (test/support/cli-setup.ts): its slice geometry for a rack of N, automatic parity, timers
// and HEARTBEAT; --slice-blocks and --stripes are then ignored. Without it, the test's
// settings: no proactive parity (every repair answers a NAK) and no HEARTBEAT. Automatic
// parity learns the loss from HEARTBEATs, which come every 2 s in a large session, and
// from the NAKs of the slices it settles: to see its steady state, send for a few seconds
// (a slower --link-mbit costs no more to simulate than a faster one: the work is per
// packet). The line's second-half NAK figure leaves out the start.
//
// Results go to bench/results/sim-scale-<time>.json with the commit, Node version and CPU.
// Exit: 0 every receiver verified, 1 some did not, 2 a usage error (one line, and the usage).

import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { EXIT_USAGE, UsageError } from '../common/errors.js';
import { loadErasureCoder } from '../common/fec.js';
import { cliSetup } from '../test/support/cli-setup.js';
import { type LossModel, simulate } from '../test/support/simulate.js';
import { SliceWatch } from '../test/support/slice-watch.js';
import { cpuModel, gitCommit, projectRoot, stamp } from './machine.js';

interface Args {
  readonly receivers: readonly number[];
  readonly seed: number;
  readonly burst: number | undefined;
  readonly imageMiB: number;
  readonly write: boolean;
  readonly sliceBlocks: number;
  readonly stripes: number;
  readonly cli: boolean;
  readonly linkMbit: number;
}

const USAGE =
  'usage: node dist/bench/sim-scale.js [--receivers 5000] [--seed 16] [--burst 8] [--image-mib 4] [--no-write] [--slice-blocks 128] [--stripes 1] [--cli] [--link-mbit 1000]';

function parseArgs(argv: readonly string[]): Args {
  let receivers = [5000];
  let seed = 16;
  let burst: number | undefined;
  let imageMiB = 4;
  let write = true;
  let sliceBlocks = 128;
  let stripes = 1;
  let cli = false;
  let linkMbit = 1000;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${a} needs a value`);
      return v;
    };
    if (a === '--receivers') receivers = next().split(',').map(Number);
    else if (a === '--seed') seed = Number(next());
    else if (a === '--burst') burst = Number(next());
    else if (a === '--image-mib') imageMiB = Number(next());
    else if (a === '--no-write') write = false;
    else if (a === '--slice-blocks') sliceBlocks = Number(next());
    else if (a === '--stripes') stripes = Number(next());
    else if (a === '--cli') cli = true;
    else if (a === '--link-mbit') linkMbit = Number(next());
    else if (a === '--help') throw new UsageError('');
    else throw new UsageError(`unknown option ${a}`);
  }
  for (const n of receivers) if (!(Number.isInteger(n) && n >= 1 && n <= 16_384)) throw new UsageError(`--receivers: ${n} is not 1..16384`);
  if (!Number.isInteger(seed)) throw new UsageError('--seed must be an integer');
  if (burst !== undefined && !(burst >= 1)) throw new UsageError('--burst must be >= 1');
  if (!(imageMiB > 0 && imageMiB <= 64)) throw new UsageError('--image-mib must be in (0, 64]');
  if (!(Number.isInteger(stripes) && stripes >= 1 && stripes <= 128)) throw new UsageError('--stripes must be an integer in 1..128');
  if (!(Number.isInteger(sliceBlocks) && sliceBlocks >= stripes && sliceBlocks <= 4096 && Math.ceil(sliceBlocks / stripes) <= 224)) {
    throw new UsageError('--slice-blocks must be an integer in stripes..4096, with at most 224 blocks a stripe');
  }
  if (!(linkMbit >= 1 && linkMbit <= 100_000)) throw new UsageError('--link-mbit must be in 1..100000');
  return { receivers, seed, burst, imageMiB, write, sliceBlocks, stripes, cli, linkMbit };
}

interface Row {
  readonly receivers: number;
  readonly verified: number;
  readonly firstDataMs: number;
  readonly senderDoneMs: number;
  readonly sessionMs: number;
  readonly lastReceiverDoneMs: number;
  readonly totalSlices: number;
  readonly statusPerSlice: number;
  readonly statusMaxInSlice: number;
  readonly naksPerSlice: number;
  readonly naksMaxInSlice: number;
  /** NAKs per slice over the second half of the slices: past the start, where automatic parity has the rack's loss. */
  readonly naksPerSliceLate: number;
  readonly repairsPerSlice: number;
  /** Parity sent ahead with the first pass (automatic parity with --cli). */
  readonly parityPerSlice: number;
  readonly sliceBlocks: number;
  readonly stripes: number;
  readonly reqacks: number;
  readonly windowStalls: number;
  readonly wallMs: number;
  readonly rssMiB: number;
}

function one(receivers: number, a: Args): Row {
  const loss: LossModel = a.burst === undefined ? { rate: 0.01 } : { rate: 0.01, burst: a.burst };
  const watch = new SliceWatch();
  const cli = a.cli ? cliSetup(receivers) : undefined;
  const t0 = Date.now();
  const r = simulate({
    receivers,
    imageBytes: Math.round(a.imageMiB * 1024 * 1024),
    seed: a.seed,
    blockBytes: 1448,
    sliceBlocks: cli?.sliceBlocks ?? a.sliceBlocks,
    stripes: cli?.stripes ?? a.stripes,
    ...(cli === undefined ? {} : { sender: cli.sender, receiver: cli.receiver }),
    loss,
    latencyMs: 0.2,
    linkRateBps: a.linkMbit * 1e6,
    maxSteps: 200_000_000,
    coder: loadErasureCoder().coder,
    keepImages: false,
    onSenderTransmit: watch.onSenderTransmit,
  });
  const wallMs = Date.now() - t0;
  let naks = 0;
  let naksLate = 0;
  const half = Math.floor(r.totalSlices / 2);
  for (const [slice, v] of r.naksPerSlice) {
    naks += v;
    if (slice >= half) naksLate += v;
  }
  const s = r.sender.stats;
  const done = r.senderDoneAtMs ?? Number.NaN;
  return {
    receivers,
    verified: r.receivers.filter((x) => x.ok).length,
    firstDataMs: watch.firstDataMs,
    senderDoneMs: done,
    sessionMs: done - watch.firstDataMs,
    lastReceiverDoneMs: r.timeMs,
    totalSlices: r.totalSlices,
    statusPerSlice: s.statusReceived / r.totalSlices,
    statusMaxInSlice: watch.statusMaxInSlice(),
    naksPerSlice: naks / r.totalSlices,
    naksMaxInSlice: Math.max(0, ...r.naksPerSlice.values()),
    naksPerSliceLate: naksLate / Math.max(1, r.totalSlices - half),
    repairsPerSlice: s.repairPackets / r.totalSlices,
    parityPerSlice: s.proactiveParity / r.totalSlices,
    sliceBlocks: cli?.sliceBlocks ?? a.sliceBlocks,
    stripes: cli?.stripes ?? a.stripes,
    reqacks: s.reqacks,
    windowStalls: s.windowStalls,
    wallMs,
    rssMiB: Math.round(process.memoryUsage().rss / 2 ** 20),
  };
}

function main(): void {
  let a: Args;
  try {
    a = parseArgs(process.argv.slice(2));
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    if (e.message !== '') console.error(`sim-scale: ${e.message}`);
    console.error(USAGE);
    process.exitCode = EXIT_USAGE;
    return;
  }
  const rows: Row[] = [];
  const base = one(1, a);
  rows.push(base);
  for (const n of a.receivers) rows.push(one(n, a));
  const loss = a.burst === undefined ? '1% independent' : `1% in bursts of ${a.burst}`;
  console.log(
    `${a.imageMiB} MiB, ${a.cli ? "the CLI's slices (blocks/stripes on each line)" : `${a.sliceBlocks}-block slices in ${a.stripes} stripe(s)`}, ${loss} loss, ${a.linkMbit} Mbit/s, seed ${a.seed}; load average ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
  for (const x of rows) {
    console.log(
      `${String(x.receivers).padStart(5)} receivers: ${x.verified} verified; session ${x.sessionMs.toFixed(1)} ms (${(x.sessionMs / base.sessionMs).toFixed(2)}x one), ` +
        `rendezvous ${x.firstDataMs.toFixed(1)} ms, last receiver done ${x.lastReceiverDoneMs.toFixed(1)} ms; STATUS ${x.statusPerSlice.toFixed(2)}/slice (max ${x.statusMaxInSlice}), ` +
        `NAK ${x.naksPerSlice.toFixed(2)}/slice (max ${x.naksMaxInSlice}; ${x.naksPerSliceLate.toFixed(2)} in the second half), repair ${x.repairsPerSlice.toFixed(2)}/slice, ahead ${x.parityPerSlice.toFixed(2)}/slice; ${x.sliceBlocks}/${x.stripes}; simulated in ${(x.wallMs / 1000).toFixed(1)} s, RSS ${x.rssMiB} MiB`,
    );
  }
  if (rows.some((x) => x.verified !== x.receivers)) process.exitCode = 1;
  if (!a.write) return;
  const root = projectRoot();
  const { commit, dirty } = gitCommit(root);
  const when = new Date();
  const out = join(root, 'bench', 'results', `sim-scale-${stamp(when)}.json`);
  mkdirSync(join(root, 'bench', 'results'), { recursive: true });
  const doc = {
    bench: 'sim-scale',
    when: when.toISOString(),
    commit,
    dirty,
    node: process.version,
    cpu: cpuModel(),
    cpus: cpus().length,
    loadavg: loadavg(),
    args: a,
    rows,
  };
  writeFileSync(out, `${JSON.stringify(doc, null, 2)}\n`);
  console.log(`wrote ${out}`);
}

main();
