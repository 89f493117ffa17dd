// rackcast's `udp-sender --protocol udpcast` against Debian's own udp-sender, both serving
// Debian's stock udp-receivers (the ones in FOG and Clonezilla boot images), in the same
// namespace lab (bench/lab.ts), same image, same loss, alternating within each repetition.
//
//   npm run build && node dist/bench/udpcast-compat.js [--receivers 1,4,8] [--loss 0,5,10]
//       [--reps 1] [--size 128] [--hang-runs 20 --hang-loss 5 --hang-receivers 4]
//       [--timeout 120] [--out-dir /dev/shm] [--tools rackcast,udpcast]
//
// Per run: wall seconds (sender started → last receiver exited), transfer seconds (the
// sender's start line — udpcast's "Starting transfer", rackcast's "starting with" — → last
// receiver exited; udpcast waits about 2 s after the last connection before it starts, which
// the wall time includes), MB/s per receiver from the transfer time, whether every copy is
// byte-identical, and hangs (a run killed at --timeout). Results: bench/results/
// udpcast-compat-<stamp>.json and .md, with the commit, Node version and CPU.
//
// The ratio the bench reports first is by wall time: what an admin waits for, from the
// sender's start to the last receiver done, including each sender's own wait before it
// starts (udpcast's sender waits 2 s with no new connection). The ratio of MB/s over the
// transfer time (start line to the last receiver) is reported beside it. Each point shows
// the median and the spread (min-max) of the runs that completed.
//
// Per run it also keeps the receivers' CPU seconds (user + system, from the shell that runs
// each udp-receiver), the last lines of a receiver that failed, and rackcast's --json
// counters (rounds per slice, answer delays, what the sender waited for).

import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { acquireLabLock, createRack, labSkipReason, parseLastJson, type Rack, sha256File, writeRandomFile } from './lab.js';
import { cpuModel, gitCommit, projectRoot, stamp } from './machine.js';
import { median } from './median.js';
import { packageVersions } from './peers.js';

type Tool = 'rackcast' | 'udpcast';

interface Run {
  tool: Tool;
  receivers: number;
  lossPct: number;
  rep: number;
  ok: boolean;
  hung: boolean;
  identical: number;
  wallSeconds: number;
  transferSeconds: number | null;
  mbPerSecPerReceiver: number | null;
  senderExit: number | null;
  note: string;
  /** Per receiver: user + system CPU seconds (null if unknown). */
  receiverCpuS: (number | null)[];
  /** rackcast's --json report (stats, CPU), when it printed one. */
  report?: Record<string, unknown>;
  /** The stderr of each receiver that failed (its last 4000 characters). */
  receiverErrors?: string[];
}

if (process.argv.includes('--help') || process.argv.includes('-h')) {
  process.stdout.write(
    [
      'usage: node dist/bench/udpcast-compat.js [--receivers 1,4,8] [--loss 0,5,10] [--reps 1] [--size 128]',
      '         [--hang-runs 0 --hang-loss 5 --hang-receivers 4] [--timeout 120] [--out-dir /dev/shm]',
      '         [--tools rackcast,udpcast] [--rackcast-args "--max-bitrate 600m"]',
      'Needs root and the lab tools (bench/lab.ts); takes the lab lock. Results: bench/results/udpcast-compat-<stamp>.json and .md.',
      '',
    ].join('\n'),
  );
  process.exit(0);
}

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1]! : dflt;
}
const nums = (s: string): number[] => s.split(',').filter(Boolean).map(Number);

