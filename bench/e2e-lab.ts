// Why over 500 lines (~530): one end-to-end lab run and its report, CPU breakdown included;
// the report formatting could move beside bench/cpu-breakdown.ts.
//
// End-to-end bench on the namespace lab (bench/lab.ts): one rackcast sender and N
// receivers, random UDP loss at each receiver, a random image of --size MiB.
//
//   npm run build && node dist/bench/e2e-lab.js --receivers 4 --loss 20 --size 256 --reps 1 [--rate 1gbit]
//
// Options: --receivers N (4), --loss PERMILLE (0), --burst (loss in runs, see
// lab.ts), --burst-packets B (10), --size MiB (256), --reps R (1), --rate R (tc tbf
// on the sender's port), --mtu M (1500), --timeout S (per run; default 60 + 1 s per
// MiB), --results-dir DIR (bench/results), --keep (keep the work dir with the logs).
//
// One line per run, the same form for every tool the bench may compare:
//   rackcast N=4 loss=2.0% size=256MiB  seconds=…  MB/s per receiver=…  sender CPU s/GB=…  receiver CPU s/GB (mean)=…  ok|BAD
// seconds: wall clock from the sender's start to the last process's exit (the
//   receivers are started 1 s earlier and are waiting). MB = 10^6 bytes, GB = 10^9.
// CPU: user + system as each CLI reports it in its --json summary, per GB of image; after the
//   runs, a table of where it went, stage by stage (bench/cpu-breakdown.ts), medians over reps.
// ok: every process exited 0, every output has the input's SHA-256, and the sender
//   lists every receiver as verified.
// Results go to bench/results/e2e-lab-<date>-rackcast-n<N>-loss<L>-<size>MiB.json,
// with the commit, Node version, CPU model and core count.
// Exit: 0 all runs ok, 1 some run BAD, 2 usage error or not root / tools missing,
// 3 the lab itself failed (a command of ip/nft/tc, disk).

