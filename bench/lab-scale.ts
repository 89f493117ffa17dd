// Feedback against rack size with real processes: one udp-sender and N udp-receivers, each in
// its own namespace of the lab (bench/lab.ts), random UDP loss at every receiver, a small
// random image; the control datagrams on the sender's link counted exactly, by type and
// direction, on the bridge (bench/lab-control.ts). Run for several N, it shows how the
// control traffic per slice grows with the rack.
//
//   npm run build && node dist/bench/lab-scale.js --receivers 4,32 [--size 4] [--loss 10]
//       [--max-bitrate 30m] [--link-rate 40mbit] [--reps 1] [--timeout 120] [--results-dir DIR] [--keep]
//
// --max-bitrate paces the sender (udp-sender --max-bitrate; none: unpaced); --link-rate is
// the sender's port (tc tbf, a burst of two frames, see LINK_BURST_BYTES; none: no limit).
// 32 receivers in Node on a 2-core machine cannot take much more than 30 Mbit/s each.
//
// Per run, one line: seconds, every receiver verified (its SHA-256, and the sender's list),
// control datagrams per slice (every rackcast datagram that is not DATA, both directions),
// slice control per slice (the same less the once-per-receiver or once-per-session handshake:
// HELLO, JOIN, ACCEPT, START, REPORT, REPORT_ACK, LEAVE), and the counts by type. Then the
// ratio of the largest N's figures to the smallest N's (medians over reps).
// Slices: the image over 128 blocks of the block size for MTU 1500 (the CLI defaults).
// The lab lock is taken per run, so another lab bench waits at most one session.
// Results go to bench/results/lab-scale-<time>.json with the commit, Node version and CPU.
// Exit: 0 all runs ok, 1 some run BAD, 2 usage error or not root / tools missing, 3 the lab failed.

import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, loadavg, release, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createRack, labSkipReason, MAX_RECEIVERS, sha256File, withLabLock, writeRandomFile } from './lab.js';
import { LINK_BURST_BYTES, runCountedSession, type SessionResult, SLICE_BLOCKS, slicesOf } from './lab-control.js';
import { cpuModel, gitCommit, projectRoot, stamp } from './machine.js';
import { medianOfSome } from './median.js';
import { intOption } from './options.js';

interface Config {
  receivers: number[];
  sizeMiB: number;
  lossPermille: number;
  maxBitrate: string | undefined;
  linkRate: string | undefined;
  reps: number;
  timeoutS: number;
  resultsDir: string;
  keep: boolean;
}

function usage(msg: string): never {
  process.stderr.write(`lab-scale: ${msg}\n`);
  process.stderr.write(
    'usage: node dist/bench/lab-scale.js [--receivers 4,32] [--size MiB] [--loss PERMILLE] [--max-bitrate R|none] [--link-rate R|none] [--reps R] [--timeout S] [--results-dir DIR] [--keep]\n',
  );
  process.exit(2);
}

function parseConfig(root: string): Config {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      options: {
        receivers: { type: 'string' },
        size: { type: 'string' },
        loss: { type: 'string' },
        'max-bitrate': { type: 'string' },
        'link-rate': { type: 'string' },
        reps: { type: 'string' },
        timeout: { type: 'string' },
        'results-dir': { type: 'string' },
        keep: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    usage((e as Error).message);
  }
  if (values.help === true) usage('help');
  const int = (name: string, dflt: number, min: number, max: number): number => intOption(values, name, dflt, min, max, usage);
  const receivers = String(values.receivers ?? '4,32')
    .split(',')
    .map(Number);
  for (const n of receivers) if (!Number.isInteger(n) || n < 1 || n > MAX_RECEIVERS) usage(`--receivers: ${n} is not in 1..${MAX_RECEIVERS}`);
  const rate = values['max-bitrate'];
  const link = values['link-rate'];
  return {
    receivers,
    sizeMiB: int('size', 4, 1, 1024),
    lossPermille: int('loss', 10, 0, 500),
    maxBitrate: rate === 'none' ? undefined : typeof rate === 'string' ? rate : '30m',
    linkRate: link === 'none' ? undefined : typeof link === 'string' ? link : '40mbit',
    reps: int('reps', 1, 1, 100),
    timeoutS: int('timeout', 120, 10, 3600),
    resultsDir: resolve(typeof values['results-dir'] === 'string' ? values['results-dir'] : join(root, 'bench', 'results')),
    keep: values.keep === true,
  };
}

function byType(r: SessionResult): string {
  const parts: string[] = [];
  for (const [dir, arrow] of [
    ['fromSender', '→'],
    ['toSender', '←'],
  ] as const) {
    const items = Object.entries(r.counts[dir])
      .filter(([name, n]) => n > 0 && name !== 'DATA' && name !== 'other')
      .map(([name, n]) => `${name} ${n}`);
    parts.push(`${arrow} ${items.join(', ') || '-'}`);
  }
  return parts.join('  ');
}