const RECEIVERS = nums(arg('receivers', '1,4,8'));
const LOSSES = nums(arg('loss', '0,5,10'));
const REPS = Number(arg('reps', '1'));
const SIZE_MIB = Number(arg('size', '128'));
const HANG_RUNS = Number(arg('hang-runs', '0'));
const HANG_LOSS = Number(arg('hang-loss', '5'));
const HANG_RECEIVERS = Number(arg('hang-receivers', '4'));
const TIMEOUT_S = Number(arg('timeout', '120'));
const OUT_DIR = arg('out-dir', '/dev/shm');
const TOOLS = arg('tools', 'rackcast,udpcast').split(',') as Tool[];
const EXTRA = arg('rackcast-args', '').split(' ').filter(Boolean);
const ROOT = projectRoot();
const SENDER_CLI = join(ROOT, 'dist', 'sender', 'cli.js');
const GROUP = '239.192.71.1';
let portbase = 40000;
/**
 * Runs "$@" (a udp-receiver) and prints the CPU time of the children on stderr at its exit
 * (bash's `times`); a SIGTERM (the run's timeout) is passed on to the receiver.
 */
const RECEIVER_WRAPPER =
  '"$@" & p=$!; trap \'kill -TERM $p\' TERM; wait $p; rc=$?; if [ $rc -gt 128 ]; then wait $p; rc=$?; fi; echo children-cpu >&2; times >&2; exit $rc';

/** User + system seconds of the children: the second line of `times` after the wrapper's "children-cpu" line. */
function childrenCpuSeconds(stderr: string): number | null {
  const m = /children-cpu\n[^\n]*\n(\d+)m([\d.]+)s (\d+)m([\d.]+)s/.exec(stderr);
  return m === null ? null : Number(m[1]) * 60 + Number(m[2]) + Number(m[3]) * 60 + Number(m[4]);
}

async function once(rack: Rack, tool: Tool, input: string, inputSha: string, work: string): Promise<Omit<Run, 'tool' | 'receivers' | 'lossPct' | 'rep'>> {
  portbase += 2;
  const n = rack.receiverNs.length;
  const outs = rack.receiverNs.map((_, i) => join(work, `${tool}-${portbase}-${i}.bin`));
  const timeoutMs = TIMEOUT_S * 1000;
  // rack.run() times each receiver from its spawn: its exit is spawnedAt + wallMs.
  const spawnedAt: number[] = [];
  const rcv = rack.receiverNs.map((ns, i) => {
    spawnedAt[i] = performance.now();
    return rack.run(
      ns,
      ['bash', '-c', RECEIVER_WRAPPER, 'bash', 'udp-receiver', '--nokbd', '--interface', 'eth0', '--portbase', String(portbase), '--file', outs[i]!],
      { timeoutMs },
    );
  });
  await new Promise((r) => setTimeout(r, 300));
  const argv =
    tool === 'rackcast'
      ? [
          process.execPath,
          SENDER_CLI,
          '--protocol',
          'udpcast',
          '--file',
          input,
          '--nokbd',
          '--min-receivers',
          String(n),
          '--interface',
          'eth0',
          '--portbase',
          String(portbase),
          '--mcast-data-address',
          GROUP,
          '--json',
          ...EXTRA,
        ]
      : [
          'udp-sender',
          '--file',
          input,
          '--nokbd',
          '--min-receivers',
          String(n),
          '--interface',
          'eth0',
          '--portbase',
          String(portbase),
          '--mcast-data-address',
          GROUP,
        ];
  const t0 = performance.now();
  let startAt: number | undefined;
  const child = rack.exec(rack.senderNs, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let stdout = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
    if (startAt === undefined && /Starting transfer|starting with/.test(stderr)) startAt = performance.now();
  });
  let killed = false;
  const timer = setTimeout(() => {
    killed = true;
    child.kill('SIGKILL');
  }, timeoutMs);
  const senderExit = await new Promise<number | null>((r) => child.once('close', (code) => r(code)));
  clearTimeout(timer);
  const rs = await Promise.all(rcv);
  const lastExit = Math.max(...rs.map((r, i) => spawnedAt[i]! + r.wallMs));
  const hung = killed || rs.some((r) => r.timedOut);
  let identical = 0;
  for (const o of outs) {
    try {
      if ((await sha256File(o)) === inputSha) identical++;
    } catch {
      // no copy
    }
    rmSync(o, { force: true });
  }
  const wallSeconds = (lastExit - t0) / 1000;
  const transferSeconds = startAt === undefined ? null : (lastExit - startAt) / 1000;
  const ok = !hung && identical === n;
  const badReceivers = rs
    .map((r, i) => ({ r, i }))
    .filter(({ r }) => r.code !== 0 || r.timedOut)
    .map(
      ({ r, i }) =>
        `rcv${i + 1} exit ${r.code ?? r.signal}${r.timedOut ? ' (killed)' : ''}: ${r.stderr
          .trim()
          .split('\n')
          .filter((l) => !/^children-cpu$|^\d+m[\d.]+s \d+m[\d.]+s$/.test(l))
          .slice(-2)
          .join(' / ')}`,
    );
  const report = tool === 'rackcast' ? parseLastJson(stdout) : undefined;
  return {
    ok,
    hung,
    identical,
    wallSeconds,
    transferSeconds,
    mbPerSecPerReceiver: ok && transferSeconds !== null ? (SIZE_MIB * 1.048576) / transferSeconds : null,
    senderExit,
    note: ok ? '' : [stderr.trim().split('\n').slice(-3).join(' | ').slice(0, 300), ...badReceivers.map((b) => b.slice(0, 300))].join(' || '),
    receiverCpuS: rs.map((r) => childrenCpuSeconds(r.stderr)),
    ...(badReceivers.length === 0 ? {} : { receiverErrors: rs.filter((r) => r.code !== 0 || r.timedOut).map((r) => r.stderr.slice(-4000)) }),
    ...(report === undefined ? {} : { report }),
  };
}

