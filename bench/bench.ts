// `npm run bench`: rackcast against Debian's udpcast and UFTP, side by side, under
// loss, on the namespace lab (bench/lab.ts). Needs root.
//
//   npm run bench                     the full matrix (long: run it on a quiet machine)
//   npm run bench -- --quick          CI size: N=2, loss 0 and 5%, 32 MiB, one rep (about 35 s)
//   npm run bench -- --receivers 1,4 --loss 0,5 --rate none --tools rackcast,udpcast \
//                    --file random --reps 3 --size 256
//
// The matrix: receivers N x loss x loss mode x rate cap x file kind. At each point one
// rack is built (sender + N receivers, loss dropped by nftables at each receiver's switch
// port, GRO on at every node's eth0, the sender's port capped by tc tbf) and every
// selected tool configuration runs `--reps` times, alternating (rep 1: rackcast, udpcast,
// uftp, rackcast --fec, …; each later rep starts one further along), so drift hits every
// tool alike. The configurations are in bench/peers.ts: rackcast (defaults; and --fec from
// a per-loss table), udpcast (defaults; and --fec from a per-loss table), uftp (-R -1 line
// rate; and -C tfmcc).
//
// Measured per run, the same way for every tool:
//   seconds     from the sender's start to the sender's exit. Every sender exits only
//               after every receiver has confirmed the whole image (rackcast: verified
//               report; udp-sender: last slice acknowledged; uftp: COMPLETE). Receivers
//               are started 1 s earlier and are waiting.
//   MB/s        image bytes (10^6) per second and per receiver = size / seconds.
//   CPU s/GB    user + system seconds per 10^9 image bytes, from GNU time's rusage of
//               each process (sender; receivers averaged).
//   wire B/B    bytes the sender's device transmitted (ip -s link, Ethernet frames
//               after tc) per byte of image: headers, FEC, repairs and control.
//   feedback    packets all receivers' devices transmitted (NAKs, status, IGMP, ARP).
//   verified    every copy has the image's size and SHA-256 (and the tool said done).
// A run that fails or times out counts as infinitely slow (0 MB/s) in the medians.
// Every run has a time limit (--timeout; default 60 s + 1 s per MiB, quick 20 s + 1 s
// per MiB) and a progress watchdog: a sender that puts less than 1 MB on the wire in
// --stall seconds (20) is stopped and the run fails as "stalled" (udpcast can hang
// when a connection request or a FEC slice goes missing under loss).
//
// The bar, per matrix point: the better rackcast configuration delivers at least the
// best peer's MB/s, and at least 1.5x it at >= 5% loss; every rackcast copy verifies.
// Each point that misses it gets a FAIL line in the summary and the Markdown.
//
// Output: bench/results/bench-<date>[-quick].json and .md, and one SVG plot per rate
// cap, file kind and loss mode (MB/s per receiver vs loss, a line per tool and N).
// Exit: 0 every point meets the bar, 1 some point misses it, 2 usage error / not root /
// missing tools, 3 the lab itself failed.
//
// The parts: bench/matrix-args.ts (options), matrix-images.ts (the images), matrix-runs.ts
// (one run, measured), matrix-summary.ts (medians and the bar), matrix-report.ts
// (Markdown) and matrix-plots.ts (SVG).

import { existsSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, release, tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { UsageError } from '../common/errors.js';
import { createRack, labSkipReason, withLabLock } from './lab.js';
import { cpuModel, gitCommit, projectRoot, stamp } from './machine.js';
import { type BenchConfig, type FileKind, parseBenchArgs, toolsOf, USAGE } from './matrix-args.js';
import { cpioImage, type Image, randomImage } from './matrix-images.js';
import { plotsOf } from './matrix-plots.js';
import { cpuSections, type ReportMeta, renderMarkdown, sectionsOf, summaryLines, TABLE_HEAD, TABLE_RULE, tableRow } from './matrix-report.js';
import { aliasesAt, type RunEnv, runLine, runOne, runOrder, sleep } from './matrix-runs.js';
import {
  BAR_RATIO,
  BAR_RATIO_HIGH_LOSS,
  HIGH_LOSS_PERMILLE,
  type PointKey,
  peerFailures,
  pointId,
  type RunRecord,
  summarize,
  verdicts,
} from './matrix-summary.js';
import { type ConfigId, ensureCommands, formatFecTable, neededCommands, packageVersions } from './peers.js';

const MiB = 1024 * 1024;
const PAUSE_BETWEEN_RUNS_MS = 300;

let workRootForCleanup: string | undefined;

function cleanupOnSignal(signal: NodeJS.Signals): void {
  process.stderr.write(`\nbench: ${signal}: stopping, removing the racks and ${workRootForCleanup ?? 'the work dir'}\n`);
  if (workRootForCleanup !== undefined) rmSync(workRootForCleanup, { recursive: true, force: true });
  // process.exit runs lab.ts's 'exit' hook, which kills every process the racks
  // started (their tools follow through pdeathsig) and removes the namespaces.
  process.exit(signal === 'SIGINT' ? 130 : 143);
}

async function main(argv: readonly string[]): Promise<number> {
  const root = projectRoot();
  let cfg: BenchConfig;
  try {
    cfg = parseBenchArgs(argv);
  } catch (e) {
    if (e instanceof UsageError && e.message === 'help') {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    if (e instanceof UsageError) {
      process.stderr.write(`bench: ${e.message}\n${USAGE}\n`);
      return 2;
    }
    throw e;
  }
  const reason = labSkipReason();
  if (reason !== undefined) {
    process.stderr.write(`bench: ${reason}; run it as root: sudo npm run bench\n`);
    return 2;
  }
  const say = (l: string): void => void process.stdout.write(`${l}\n`);
  const tools = toolsOf(cfg.configs);
  if (tools.includes('rackcast')) {
    for (const cli of ['sender', 'receiver']) {
      if (!existsSync(join(root, 'dist', cli, 'cli.js'))) {
        process.stderr.write(`bench: ${join(root, 'dist', cli, 'cli.js')} missing: run npm run build\n`);
        return 2;
      }
    }
  }
  const missing = ensureCommands(neededCommands(tools, cfg.files.includes('cpio')), { install: cfg.install, say });
  if (missing !== undefined) {
    process.stderr.write(`bench: ${missing}\n`);
    return 2;
  }

  const started = new Date();
  const t0 = performance.now();
  const workRoot = await mkdtemp(join(tmpdir(), 'rackcast-bench-'));
  workRootForCleanup = workRoot;
  process.on('SIGINT', cleanupOnSignal);
  process.on('SIGTERM', cleanupOnSignal);
  const env: RunEnv = { root, cfg, workRoot, logsRoot: join(tmpdir(), `rackcast-bench-logs-${stamp(started)}`) };
  const runs: RunRecord[] = [];
  const aliases = new Map<string, Map<ConfigId, ConfigId>>();
  const images = new Map<FileKind, Image>();
  const { commit, dirty } = gitCommit(root);
  let labFailed: unknown;
  try {
    for (const kind of cfg.files) images.set(kind, kind === 'random' ? await randomImage(workRoot, cfg.sizeMiB) : await cpioImage(cfg.cpioTreeMiB, say));
    const points = cfg.files.length * cfg.rates.length * cfg.lossModes.length * cfg.receivers.length * cfg.lossPermilles.length;
    say(
      `bench: ${points} point(s) x ${cfg.configs.length} config(s) x ${cfg.reps} rep(s); ` +
        `images: ${[...images.values()].map((i) => `${i.kind} ${(i.bytes / MiB).toFixed(1)} MiB`).join(', ')}`,
    );
    for (const kind of cfg.files) {
      const image = images.get(kind)!;
      for (const rate of cfg.rates) {
        for (const lossMode of cfg.lossModes) {
          for (const n of cfg.receivers) {
            for (const lossPermille of cfg.lossPermilles) {
              const key: PointKey = { file: kind, rate, lossMode, receivers: n, lossPermille };
              const alias = aliasesAt(cfg.configs, cfg, lossPermille);
              if (alias.size > 0) aliases.set(pointId(key), alias);
              const toRun = cfg.configs.filter((c) => !alias.has(c));
              await withLabLock(async () => {
                const rack = await createRack({
                  receivers: n,
                  lossPermille,
                  burst: lossMode === 'burst',
                  burstPackets: cfg.burstPackets,
                  rate: rate === 'none' ? undefined : rate,
                  mtu: cfg.mtu,
                });
                try {
                  for (let rep = 1; rep <= cfg.reps; rep++) {
                    for (const config of runOrder(toRun, rep)) {
                      const r = await runOne(env, rack, key, config, rep, image);
                      runs.push(r);
                      say(runLine(r));
                      if (r.logsDir !== undefined && !r.ok) say(`  logs: ${r.logsDir}/logs.txt`);
                      await sleep(PAUSE_BETWEEN_RUNS_MS);
                    }
                  }
                } finally {
                  await rack.destroy();
                }
              });
            }
          }
        }
      }
    }
  } catch (e) {
    labFailed = e;
    process.stderr.write(`bench: the lab failed: ${e instanceof Error ? e.message : String(e)}\n`);
  }

  // Report what ran, even after a lab failure.
  const rows = summarize(runs, (k) => images.get(k)?.bytes ?? 0, aliases);
  const vs = verdicts(rows);
  const notes = peerFailures(rows);
  const meta: ReportMeta = {
    startedAt: started.toISOString(),
    finishedAt: new Date().toISOString(),
    commit,
    dirty,
    node: process.version,
    cpuModel: cpuModel(),
    cores: availableParallelism(),
    kernel: release(),
    peers: packageVersions(['udpcast', 'uftp']),
    files: Object.fromEntries([...images.values()].map((i) => [i.kind, { name: basename(i.path), bytes: i.bytes, sha256: i.sha256, note: i.note }])),
  };
  const resultsDir = resolve(cfg.resultsDir ?? join(root, 'bench', 'results'));
  await mkdir(resultsDir, { recursive: true });
  const base = `bench-${stamp(started)}${cfg.quick ? '-quick' : ''}`;
  const plots = plotsOf(rows, meta);
  const plotFiles: { file: string; title: string }[] = [];
  for (const p of plots) {
    const file = `${base}-${p.name}.svg`;
    await writeFile(join(resultsDir, file), p.svg);
    plotFiles.push({ file, title: p.title });
  }
  const md = renderMarkdown({ meta, cfg, rows, verdicts: vs, peerNotes: notes, plots: plotFiles });
  await writeFile(join(resultsDir, `${base}.md`), md);
  const json = {
    bench: 'rackcast-vs-peers',
    ...meta,
    config: { ...cfg, rackcastFec: formatFecTable(cfg.rackcastFec), udpcastFec: formatFecTable(cfg.udpcastFec) },
    barRule: { ratio: BAR_RATIO, ratioAtHighLoss: BAR_RATIO_HIGH_LOSS, highLossPermille: HIGH_LOSS_PERMILLE },
    units: {
      seconds: 'sender start to sender exit',
      mbPerSecondPerReceiver: '1e6 image bytes per second',
      cpuSecondsPerGB: 'user+system CPU seconds (GNU time) per 1e9 image bytes',
      wireBytesPerImageByte: 'sender device tx bytes (Ethernet frames) per image byte',
      feedbackPackets: 'tx packets of all receivers’ devices',
    },
    labError: labFailed === undefined ? null : String(labFailed instanceof Error ? labFailed.message : labFailed),
    summary: rows,
    verdicts: vs,
    runs,
  };
  await writeFile(join(resultsDir, `${base}.json`), `${JSON.stringify(json, null, 2)}\n`);

  say('');
  for (const s of sectionsOf(rows)) {
    say(`${s.title}`);
    say(TABLE_HEAD);
    say(TABLE_RULE);
    for (const r of s.rows) say(tableRow(r));
    say('');
    for (const l of cpuSections(s.rows)) say(l);
  }
  for (const l of summaryLines(vs, notes)) say(l);
  say(`results: ${join(resultsDir, `${base}.md`)} (.json, ${plotFiles.length} plot(s)); ${((performance.now() - t0) / 1000).toFixed(0)} s`);

  if (cfg.keep) say(`kept: ${workRoot}`);
  else await rm(workRoot, { recursive: true, force: true }).catch(() => undefined);
  workRootForCleanup = undefined;
  if (labFailed !== undefined) return 3;
  return vs.every((v) => v.pass) ? 0 : 1;
}

// Run only as the entry point.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  // `… | head` closes stdout early; that is the reader's choice, not a failure.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
  });
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`bench: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exitCode = 3;
    },
  );
}