async function main(): Promise<number> {
  const root = projectRoot();
  const cfg = parseConfig(root);
  const reason = labSkipReason();
  if (reason !== undefined) {
    process.stderr.write(`lab-scale: ${reason}\n`);
    return 2;
  }
  const senderCli = join(root, 'dist', 'sender', 'cli.js');
  const receiverCli = join(root, 'dist', 'receiver', 'cli.js');
  if (!existsSync(senderCli) || !existsSync(receiverCli)) {
    process.stderr.write(`lab-scale: ${senderCli} or ${receiverCli} missing: run npm run build\n`);
    return 2;
  }
  const startedAt = new Date();
  const imageBytes = cfg.sizeMiB << 20;
  const slices = slicesOf(imageBytes);
  const dataDir = await mkdtemp(join(tmpdir(), 'rackcast-labscale-'));
  const runs: (SessionResult & { rep: number; loadavg1: number })[] = [];
  try {
    const imagePath = join(dataDir, 'image.bin');
    await writeRandomFile(imagePath, imageBytes);
    const imageSha = await sha256File(imagePath);
    for (let rep = 1; rep <= cfg.reps; rep++) {
      for (const n of cfg.receivers) {
        const r = await withLabLock(async () => {
          const rack = await createRack({ receivers: n, lossPermille: cfg.lossPermille, rate: cfg.linkRate, rateBurstBytes: LINK_BURST_BYTES });
          try {
            return await runCountedSession(rack, {
              senderCli,
              receiverCli,
              imagePath,
              imageSha,
              imageBytes,
              maxBitrate: cfg.maxBitrate,
              timeoutMs: cfg.timeoutS * 1000,
              keep: cfg.keep,
            });
          } finally {
            await rack.destroy();
          }
        });
        runs.push({ ...r, rep, loadavg1: loadavg()[0]! });
        process.stdout.write(
          `N=${n} rep=${rep} seconds=${r.seconds.toFixed(1)} (sender: ${r.senderSeconds?.toFixed(2) ?? 'n/a'})` +
            ` lossDrops=${r.nftDropped} rcvbufDrops=${r.rcvbufErrors} verified=${r.verifiedOutputs}/${n} (sender: ${r.verifiedBySender})` +
            `  control/slice=${(r.summary.control / slices).toFixed(2)}  slice control/slice=${(r.summary.sliceControl / slices).toFixed(2)}` +
            `  DATA=${r.summary.data} other=${r.summary.other}  ${r.ok ? 'ok' : 'BAD'}\n    ${byType(r)}\n`,
        );
        if (!r.ok) process.stdout.write(`    problems: ${r.problems.join('\n    ')}\n`);
      }
    }
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
  const perN = cfg.receivers.map((n) => {
    const mine = runs.filter((r) => r.receivers === n);
    return {
      receivers: n,
      controlPerSlice: medianOfSome(mine.map((r) => r.summary.control / slices)),
      sliceControlPerSlice: medianOfSome(mine.map((r) => r.summary.sliceControl / slices)),
    };
  });
  const lo = perN.reduce((a, b) => (b.receivers < a.receivers ? b : a));
  const hi = perN.reduce((a, b) => (b.receivers > a.receivers ? b : a));
  const ratio = {
    of: `${hi.receivers} receivers / ${lo.receivers} receivers`,
    control: hi.controlPerSlice / lo.controlPerSlice,
    sliceControl: hi.sliceControlPerSlice / lo.sliceControlPerSlice,
  };
  process.stdout.write(
    `\nslices=${slices}  medians over ${cfg.reps} rep(s):\n` +
      perN
        .map((p) => `  N=${p.receivers}: control/slice=${p.controlPerSlice.toFixed(2)}  slice control/slice=${p.sliceControlPerSlice.toFixed(2)}`)
        .join('\n') +
      `\n  ${ratio.of}: control ${ratio.control.toFixed(2)}×, slice control ${ratio.sliceControl.toFixed(2)}×\n`,
  );
  const { commit, dirty } = gitCommit(root);
  const results = {
    bench: 'lab-scale',
    startedAt: startedAt.toISOString(),
    commit,
    dirty,
    node: process.version,
    cpuModel: cpuModel(),
    cores: availableParallelism(),
    kernel: release(),
    config: { ...cfg, imageBytes, slices, sliceBlocks: SLICE_BLOCKS },
    units: {
      control: 'rackcast datagrams other than DATA on the sender link, both directions, counted at the bridge port (nft, bridge family)',
      sliceControl: 'control less HELLO, JOIN, ACCEPT, START, REPORT, REPORT_ACK, LEAVE, CLONE_REPORT(_ACK)',
    },
    perN,
    ratio,
    runs,
  };
  await mkdir(cfg.resultsDir, { recursive: true });
  const file = join(cfg.resultsDir, `lab-scale-${stamp(startedAt)}-n${cfg.receivers.join('-')}-loss${cfg.lossPermille}-${cfg.sizeMiB}MiB.json`);
  await writeFile(file, `${JSON.stringify(results, null, 2)}\n`);
  process.stdout.write(`results: ${file}\n`);
  return runs.every((r) => r.ok) ? 0 : 1;
}

process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code !== 'EPIPE') throw e;
});

main().then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`lab-scale: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 3;
  },
);