/** A one-line digest of rackcast's counters for the console. */
function diag(report: Record<string, unknown> | undefined): string {
  const st = report?.stats as Record<string, unknown> | undefined;
  if (st === undefined) return '';
  const w = st.waitMs as Record<string, number> | undefined;
  return (
    `[slices ${String(st.slicesAcked)} rounds ${String(st.rounds)} timeouts ${String(st.roundTimeouts)} rexmit ${String(st.rexmitBlocks)}+${String(st.repairFecBlocks)} ` +
    `rounds/slice ${JSON.stringify(st.sliceRounds)} delays ${JSON.stringify(st.answerDelayMs)} firstPass ${Number(st.firstPassMs).toFixed(0)} repair ${Number(st.repairMs).toFixed(0)} ` +
    `wait ${w === undefined ? '-' : `a${w.answers!.toFixed(0)}/p${w.pacer!.toFixed(0)}/s${w.source!.toFixed(0)}`} rate ${(Number(st.rateBps) / 1e6).toFixed(0)} mean ${(Number(st.rateMeanBps) / 1e6).toFixed(0)} dec ${String(st.pacerDecreases)} timer ${JSON.stringify(report?.timer)} cpu ${Number(report?.cpuUserMs).toFixed(0)}+${Number(report?.cpuSystemMs).toFixed(0)}] `
  );
}

/** "median [min-max]" with d decimals, "-" when empty. */
function spread(xs: number[], d: number): string {
  if (xs.length === 0) return '-';
  const m = median(xs)!.toFixed(d);
  return xs.length === 1 ? m : `${m} [${Math.min(...xs).toFixed(d)}-${Math.max(...xs).toFixed(d)}]`;
}

