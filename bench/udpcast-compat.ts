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

import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { acquireLabLock, createRack, labSkipReason, sha256File, writeRandomFile, type Rack } from './lab.js';
import { cpuModel, gitCommit, projectRoot, stamp } from './machine.js';
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
}

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : dflt;
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

async function once(rack: Rack, tool: Tool, input: string, inputSha: string, work: string): Promise<Omit<Run, 'tool' | 'receivers' | 'lossPct' | 'rep'>> {
  portbase += 2;
  const n = rack.receiverNs.length;
  const outs = rack.receiverNs.map((_, i) => join(work, `${tool}-${portbase}-${i}.bin`));
  const timeoutMs = TIMEOUT_S * 1000;
  const rcv = rack.receiverNs.map((ns, i) => rack.run(ns, ['udp-receiver', '--nokbd', '--interface', 'eth0', '--portbase', String(portbase), '--file', outs[i]], { timeoutMs }));
  await new Promise((r) => setTimeout(r, 300));
  const argv =
    tool === 'rackcast'
      ? [process.execPath, SENDER_CLI, '--protocol', 'udpcast', '--file', input, '--nokbd', '--min-receivers', String(n), '--interface', 'eth0', '--portbase', String(portbase), '--mcast-data-address', GROUP, '--json', ...EXTRA]
      : ['udp-sender', '--file', input, '--nokbd', '--min-receivers', String(n), '--interface', 'eth0', '--portbase', String(portbase), '--mcast-data-address', GROUP];
  const t0 = performance.now();
  let startAt: number | undefined;
  const child = rack.exec(rack.senderNs, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
    if (startAt === undefined && /Starting transfer|starting with/.test(stderr)) startAt = performance.now();
  });
  child.stdout!.resume();
  let killed = false;
  const timer = setTimeout(() => {
    killed = true;
    child.kill('SIGKILL');
  }, timeoutMs);
  const senderExit = await new Promise<number | null>((r) => child.once('close', (code) => r(code)));
  clearTimeout(timer);
  const rs = await Promise.all(rcv);
  const end = Math.max(...rs.map(() => performance.now()));
  const lastExit = t0 + Math.max(...rs.map((r) => r.wallMs)) + 300;
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
  const wallSeconds = (Math.min(end, lastExit) - t0) / 1000;
  const transferSeconds = startAt === undefined ? null : (lastExit - startAt) / 1000;
  const ok = !hung && identical === n;
  return {
    ok,
    hung,
    identical,
    wallSeconds,
    transferSeconds,
    mbPerSecPerReceiver: ok && transferSeconds !== null ? (SIZE_MIB * 1.048576) / transferSeconds : null,
    senderExit,
    note: ok ? '' : stderr.trim().split('\n').slice(-3).join(' | ').slice(0, 300),
  };
}

function median(xs: number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
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
                `${r.mbPerSecPerReceiver?.toFixed(1) ?? '-'} MB/s/rcv identical ${r.identical}/${p.n} ${r.note}`,
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
    'MB/s per receiver from the transfer time (start line → last receiver done), median over the runs that completed; wall = sender start → last receiver done.',
    '',
    '| receivers | loss | rackcast MB/s | udpcast MB/s | ratio | rackcast wall s | udpcast wall s | rackcast ok/runs | udpcast ok/runs (hangs) |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  const keys = [...new Set(runs.map((r) => `${r.receivers}/${r.lossPct}`))];
  for (const k of keys) {
    const [n, loss] = k.split('/').map(Number);
    const of = (tool: Tool) => runs.filter((r) => r.tool === tool && r.receivers === n && r.lossPct === loss);
    const mb = (tool: Tool) => median(of(tool).filter((r) => r.ok).map((r) => r.mbPerSecPerReceiver!));
    const wall = (tool: Tool) => median(of(tool).filter((r) => r.ok).map((r) => r.wallSeconds));
    const a = mb('rackcast');
    const b = mb('udpcast');
    const ratio = a !== null && b !== null ? (a / b).toFixed(2) : b === null && a !== null ? '∞ (udpcast never finished)' : '-';
    lines.push(
      `| ${n} | ${loss}% | ${a?.toFixed(1) ?? '-'} | ${b?.toFixed(1) ?? '-'} | ${ratio} | ${wall('rackcast')?.toFixed(2) ?? '-'} | ${wall('udpcast')?.toFixed(2) ?? '-'} | ` +
        `${of('rackcast').filter((r) => r.ok).length}/${of('rackcast').length} | ${of('udpcast').filter((r) => r.ok).length}/${of('udpcast').length} (${of('udpcast').filter((r) => r.hung).length}) |`,
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