import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { availableParallelism, release, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { blockBytesForMtu } from '../common/mtu.js';
import { parseBitrate } from '../common/units.js';
import { AUTH_TRAILER_SIZE } from '../protocol/auth-trailer.js';
import { DATA_HEADER_SIZE } from '../protocol/messages/data.js';
import { DEFAULT_SLICE_BLOCKS } from '../sender/args.js';
import { breakdownTable, meanStages, medianStages, type StagesPerGB, stagesPerGB } from './cpu-breakdown.js';
import {
  createRack,
  labSkipReason,
  parseLastJson,
  type Rack,
  type RunResult,
  rcvbufErrors,
  readLinkStats,
  sha256File,
  withLabLock,
  writeRandomFile,
} from './lab.js';
import { cpuModel, gitCommit, projectRoot, stamp } from './machine.js';
import { intOption } from './options.js';

const RECEIVER_HEAD_START_MS = 1_000;
/** The CLI's default --slice-blocks (the bench does not change it). */
const SLICE_BLOCKS = DEFAULT_SLICE_BLOCKS;
const MB = 1e6;
const GB = 1e9;

interface BenchConfig {
  receivers: number;
  lossPermille: number;
  burst: boolean;
  burstPackets: number;
  sizeMiB: number;
  reps: number;
  rate: string | undefined;
  mtu: number;
  /** Passed to udp-sender as --fec (undefined: repair by NAK only). */
  fec: string | undefined;
  /** --io for both CLIs (undefined: their default). */
  io: string | undefined;
  /** --key-file (mac) or --key-file --encrypt, with a fresh key per run. */
  auth: 'mac' | 'encrypt' | undefined;
  /** udp-sender --max-bitrate; the bench then samples the sender's wire rate (pacing check). */
  maxBitrate: string | undefined;
  /** Where receivers write (default: the OS temp dir; /dev/shm keeps the disk out of it). */
  outDir: string | undefined;
  timeoutS: number;
  resultsDir: string;
  keep: boolean;
}

interface ProcessResult {
  ns: string;
  address: string;
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  wallSeconds: number;
  json: Record<string, unknown> | undefined;
  stderrTail: string;
}

interface ReceiverResult extends ProcessResult {
  outputBytes: number | null;
  sha256Ok: boolean;
}

interface RunRecord {
  rep: number;
  ok: boolean;
  problems: string[];
  seconds: number;
  senderReportedSeconds: number | null;
  mbPerSecondPerReceiver: number;
  senderCpuSecondsPerGB: number | null;
  receiverCpuSecondsPerGBMean: number | null;
  senderMaxRssKiB: number | null;
  receiverMaxRssKiBMax: number | null;
  /** Where the CPU went, s/GB per stage (receivers: their mean), from each CLI's --json `cpu`. */
  senderCpuStages?: StagesPerGB;
  receiverCpuStages?: StagesPerGB;
  nftDroppedPerReceiver: number[];
  /** Datagrams each receiver's kernel dropped for a full socket buffer (Udp RcvbufErrors in its namespace). */
  rcvbufErrorsPerReceiver: number[];
  /**
   * Frames that reached the sender's link (its eth0 rx counter) during the run: what the
   * receivers sent it (JOIN, STATUS, REPORT, LEAVE) and the NAKs the group carries to it,
   * plus a few IGMP and ARP frames. Per slice of the image (128 blocks at the run's MTU).
   */
  senderLinkRxFrames: number;
  controlFramesPerSlice: number;
  /**
   * With --max-bitrate: the sender's IP-level rate (eth0 tx bytes minus 14 bytes of Ethernet
   * header per frame) over every 1 s window (100 ms steps) from 1 s after the first data to
   * 1 s before the end; deviation = (worst window − target) / target.
   */
  pacing?: { targetMbitPerS: number; windows: number; minMbitPerS: number; maxMbitPerS: number; worstDeviationPct: number };
  sender: ProcessResult;
  receivers: ReceiverResult[];
  workDir?: string;
}

function usage(msg: string): never {
  process.stderr.write(`e2e-lab: ${msg}\n`);
  process.stderr.write(
    'usage: node dist/bench/e2e-lab.js [--receivers N] [--loss PERMILLE] [--burst] [--burst-packets B] ' +
      '[--size MiB] [--reps R] [--rate 1gbit] [--mtu M] [--fec SxR/Z] [--io auto|native|dgram] [--auth none|mac|encrypt] ' +
      '[--max-bitrate R] [--out-dir DIR] [--timeout S] [--results-dir DIR] [--keep]\n',
  );
  process.exit(2);
}

function authOption(v: unknown): 'mac' | 'encrypt' | undefined {
  if (v === undefined || v === 'none') return undefined;
  if (v === 'mac' || v === 'encrypt') return v;
  usage(`--auth: expected none, mac or encrypt, got ${String(v)}`);
}

function parseConfig(root: string): BenchConfig {
  let values: Record<string, unknown>;
  try {
    ({ values } = parseArgs({
      options: {
        receivers: { type: 'string' },
        loss: { type: 'string' },
        burst: { type: 'boolean' },
        'burst-packets': { type: 'string' },
        size: { type: 'string' },
        reps: { type: 'string' },
        rate: { type: 'string' },
        mtu: { type: 'string' },
        fec: { type: 'string' },
        io: { type: 'string' },
        auth: { type: 'string' },
        'max-bitrate': { type: 'string' },
        'out-dir': { type: 'string' },
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
  const sizeMiB = intOption(values, 'size', 256, 1, 1 << 20, usage);
  return Object.freeze({
    receivers: intOption(values, 'receivers', 4, 1, 240, usage),
    lossPermille: intOption(values, 'loss', 0, 0, 999, usage),
    burst: values.burst === true,
    burstPackets: intOption(values, 'burst-packets', 10, 1, 1000, usage),
    sizeMiB,
    reps: intOption(values, 'reps', 1, 1, 1000, usage),
    rate: typeof values.rate === 'string' ? values.rate : undefined,
    mtu: intOption(values, 'mtu', 1500, 576, 65535, usage),
    fec: typeof values.fec === 'string' ? values.fec : undefined,
    io: typeof values.io === 'string' ? values.io : undefined,
    auth: authOption(values.auth),
    maxBitrate: typeof values['max-bitrate'] === 'string' ? values['max-bitrate'] : undefined,
    outDir: typeof values['out-dir'] === 'string' ? resolve(values['out-dir']) : undefined,
    timeoutS: intOption(values, 'timeout', 60 + sizeMiB, 1, 86_400, usage),
    resultsDir: resolve(typeof values['results-dir'] === 'string' ? values['results-dir'] : join(root, 'bench', 'results')),
    keep: values.keep === true,
  });
}

// ---------------------------------------------------------------- machine facts

// ---------------------------------------------------------------- numbers

function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

function cpuSeconds(json: Record<string, unknown> | undefined): number | null {
  const user = num(json?.cpuUserMs);
  const system = num(json?.cpuSystemMs);
  return user === null || system === null ? null : (user + system) / 1000;
}

function mean(xs: (number | null)[]): number | null {
  if (xs.length === 0 || xs.some((x) => x === null)) return null;
  return (xs as number[]).reduce((a, b) => a + b, 0) / xs.length;
}

function fmt(x: number | null, digits: number): string {
  return x === null ? 'n/a' : x.toFixed(digits);
}

function tailOf(text: string, chars = 1500): string {
  const t = text.trim();
  return t.length > chars ? `…${t.slice(-chars)}` : t;
}

function processResult(ns: string, address: string, r: RunResult): ProcessResult {
  return {
    ns,
    address,
    exitCode: r.code,
    signal: r.signal,
    timedOut: r.timedOut,
    wallSeconds: r.wallMs / 1000,
    json: parseLastJson(r.stdout),
    stderrTail: tailOf(r.stderr),
  };
}

// ---------------------------------------------------------------- one run

async function runOnce(cfg: BenchConfig, rack: Rack, root: string, rep: number, inputPath: string, inputSha: string, imageBytes: number): Promise<RunRecord> {
  const senderCli = join(root, 'dist', 'sender', 'cli.js');
  const receiverCli = join(root, 'dist', 'receiver', 'cli.js');
  const workDir = await mkdtemp(join(tmpdir(), `rackcast-e2e-rep${rep}-`));
  const outBase = cfg.outDir === undefined ? workDir : await mkdtemp(join(cfg.outDir, `rackcast-e2e-out${rep}-`));
  const outputs = rack.receiverAddrs.map((_, i) => join(outBase, `out-${i + 1}.bin`));
  // --io P, or SENDER/RECEIVER (e.g. native/dgram) to tell the two sides' costs apart.
  const [senderIo, receiverIo] = cfg.io === undefined ? [undefined, undefined] : cfg.io.includes('/') ? cfg.io.split('/') : [cfg.io, cfg.io];
  const common: string[] = [];
  if (cfg.auth !== undefined) {
    const keyFile = join(workDir, 'key');
    await writeFile(keyFile, randomBytes(32), { mode: 0o600 });
    common.push('--key-file', keyFile, ...(cfg.auth === 'encrypt' ? ['--encrypt'] : []));
  }
  const timeoutMs = cfg.timeoutS * 1000;
  const droppedBefore = await rack.droppedPackets();
  const senderRxBefore = (await readLinkStats(rack.senderNs)).rxPackets;
  const rcvbufBefore = await Promise.all(rack.receiverNs.map((ns) => rcvbufErrors(rack, ns)));

  const receiverRuns = rack.receiverNs.map((ns, i) =>
    rack.run(
      ns,
      [
        process.execPath,
        receiverCli,
        '--file',
        outputs[i]!,
        '--interface',
        rack.receiverAddrs[i]!,
        '--json',
        '--log',
        join(workDir, `receiver-${i + 1}.log`),
        ...common,
        ...(receiverIo === undefined ? [] : ['--io', receiverIo]),
      ],
      { timeoutMs: timeoutMs + RECEIVER_HEAD_START_MS },
    ),
  );
  await new Promise((r) => setTimeout(r, RECEIVER_HEAD_START_MS));
  const started = performance.now();
  const senderArgv = [
    process.execPath,
    senderCli,
    '--file',
    inputPath,
    '--nokbd',
    '--min-receivers',
    String(cfg.receivers),
    '--interface',
    rack.senderAddr,
    '--json',
    '--log',
    join(workDir, 'sender.log'),
    ...(cfg.fec === undefined ? [] : ['--fec', cfg.fec]),
    ...(cfg.maxBitrate === undefined ? [] : ['--max-bitrate', cfg.maxBitrate]),
    ...common,
    ...(senderIo === undefined ? [] : ['--io', senderIo]),
  ];
  const samples: { t: number; tx: number }[] = [];
  let sampling = cfg.maxBitrate !== undefined;
  const sampler = (async () => {
    while (sampling) {
      const st = await readLinkStats(rack.senderNs).catch(() => undefined);
      if (st !== undefined) samples.push({ t: performance.now(), tx: st.txBytes - 14 * st.txPackets });
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  const [senderRaw, ...receiversRaw] = await Promise.all([rack.run(rack.senderNs, senderArgv, { timeoutMs }), ...receiverRuns]);
  sampling = false;
  await sampler;
  const seconds = (performance.now() - started) / 1000;
  const droppedAfter = await rack.droppedPackets();
  const senderLinkRxFrames = (await readLinkStats(rack.senderNs)).rxPackets - senderRxBefore;
  const slices = Math.max(
    1,
    Math.ceil(imageBytes / (SLICE_BLOCKS * blockBytesForMtu(cfg.mtu, DATA_HEADER_SIZE, cfg.auth === undefined ? 0 : AUTH_TRAILER_SIZE))),
  );
  const rcvbufAfter = await Promise.all(rack.receiverNs.map((ns) => rcvbufErrors(rack, ns)));

  const problems: string[] = [];
  const sender = processResult(rack.senderNs, rack.senderAddr, senderRaw);
  if (sender.exitCode !== 0) problems.push(`sender exit ${sender.exitCode}${sender.timedOut ? ' (timed out)' : ''}`);
  const listed = Array.isArray(sender.json?.receivers) ? (sender.json!.receivers as Record<string, unknown>[]) : [];
  const verified = listed.filter((r) => r.state === 'verified').length;
  if (verified !== cfg.receivers) problems.push(`sender lists ${verified}/${cfg.receivers} receivers verified`);

  const receivers: ReceiverResult[] = [];
  for (let i = 0; i < cfg.receivers; i++) {
    const base = processResult(rack.receiverNs[i]!, rack.receiverAddrs[i]!, receiversRaw[i]!);
    let outputBytes: number | null = null;
    let sha256Ok = false;
    if (existsSync(outputs[i]!)) {
      outputBytes = (await stat(outputs[i]!)).size;
      sha256Ok = outputBytes === imageBytes && (await sha256File(outputs[i]!)) === inputSha;
    }
    if (base.exitCode !== 0) problems.push(`receiver ${i + 1} exit ${base.exitCode}${base.timedOut ? ' (timed out)' : ''}`);
    if (!sha256Ok) problems.push(`receiver ${i + 1} output ${outputBytes === null ? 'missing' : 'differs from the input'}`);
    receivers.push({ ...base, outputBytes, sha256Ok });
  }

  const ok = problems.length === 0;
  const senderCpu = cpuSeconds(sender.json);
  const receiverCpuMean = mean(receivers.map((r) => cpuSeconds(r.json)));
  const record: RunRecord = {
    rep,
    ok,
    problems,
    seconds,
    senderReportedSeconds: num(sender.json?.seconds),
    mbPerSecondPerReceiver: imageBytes / MB / seconds,
    senderCpuSecondsPerGB: senderCpu === null ? null : senderCpu / (imageBytes / GB),
    receiverCpuSecondsPerGBMean: receiverCpuMean === null ? null : receiverCpuMean / (imageBytes / GB),
    senderMaxRssKiB: num(sender.json?.maxRssKiB),
    receiverMaxRssKiBMax: receivers.some((r) => num(r.json?.maxRssKiB) === null) ? null : Math.max(...receivers.map((r) => num(r.json?.maxRssKiB)!)),
    nftDroppedPerReceiver: droppedAfter.map((n, i) => n - droppedBefore[i]!),
    rcvbufErrorsPerReceiver: rcvbufAfter.map((n, i) => n - rcvbufBefore[i]!),
    senderLinkRxFrames,
    controlFramesPerSlice: senderLinkRxFrames / slices,
    senderCpuStages: stagesPerGB(sender.json, imageBytes),
    receiverCpuStages: meanStages(receivers.map((r) => stagesPerGB(r.json, imageBytes))),
    sender,
    receivers,
  };

  // The images are big; the logs are what a BAD run needs.
  if (cfg.maxBitrate !== undefined) record.pacing = pacingOf(samples, parseBitrate(cfg.maxBitrate));
  for (const out of outputs) await rm(out, { force: true });
  if (outBase !== workDir) await rm(outBase, { recursive: true, force: true });
  if (ok && !cfg.keep) await rm(workDir, { recursive: true, force: true });
  else record.workDir = workDir;
  return record;
}

/** Worst 1-second window of the sender's wire rate against the --max-bitrate target. */
function pacingOf(samples: readonly { t: number; tx: number }[], targetBps: number): RunRecord['pacing'] {
  // Steady state: from 1 s after the rate first moves to 1 s before it stops.
  const moving = samples.findIndex((s, i) => i > 0 && s.tx - samples[i - 1]!.tx > 10_000);
  let last = samples.length - 1;
  while (last > 0 && samples[last]!.tx - samples[last - 1]!.tx <= 10_000) last--;
  const rates: number[] = [];
  if (moving > 0) {
    for (let i = moving; i < last; i++) {
      const a = samples[i]!;
      if (a.t < samples[moving]!.t + 1000) continue;
      const j = samples.findIndex((b) => b.t >= a.t + 1000);
      if (j < 0 || samples[j]!.t > samples[last]!.t - 1000) break;
      const b = samples[j]!;
      rates.push(((b.tx - a.tx) * 8) / ((b.t - a.t) / 1000));
    }
  }
  const target = targetBps / 1e6;
  if (rates.length === 0) return { targetMbitPerS: target, windows: 0, minMbitPerS: 0, maxMbitPerS: 0, worstDeviationPct: 0 };
  const min = Math.min(...rates) / 1e6;
  const max = Math.max(...rates) / 1e6;
  const worst = Math.abs(min - target) > Math.abs(max - target) ? min : max;
  return { targetMbitPerS: target, windows: rates.length, minMbitPerS: min, maxMbitPerS: max, worstDeviationPct: (100 * (worst - target)) / target };
}

function summaryLine(cfg: BenchConfig, r: RunRecord): string {
  const loss = `${(cfg.lossPermille / 10).toFixed(1)}%${cfg.burst ? `(burst ${cfg.burstPackets})` : ''}${cfg.fec === undefined ? '' : ` fec=${cfg.fec}`}`;
  const rate = cfg.rate === undefined ? '' : ` rate=${cfg.rate}`;
  const mtu = cfg.mtu === 1500 ? '' : ` mtu=${cfg.mtu}`;
  return (
    `rackcast N=${cfg.receivers} loss=${loss} size=${cfg.sizeMiB}MiB${rate}${mtu}` +
    `  seconds=${r.seconds.toFixed(2)}` +
    `  MB/s per receiver=${r.mbPerSecondPerReceiver.toFixed(1)}` +
    `  sender CPU s/GB=${fmt(r.senderCpuSecondsPerGB, 2)}` +
    `  receiver CPU s/GB (mean)=${fmt(r.receiverCpuSecondsPerGBMean, 2)}` +
    `  rcvbuf drops=${r.rcvbufErrorsPerReceiver.reduce((a, b) => a + b, 0)}` +
    `  control frames at the sender per slice=${r.controlFramesPerSlice.toFixed(2)}` +
    (cfg.io === undefined ? '' : `  io=${cfg.io}`) +
    (cfg.auth === undefined ? '' : `  auth=${cfg.auth}`) +
    (r.pacing === undefined
      ? ''
      : `  pacing ${r.pacing.targetMbitPerS.toFixed(0)} Mbit/s: 1 s windows ${r.pacing.minMbitPerS.toFixed(1)}..${r.pacing.maxMbitPerS.toFixed(1)} ` +
        `(worst ${r.pacing.worstDeviationPct.toFixed(2)}%, ${r.pacing.windows} windows)`) +
    `  ${r.ok ? 'ok' : 'BAD'}`
  );
}

// ---------------------------------------------------------------- main

async function main(): Promise<number> {
  const root = projectRoot();
  const cfg = parseConfig(root);
  const reason = labSkipReason();
  if (reason !== undefined) {
    process.stderr.write(`e2e-lab: ${reason}\n`);
    return 2;
  }
  const senderCli = join(root, 'dist', 'sender', 'cli.js');
  const receiverCli = join(root, 'dist', 'receiver', 'cli.js');
  if (!existsSync(senderCli) || !existsSync(receiverCli)) {
    process.stderr.write(`e2e-lab: ${senderCli} or ${receiverCli} missing: run npm run build\n`);
    return 2;
  }

  const startedAt = new Date();
  const imageBytes = cfg.sizeMiB * 1024 * 1024;
  const dataDir = await mkdtemp(join(tmpdir(), 'rackcast-e2e-'));
  const runs: RunRecord[] = [];
  try {
    const inputPath = join(dataDir, `image-${cfg.sizeMiB}MiB.bin`);
    await writeRandomFile(inputPath, imageBytes);
    const inputSha = await sha256File(inputPath);
    await withLabLock(async () => {
      const rack = await createRack({
        receivers: cfg.receivers,
        lossPermille: cfg.lossPermille,
        burst: cfg.burst,
        burstPackets: cfg.burstPackets,
        rate: cfg.rate,
        mtu: cfg.mtu,
      });
      try {
        for (let rep = 1; rep <= cfg.reps; rep++) {
          const r = await runOnce(cfg, rack, root, rep, inputPath, inputSha, imageBytes);
          runs.push(r);
          process.stdout.write(`${summaryLine(cfg, r)}\n`);
          if (!r.ok) process.stdout.write(`  problems: ${r.problems.join('; ')}; logs in ${r.workDir}\n`);
        }
      } finally {
        await rack.destroy();
      }
    });
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }

  const senderStages = medianStages(runs.map((r) => r.senderCpuStages));
  const receiverStages = medianStages(runs.map((r) => r.receiverCpuStages));
  if (senderStages !== undefined || receiverStages !== undefined) {
    process.stdout.write(`\nCPU s/GB by stage, median of ${runs.length} run(s):\n${breakdownTable(senderStages, receiverStages).join('\n')}\n\n`);
  }
  const { commit, dirty } = gitCommit(root);
  const results = {
    bench: 'e2e-lab',
    tool: 'rackcast',
    startedAt: startedAt.toISOString(),
    commit,
    dirty,
    node: process.version,
    cpuModel: cpuModel(),
    cores: availableParallelism(),
    kernel: release(),
    config: { ...cfg, imageBytes },
    cpuStagesMedian: { sender: senderStages, receiver: receiverStages },
    units: {
      seconds: 'wall clock, sender start to last process exit',
      mbPerSecondPerReceiver: '1e6 bytes of image per second',
      cpuSecondsPerGB: 'user+system CPU seconds per 1e9 bytes of image, from each CLI --json',
    },
    runs,
  };
  await mkdir(cfg.resultsDir, { recursive: true });
  const lossTag = `loss${cfg.lossPermille}${cfg.burst ? 'b' : ''}`;
  const variant =
    (cfg.mtu === 1500 ? '' : `-mtu${cfg.mtu}`) +
    (cfg.io === undefined ? '' : `-${cfg.io.replace('/', '-')}`) +
    (cfg.auth === undefined ? '' : `-${cfg.auth}`) +
    (cfg.fec === undefined ? '' : `-fec${cfg.fec.replace('/', '_')}`) +
    (cfg.maxBitrate === undefined ? '' : `-paced${cfg.maxBitrate}`);
  const file = join(cfg.resultsDir, `e2e-lab-${stamp(startedAt)}-rackcast-n${cfg.receivers}-${lossTag}-${cfg.sizeMiB}MiB${variant}.json`);
  await writeFile(file, `${JSON.stringify(results, null, 2)}\n`);
  process.stdout.write(`results: ${file}\n`);
  return runs.every((r) => r.ok) ? 0 : 1;
}

// `… | head -1` closes stdout early; that is the reader's choice, not a failure.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code !== 'EPIPE') throw e;
});

main().then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`e2e-lab: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 3;
  },
);