async function main(): Promise<void> {
  const skip = labSkipReason();
  if (skip !== undefined) {
    console.error(`udpcast-compat: cannot run: ${skip}`);
    process.exit(2);
  }
  const lock = await acquireLabLock();
  const work = join(OUT_DIR, `rackcast-udpcast-compat-${process.pid}`);
  mkdirSync(work, { recursive: true });
  // A signal ends us without the finally below: the copies in OUT_DIR (tmpfs by default, so
  // memory) must go all the same. The lab's own handler takes the racks down first or after.
  const dropWork = (signal: NodeJS.Signals): void => {
    rmSync(work, { recursive: true, force: true });
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', dropWork);
  process.once('SIGTERM', dropWork);
  const runs: Run[] = [];
  try {
    const input = join(work, 'image.bin');
    await writeRandomFile(input, SIZE_MIB << 20);
    const inputSha = await sha256File(input);
    const points: { n: number; loss: number; reps: number }[] = [];
    for (const n of RECEIVERS) for (const loss of LOSSES) points.push({ n, loss, reps: REPS });
    if (HANG_RUNS > 0) points.push({ n: HANG_RECEIVERS, loss: HANG_LOSS, reps: HANG_RUNS });
    for (const p of points) {
      const rack = await createRack({ receivers: p.n, lossPermille: p.loss * 10 });
      try {
        for (let rep = 0; rep < p.reps; rep++) {
          const order = rep % 2 === 0 ? TOOLS : [...TOOLS].reverse();
          for (const tool of order) {
            const r = await once(rack, tool, input, inputSha, work);
            const run: Run = { tool, receivers: p.n, lossPct: p.loss, rep, ...r };
            runs.push(run);
            console.log(
              `n=${p.n} loss=${p.loss}% rep=${rep} ${tool.padEnd(8)} ${r.ok ? 'ok ' : r.hung ? 'HANG' : 'BAD'} ` +
                `wall ${r.wallSeconds.toFixed(2)} s transfer ${r.transferSeconds?.toFixed(2) ?? '-'} s ` +
                `${r.mbPerSecPerReceiver?.toFixed(1) ?? '-'} MB/s/rcv identical ${r.identical}/${p.n} rcv cpu ${r.receiverCpuS.map((c) => c?.toFixed(2) ?? '?').join(',')} ${diag(r.report)}${r.note}`,
            );
          }
        }
      } finally {
        await rack.destroy();
      }
    }
  } finally {
    await lock.release();
    rmSync(work, { recursive: true, force: true });
  }
  const git = gitCommit(ROOT);
  const machine = { cpu: cpuModel(), cores: cpus().length, node: process.version, packages: packageVersions(['udpcast']) };
  const t = stamp(new Date());
  const base = join(ROOT, 'bench', 'results', `udpcast-compat-${t}`);
  const command = `node dist/bench/udpcast-compat.js ${process.argv.slice(2).join(' ')}`.trim();
  writeFileSync(`${base}.json`, JSON.stringify({ command, git, machine, sizeMiB: SIZE_MIB, runs }, null, 2) + '\n');
  const lines = [
    `# rackcast --protocol udpcast vs Debian udp-sender, both to stock udp-receivers`,
    '',
    `\`${command}\` — commit ${git.commit ?? '?'}${git.dirty ? ' (dirty)' : ''}, Node ${process.version}, ${machine.cpu ?? '?'} x${machine.cores}, udpcast ${machine.packages.udpcast ?? '?'}, ${SIZE_MIB} MiB random image, copies in ${OUT_DIR}.`,
    '',
    'Wall = sender start → last receiver done (what an admin waits for; it includes udpcast’s 2 s wait before its start). MB/s per receiver from the transfer time (start line → last receiver done). Median over the runs that completed, spread min-max in brackets: a run that hung (killed at --timeout) or left a copy that is not byte-identical counts in ok/runs only, never in a median; "∞" when only rackcast completed.',
    '',
    '| receivers | loss | rackcast wall s | udpcast wall s | ratio (wall) | rackcast MB/s | udpcast MB/s | ratio (MB/s) | rackcast ok/runs | udpcast ok/runs (hangs) |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  const keys = [...new Set(runs.map((r) => `${r.receivers}/${r.lossPct}`))];
  const of = (tool: Tool, n: number, loss: number) => runs.filter((r) => r.tool === tool && r.receivers === n && r.lossPct === loss);
  for (const k of keys) {
    const [n, loss] = k.split('/').map(Number);
    const done = (tool: Tool) => of(tool, n!, loss!).filter((r) => r.ok);
    const walls = (tool: Tool) => done(tool).map((r) => r.wallSeconds);
    const mbs = (tool: Tool) => done(tool).map((r) => r.mbPerSecPerReceiver!);
    const ratio = (a: number | null, b: number | null) =>
      a !== null && b !== null ? (a / b).toFixed(2) : b === null && a !== null ? '∞ (udpcast never finished)' : '-';
    const wa = median(walls('rackcast'));
    const wb = median(walls('udpcast'));
    const ma = median(mbs('rackcast'));
    const mb = median(mbs('udpcast'));
    lines.push(
      `| ${n} | ${loss}% | ${spread(walls('rackcast'), 2)} | ${spread(walls('udpcast'), 2)} | ${wa !== null && wb !== null ? (wb / wa).toFixed(2) : ratio(wa, wb)} | ` +
        `${spread(mbs('rackcast'), 1)} | ${spread(mbs('udpcast'), 1)} | ${ratio(ma, mb)} | ` +
        `${done('rackcast').length}/${of('rackcast', n!, loss!).length} | ${done('udpcast').length}/${of('udpcast', n!, loss!).length} (${of('udpcast', n!, loss!).filter((r) => r.hung).length}) |`,
    );
  }
  lines.push(
    '',
    "rackcast's own counters (medians over its runs): extra REQACK rounds per slice, rounds that timed out, repair datagrams per data block, time the sender waited for answers and for the pacer, and the receivers' CPU (user + system, mean per receiver) for both senders.",
    '',
    '| receivers | loss | rounds/slice | timeouts/slice | repair/data | waited for answers s | waited for pacer s | rate Mbit/s | rackcast rcv CPU s | udpcast rcv CPU s |',
    '|---|---|---|---|---|---|---|---|---|---|',
  );
  for (const k of keys) {
    const [n, loss] = k.split('/').map(Number);
    const stats = of('rackcast', n!, loss!)
      .map((r) => r.report?.stats as Record<string, unknown> | undefined)
      .filter((x): x is Record<string, unknown> => x !== undefined);
    const num = (f: (st: Record<string, unknown>) => number) => median(stats.map(f));
    const slices = (st: Record<string, unknown>) => Math.max(1, Number(st.slicesAcked ?? 0));
    const wait = (st: Record<string, unknown>, w: string) => Number((st.waitMs as Record<string, number> | undefined)?.[w] ?? NaN) / 1000;
    const cpu = (tool: Tool) =>
      median(
        of(tool, n!, loss!).flatMap((r) => {
          const c = r.receiverCpuS.filter((x): x is number => x !== null);
          return c.length === 0 ? [] : [c.reduce((a, b) => a + b, 0) / c.length];
        }),
      );
    const f = (x: number | null, d: number) => (x === null || Number.isNaN(x) ? '-' : x.toFixed(d));
    lines.push(
      `| ${n} | ${loss}% | ${f(
        num((st) => Number(st.rounds) / slices(st)),
        2,
      )} | ${f(
        num((st) => Number(st.roundTimeouts) / slices(st)),
        2,
      )} | ` +
        `${f(
          num((st) => (Number(st.rexmitBlocks) + Number(st.repairFecBlocks)) / Math.max(1, Number(st.dataBlocks))),
          3,
        )} | ${f(
          num((st) => wait(st, 'answers')),
          2,
        )} | ${f(
          num((st) => wait(st, 'pacer')),
          2,
        )} | ` +
        `${f(
          num((st) => Number(st.rateBps) / 1e6),
          0,
        )} | ${f(cpu('rackcast'), 2)} | ${f(cpu('udpcast'), 2)} |`,
    );
  }
  writeFileSync(`${base}.md`, lines.join('\n') + '\n');
  console.log(lines.join('\n'));
  console.log(`udpcast-compat: results in ${base}.json and .md`);
}

main().catch((e: unknown) => {
  console.error(`udpcast-compat: ${e instanceof Error ? e.stack : String(e)}`);
  process.exit(1);
});
