// `npm run bench`: rackcast against Debian's udpcast and UFTP, side by side, under
// loss, on the namespace lab (bench/lab.ts). Needs root.
//
//   npm run bench                     the full matrix (long: run it on a quiet machine)
//   npm run bench -- --quick          CI size: N=2, loss 0 and 5%, 32 MiB, one rep (< 3 min)
//   npm run bench -- --receivers 1,4 --loss 0,5 --rate none --tools rackcast,udpcast \
//                    --file random --reps 3 --size 256
//
// The matrix: receivers N x loss x loss mode x rate cap x file kind. At each point one
// rack is built (sender + N receivers, loss dropped by nftables at each receiver, the
// sender's port capped by tc tbf) and every selected tool configuration runs `--reps`
// times, alternating (rep 1: rackcast, udpcast, uftp, rackcast --fec, …; each later rep
// starts one further along), so drift hits every tool alike. The configurations are
// in bench/peers.ts: rackcast (defaults; and --fec from a per-loss table), udpcast
// (defaults; and --fec from a per-loss table), uftp (-R -1 line rate; and -C tfmcc).
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

import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, lstatSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, stat, writeFile } from 'node:fs/promises';
import { availableParallelism, release, tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { UsageError } from '../common/errors.js';
import {
  createRack,
  labSkipReason,
  parseLastJson,
  readLinkStats,
  sha256File,
  withLabLock,
  writeRandomFile,
  type Rack,
} from './lab.js';
import {
  CONFIG_IDS,
  RACKCAST_BEST_FEC,
  TOOL_CONFIGS,
  UDPCAST_FEC,
  configsOfTool,
  ensureCommands,
  fecOfConfig,
  formatFecTable,
  neededCommands,
  packageVersions,
  parseFecTable,
  parseUdpSenderStderr,
  parseUftpStatus,
  planRun,
  startMeasured,
  uftpClientId,
  uftpCopiedTargets,
  type ConfigId,
  type FecTable,
  type MeasuredProcess,
  type MeasuredResult,
  type ToolName,
} from './peers.js';
import { renderLinePlot, type PlotSeries } from './plot.js';
import { cpuModel, gitCommit, projectRoot, stamp } from './machine.js';

const MiB = 1024 * 1024;
const MB = 1e6;
const GB = 1e9;
const RECEIVER_HEAD_START_MS = 1_000;
/** How long receivers that exit by themselves may take after the sender is done. */
const RECEIVER_EXIT_GRACE_MS = 10_000;
/** How long to wait for a daemon's copy to reach full size before stopping it. */
const DAEMON_SETTLE_MS = 3_000;
const PAUSE_BETWEEN_RUNS_MS = 300;
/** Progress watchdog: a sender that puts less than this on the wire in --stall seconds is stopped. */
const STALL_BYTES = 1e6;
const STALL_POLL_MS = 1_000;
export const CACHE_DIR = '/tmp/rackcast-bench-cache';
/** The bar: rackcast / best peer at least this much, by loss. */
export const BAR_RATIO = 1;
export const BAR_RATIO_HIGH_LOSS = 1.5;
export const HIGH_LOSS_PERMILLE = 50;

// ---------------------------------------------------------------- configuration

export type FileKind = 'random' | 'cpio';
export type LossMode = 'random' | 'burst';

export interface BenchConfig {
  readonly quick: boolean;
  readonly receivers: readonly number[];
  readonly lossPermilles: readonly number[];
  readonly lossModes: readonly LossMode[];
  readonly burstPackets: number;
  /** 'none' or a tc rate such as '1gbit'. */
  readonly rates: readonly string[];
  readonly configs: readonly ConfigId[];
  readonly files: readonly FileKind[];
  readonly reps: number;
  /** Size of the random image. */
  readonly sizeMiB: number;
  /** Bytes of files (before cpio and gzip) in the tree the cpio.gz image is made of. */
  readonly cpioTreeMiB: number;
  /** Per run; undefined: base + 1 s per MiB of the image (base 60 s, quick 20 s). */
  readonly timeoutS: number | undefined;
  /** A sender that puts less than 1 MB on the wire in this many seconds has stalled. */
  readonly stallS: number;
  readonly mtu: number;
  readonly rackcastFec: FecTable;
  readonly udpcastFec: FecTable;
  /** undefined: ROOT/bench/results. */
  readonly resultsDir: string | undefined;
  readonly keep: boolean;
  readonly install: boolean;
}

export const USAGE =
  'usage: npm run bench -- [--quick] [--receivers 1,4,8] [--loss 0,1,5,10] [--loss-mode random,burst] ' +
  '[--burst-packets B] [--rate none,1gbit] [--tools rackcast,udpcast,uftp|CONFIG,...] [--file random,cpio] ' +
  '[--reps R] [--size MiB] [--cpio-tree MiB] [--timeout S] [--stall S] [--mtu M] [--rackcast-fec 0=none,1=8x4/32,10=8x8/32] ' +
  '[--udpcast-fec 0=8x4/128,...] [--results-dir DIR] [--keep] [--no-install]\n' +
  '  --tools: rackcast, udpcast, uftp (all their configs), or rackcast-default, rackcast-fec, udpcast-default,\n' +
  '           udpcast-fec, uftp-line, uftp-tfmcc; --loss in percent; --quick: N=2, loss 0,5, 32 MiB, 1 rep';

const FULL_DEFAULTS = {
  receivers: [1, 4, 8],
  lossPermilles: [0, 10, 50, 100],
  rates: ['none', '1gbit'],
  configs: [...CONFIG_IDS],
  files: ['random', 'cpio'] as FileKind[],
  reps: 3,
  sizeMiB: 256,
};

const QUICK_DEFAULTS = {
  receivers: [2],
  lossPermilles: [0, 50],
  rates: ['none'],
  configs: ['rackcast', 'udpcast', 'uftp'] as ConfigId[],
  files: ['random'] as FileKind[],
  reps: 1,
  sizeMiB: 32,
};

function list(raw: string, what: string): string[] {
  const items = raw.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  if (items.length === 0) throw new UsageError(`--${what}: empty list`);
  return items;
}

function intIn(raw: string, what: string, min: number, max: number): number {
  const n = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || !Number.isInteger(n) || n < min || n > max) {
    throw new UsageError(`--${what} must be an integer in ${min}..${max}, got "${raw}"`);
  }
  return n;
}

function unique<T>(xs: readonly T[]): T[] {
  return [...new Set(xs)];
}

/** "0,1,5,10" percent (decimals allowed, an optional %) → per mille. */
export function parseLossList(raw: string): number[] {
  return unique(
    list(raw, 'loss').map((s) => {
      const m = /^(\d+(?:\.\d)?)%?$/.exec(s);
      const permille = m === null ? NaN : Math.round(Number(m[1]) * 10);
      if (!(permille >= 0 && permille < 1000)) throw new UsageError(`--loss: "${s}" is not a percentage in 0..99.9`);
      return permille;
    }),
  ).sort((a, b) => a - b);
}

export function parseRateList(raw: string): string[] {
  return unique(
    list(raw, 'rate').map((s) => {
      const r = s.toLowerCase();
      if (r !== 'none' && !/^\d+(\.\d+)?[kmgt]?(bit|bps)$/.test(r)) {
        throw new UsageError(`--rate: "${s}" is neither none nor a tc rate like 1gbit or 600mbit`);
      }
      return r;
    }),
  );
}

/**
 * Tool names (rackcast, udpcast, uftp) select all of their configurations; the other
 * config ids select one (rackcast-fec, udpcast-fec, uftp-tfmcc), and so do
 * rackcast-default, udpcast-default and uftp-line for the plain ones; "all" is all.
 */
export function parseToolList(raw: string): ConfigId[] {
  const single: Record<string, ConfigId> = {
    'rackcast-default': 'rackcast',
    'udpcast-default': 'udpcast',
    'uftp-line': 'uftp',
    'rackcast-fec': 'rackcast-fec',
    'udpcast-fec': 'udpcast-fec',
    'uftp-tfmcc': 'uftp-tfmcc',
  };
  const out = new Set<ConfigId>();
  for (const s of list(raw, 'tools')) {
    if (s === 'all') CONFIG_IDS.forEach((c) => out.add(c));
    else if (s === 'rackcast' || s === 'udpcast' || s === 'uftp') configsOfTool(s).forEach((c) => out.add(c));
    else if (single[s] !== undefined) out.add(single[s]);
    else {
      throw new UsageError(
        `--tools: unknown "${s}" (rackcast, udpcast, uftp = all their configs; or one of ${Object.keys(single).join(', ')})`,
      );
    }
  }
  return CONFIG_IDS.filter((id) => out.has(id));
}

export function parseFileList(raw: string): FileKind[] {
  return unique(
    list(raw, 'file').map((s): FileKind => {
      if (s === 'random') return 'random';
      if (s === 'cpio' || s === 'cpio.gz' || s === 'gz') return 'cpio';
      throw new UsageError(`--file: "${s}" is neither random nor cpio`);
    }),
  );
}

export function parseBenchArgs(argv: readonly string[]): BenchConfig {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        quick: { type: 'boolean' },
        receivers: { type: 'string' },
        loss: { type: 'string' },
        'loss-mode': { type: 'string' },
        'burst-packets': { type: 'string' },
        rate: { type: 'string' },
        tools: { type: 'string' },
        file: { type: 'string' },
        reps: { type: 'string' },
        size: { type: 'string' },
        'cpio-tree': { type: 'string' },
        timeout: { type: 'string' },
        stall: { type: 'string' },
        mtu: { type: 'string' },
        'rackcast-fec': { type: 'string' },
        'udpcast-fec': { type: 'string' },
        'results-dir': { type: 'string' },
        keep: { type: 'boolean' },
        'no-install': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (values.help === true) throw new UsageError('help');
  const str = (k: string): string | undefined => (typeof values[k] === 'string' ? (values[k] as string) : undefined);
  const quick = values.quick === true;
  const d = quick ? QUICK_DEFAULTS : FULL_DEFAULTS;
  const fecTable = (k: string, dflt: FecTable): FecTable => {
    const raw = str(k);
    if (raw === undefined) return dflt;
    try {
      return parseFecTable(raw);
    } catch (e) {
      throw new UsageError(`--${k}: ${(e as Error).message}`);
    }
  };
  const receiversRaw = str('receivers');
  const lossModesRaw = str('loss-mode');
  const cfg: BenchConfig = {
    quick,
    receivers:
      receiversRaw === undefined
        ? d.receivers
        : unique(list(receiversRaw, 'receivers').map((s) => intIn(s, 'receivers', 1, 64))).sort((a, b) => a - b),
    lossPermilles: str('loss') === undefined ? d.lossPermilles : parseLossList(str('loss')!),
    lossModes:
      lossModesRaw === undefined
        ? ['random']
        : unique(
            list(lossModesRaw, 'loss-mode').map((s): LossMode => {
              if (s === 'random' || s === 'burst') return s;
              throw new UsageError(`--loss-mode: "${s}" is neither random nor burst`);
            }),
          ),
    burstPackets: str('burst-packets') === undefined ? 10 : intIn(str('burst-packets')!, 'burst-packets', 1, 1000),
    rates: str('rate') === undefined ? d.rates : parseRateList(str('rate')!),
    configs: str('tools') === undefined ? d.configs : parseToolList(str('tools')!),
    files: str('file') === undefined ? d.files : parseFileList(str('file')!),
    reps: str('reps') === undefined ? d.reps : intIn(str('reps')!, 'reps', 1, 100),
    sizeMiB: str('size') === undefined ? d.sizeMiB : intIn(str('size')!, 'size', 1, 1 << 16),
    cpioTreeMiB: str('cpio-tree') === undefined ? 128 : intIn(str('cpio-tree')!, 'cpio-tree', 1, 4096),
    timeoutS: str('timeout') === undefined ? undefined : intIn(str('timeout')!, 'timeout', 1, 86_400),
    stallS: str('stall') === undefined ? 20 : intIn(str('stall')!, 'stall', 1, 86_400),
    mtu: str('mtu') === undefined ? 1500 : intIn(str('mtu')!, 'mtu', 576, 65535),
    rackcastFec: fecTable('rackcast-fec', RACKCAST_BEST_FEC),
    udpcastFec: fecTable('udpcast-fec', UDPCAST_FEC),
    resultsDir: str('results-dir'),
    keep: values.keep === true,
    install: values['no-install'] !== true,
  };
  return Object.freeze(cfg);
}

/** Per-run timeout for an image of this many bytes. */
export function runTimeoutMs(cfg: Pick<BenchConfig, 'timeoutS' | 'quick'>, imageBytes: number): number {
  if (cfg.timeoutS !== undefined) return cfg.timeoutS * 1000;
  return ((cfg.quick ? 20 : 60) + Math.ceil(imageBytes / MiB)) * 1000;
}

export function toolsOf(configs: readonly ConfigId[]): ToolName[] {
  return unique(configs.map((c) => TOOL_CONFIGS[c].tool));
}

// ---------------------------------------------------------------- records

export interface PointKey {
  file: FileKind;
  rate: string;
  lossMode: LossMode;
  receivers: number;
  lossPermille: number;
}

export function pointId(k: PointKey): string {
  return `${k.file}/${k.rate}/${k.lossMode}/n${k.receivers}/${k.lossPermille}`;
}

export function describePoint(k: PointKey): string {
  const mode = k.lossMode === 'burst' ? ' burst' : '';
  return `${k.file} rate=${k.rate} N=${k.receivers} loss=${fmtLoss(k.lossPermille)}${mode}`;
}

export function fmtLoss(permille: number): string {
  return `${Number((permille / 10).toFixed(1))}%`;
}

export interface RunRecord {
  key: PointKey;
  config: ConfigId;
  rep: number;
  fec: string | null;
  ok: boolean;
  problems: string[];
  /** Sender start to sender exit; null if the sender never started. */
  seconds: number | null;
  /** Sender start to the last receiver's exit (receivers that exit by themselves). */
  allExitedSeconds: number | null;
  mbPerSecondPerReceiver: number;
  senderCpuSeconds: number | null;
  receiverCpuSeconds: (number | null)[];
  senderCpuSecondsPerGB: number | null;
  receiverCpuSecondsPerGB: number | null;
  senderMaxRssKiB: number | null;
  wireBytes: number | null;
  wireBytesPerImageByte: number | null;
  feedbackPackets: number | null;
  feedbackBytes: number | null;
  nftDropped: number[] | null;
  verifiedCopies: number;
  /** Tool-specific facts (rackcast's own report, udpcast's re-xmits, uftp's status). */
  detail: Record<string, unknown>;
  logsDir?: string;
}

export interface SummaryRow {
  key: PointKey;
  config: ConfigId;
  label: string;
  fec: string | null;
  /** Set when this config ran the same command as another at this point (no FEC at this loss). */
  sameAs?: ConfigId;
  runs: number;
  verifiedRuns: number;
  medianSeconds: number | null;
  /** image MB / medianSeconds; 0 when most runs failed. */
  mbPerSecondPerReceiver: number;
  /** This row's MB/s over the best peer's at the point; null without a peer (or a peer at 0). */
  ratioToBestPeer: number | null;
  senderCpuSecondsPerGB: number | null;
  receiverCpuSecondsPerGB: number | null;
  wireBytesPerImageByte: number | null;
  feedbackPackets: number | null;
}

export interface Verdict {
  key: PointKey;
  pass: boolean;
  requiredRatio: number;
  rackcastConfig: ConfigId | null;
  rackcastMBps: number | null;
  peerConfig: ConfigId | null;
  peerMBps: number | null;
  ratio: number | null;
  /** Plain sentences on what misses the bar; empty when it passes. */
  failures: string[];
}

// ---------------------------------------------------------------- statistics

/** Median of finite or infinite numbers (Infinity sorts last); null for an empty list. */
export function median(xs: readonly number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  if (s.length % 2 === 1) return s[mid];
  const lo = s[mid - 1];
  const hi = s[mid];
  return lo === hi ? lo : (lo + hi) / 2;
}

function medianOf(xs: readonly (number | null)[]): number | null {
  return median(xs.filter((x): x is number => x !== null && Number.isFinite(x)));
}

/** Best-over-peer ratio; null when there is no peer value or it is 0. */
export function ratio(rackcast: number, peer: number | null): number | null {
  if (peer === null || !(peer > 0)) return null;
  return rackcast / peer;
}

export function requiredRatio(lossPermille: number): number {
  return lossPermille >= HIGH_LOSS_PERMILLE ? BAR_RATIO_HIGH_LOSS : BAR_RATIO;
}

/**
 * One row per (point, config) from the runs. `aliases` maps a config to the one whose
 * runs it shares at a point (pointId → config → sameAs).
 */
export function summarize(
  runs: readonly RunRecord[],
  imageBytesOf: (file: FileKind) => number,
  aliases: ReadonlyMap<string, ReadonlyMap<ConfigId, ConfigId>> = new Map(),
): SummaryRow[] {
  const groups = new Map<string, { key: PointKey; config: ConfigId; runs: RunRecord[] }>();
  for (const r of runs) {
    const id = `${pointId(r.key)}#${r.config}`;
    let g = groups.get(id);
    if (g === undefined) groups.set(id, (g = { key: r.key, config: r.config, runs: [] }));
    g.runs.push(r);
  }
  const rows: SummaryRow[] = [];
  for (const g of groups.values()) {
    const ok = g.runs.filter((r) => r.ok);
    const secs = median(g.runs.map((r) => (r.ok && r.seconds !== null ? r.seconds : Infinity)));
    const bytes = imageBytesOf(g.key.file);
    rows.push({
      key: g.key,
      config: g.config,
      label: TOOL_CONFIGS[g.config].label,
      fec: g.runs[0].fec,
      runs: g.runs.length,
      verifiedRuns: ok.length,
      medianSeconds: secs === null || !Number.isFinite(secs) ? null : secs,
      mbPerSecondPerReceiver: secs === null || !Number.isFinite(secs) || secs <= 0 ? 0 : bytes / MB / secs,
      ratioToBestPeer: null,
      senderCpuSecondsPerGB: medianOf(ok.map((r) => r.senderCpuSecondsPerGB)),
      receiverCpuSecondsPerGB: medianOf(ok.map((r) => r.receiverCpuSecondsPerGB)),
      wireBytesPerImageByte: medianOf(ok.map((r) => r.wireBytesPerImageByte)),
      feedbackPackets: medianOf(ok.map((r) => r.feedbackPackets)),
    });
  }
  // Configs that shared another's runs at a point get a copy of its row.
  for (const [pid, m] of aliases) {
    for (const [config, sameAs] of m) {
      const src = rows.find((r) => pointId(r.key) === pid && r.config === sameAs);
      if (src === undefined || rows.some((r) => pointId(r.key) === pid && r.config === config)) continue;
      rows.push({ ...src, config, label: TOOL_CONFIGS[config].label, sameAs });
    }
  }
  // Ratios against the best peer at each point.
  for (const row of rows) {
    const best = bestOf(rows, row.key, 'peer');
    row.ratioToBestPeer = best === undefined ? null : ratio(row.mbPerSecondPerReceiver, best.mbPerSecondPerReceiver);
  }
  return sortRows(rows);
}

function isRackcast(c: ConfigId): boolean {
  return TOOL_CONFIGS[c].tool === 'rackcast';
}

function bestOf(rows: readonly SummaryRow[], key: PointKey, side: 'rackcast' | 'peer'): SummaryRow | undefined {
  let best: SummaryRow | undefined;
  for (const r of rows) {
    if (pointId(r.key) !== pointId(key) || isRackcast(r.config) !== (side === 'rackcast')) continue;
    if (best === undefined || r.mbPerSecondPerReceiver > best.mbPerSecondPerReceiver) best = r;
  }
  return best;
}

const FILE_ORDER: Record<FileKind, number> = { random: 0, cpio: 1 };
const LOSS_MODE_ORDER: Record<LossMode, number> = { random: 0, burst: 1 };

export function comparePoints(a: PointKey, b: PointKey): number {
  return (
    FILE_ORDER[a.file] - FILE_ORDER[b.file] ||
    rateOrder(a.rate) - rateOrder(b.rate) ||
    a.rate.localeCompare(b.rate) ||
    LOSS_MODE_ORDER[a.lossMode] - LOSS_MODE_ORDER[b.lossMode] ||
    a.receivers - b.receivers ||
    a.lossPermille - b.lossPermille
  );
}

function rateOrder(rate: string): number {
  return rate === 'none' ? 0 : 1;
}

function sortRows(rows: SummaryRow[]): SummaryRow[] {
  return rows.sort((a, b) => comparePoints(a.key, b.key) || CONFIG_IDS.indexOf(a.config) - CONFIG_IDS.indexOf(b.config));
}

/** The bar at every point that has rows. */
export function verdicts(rows: readonly SummaryRow[]): Verdict[] {
  const keys = new Map<string, PointKey>();
  for (const r of rows) keys.set(pointId(r.key), r.key);
  const out: Verdict[] = [];
  for (const key of [...keys.values()].sort(comparePoints)) {
    const here = rows.filter((r) => pointId(r.key) === pointId(key));
    const rc = bestOf(rows, key, 'rackcast');
    const peer = bestOf(rows, key, 'peer');
    const required = requiredRatio(key.lossPermille);
    const failures: string[] = [];
    for (const r of here.filter((x) => isRackcast(x.config) && x.sameAs === undefined)) {
      if (r.verifiedRuns < r.runs) failures.push(`${r.label}: ${r.runs - r.verifiedRuns} of ${r.runs} runs did not verify`);
    }
    const q = rc === undefined || peer === undefined ? null : ratio(rc.mbPerSecondPerReceiver, peer.mbPerSecondPerReceiver);
    if (rc !== undefined && peer !== undefined && peer.mbPerSecondPerReceiver > 0 && (q === null || q < required)) {
      failures.push(
        `${rc.label} ${fmt(rc.mbPerSecondPerReceiver, 1)} MB/s vs ${peer.label} ${fmt(peer.mbPerSecondPerReceiver, 1)} MB/s: ` +
          `${q === null ? 'n/a' : `${fmt(q, 2)}x`}, needs >= ${required}x`,
      );
    }
    out.push({
      key,
      pass: failures.length === 0,
      requiredRatio: required,
      rackcastConfig: rc?.config ?? null,
      rackcastMBps: rc?.mbPerSecondPerReceiver ?? null,
      peerConfig: peer?.config ?? null,
      peerMBps: peer?.mbPerSecondPerReceiver ?? null,
      ratio: q,
      failures,
    });
  }
  return out;
}

/** Peer runs that did not verify (not rackcast's bar, but worth saying). */
export function peerFailures(rows: readonly SummaryRow[]): string[] {
  return rows
    .filter((r) => !isRackcast(r.config) && r.sameAs === undefined && r.verifiedRuns < r.runs)
    .map((r) => `${describePoint(r.key)}: ${r.label}: ${r.runs - r.verifiedRuns} of ${r.runs} runs failed or did not verify`);
}

// ---------------------------------------------------------------- report

export function fmt(x: number | null | undefined, digits: number): string {
  return x === null || x === undefined || !Number.isFinite(x) ? '—' : x.toFixed(digits);
}

export interface ReportMeta {
  startedAt: string;
  finishedAt?: string;
  commit: string | null;
  dirty: boolean | null;
  node: string;
  cpuModel: string | null;
  cores: number;
  kernel: string;
  peers: Record<string, string | null>;
  files: Partial<Record<FileKind, { name: string; bytes: number; sha256: string; note: string }>>;
}

function verdictLine(v: Verdict): string {
  const head = describePoint(v.key);
  if (v.pass) {
    const q = v.ratio === null ? '' : `, ${fmt(v.ratio, 2)}x best peer (needs ${v.requiredRatio}x)`;
    return `PASS ${head}: ${v.rackcastConfig === null ? '—' : TOOL_CONFIGS[v.rackcastConfig].label} ${fmt(v.rackcastMBps, 1)} MB/s${q}`;
  }
  return `FAIL ${head}: ${v.failures.join('; ')}`;
}

/** The lines a person reads first: one per failing point, then a count. */
export function summaryLines(vs: readonly Verdict[], peerNotes: readonly string[]): string[] {
  const fails = vs.filter((v) => !v.pass);
  const lines = fails.map(verdictLine);
  lines.push(
    fails.length === 0
      ? `bar met at all ${vs.length} points (>= 1x best peer; >= ${BAR_RATIO_HIGH_LOSS}x at >= ${fmtLoss(HIGH_LOSS_PERMILLE)} loss; every rackcast copy verified)`
      : `bar missed at ${fails.length} of ${vs.length} points`,
  );
  for (const n of peerNotes) lines.push(`note: ${n}`);
  return lines;
}

const TABLE_HEAD =
  '| N | loss | tool | FEC | median s | MB/s per receiver | ÷ best peer | CPU s/GB sender | CPU s/GB receiver | wire B/B | feedback pkts | verified |';
const TABLE_RULE = '|--:|--:|---|---|--:|--:|--:|--:|--:|--:|--:|---|';

export function tableRow(r: SummaryRow): string {
  const label = r.sameAs === undefined ? r.label : `${r.label} (= ${TOOL_CONFIGS[r.sameAs].label})`;
  return (
    `| ${r.key.receivers} | ${fmtLoss(r.key.lossPermille)} | ${label} | ${r.fec ?? '—'} | ` +
    `${r.medianSeconds === null ? 'failed' : fmt(r.medianSeconds, 2)} | ${fmt(r.mbPerSecondPerReceiver, 1)} | ` +
    `${r.ratioToBestPeer === null ? '—' : `${fmt(r.ratioToBestPeer, 2)}x`} | ${fmt(r.senderCpuSecondsPerGB, 2)} | ` +
    `${fmt(r.receiverCpuSecondsPerGB, 2)} | ${fmt(r.wireBytesPerImageByte, 3)} | ` +
    `${r.feedbackPackets === null ? '—' : String(Math.round(r.feedbackPackets))} | ` +
    `${r.verifiedRuns}/${r.runs}${r.verifiedRuns === r.runs ? '' : ' **BAD**'} |`
  );
}

/** Sections: one per (file, rate, loss mode), in matrix order. */
export function sectionsOf(rows: readonly SummaryRow[]): { title: string; file: FileKind; rate: string; lossMode: LossMode; rows: SummaryRow[] }[] {
  const out: { title: string; file: FileKind; rate: string; lossMode: LossMode; rows: SummaryRow[] }[] = [];
  for (const r of rows) {
    let s = out.find((x) => x.file === r.key.file && x.rate === r.key.rate && x.lossMode === r.key.lossMode);
    if (s === undefined) {
      const title = `${r.key.file === 'random' ? 'random image' : 'cpio.gz image'}, rate cap ${r.key.rate}, ${r.key.lossMode} loss`;
      out.push((s = { title, file: r.key.file, rate: r.key.rate, lossMode: r.key.lossMode, rows: [] }));
    }
    s.rows.push(r);
  }
  return out;
}

export function renderMarkdown(opts: {
  meta: ReportMeta;
  cfg: BenchConfig;
  rows: readonly SummaryRow[];
  verdicts: readonly Verdict[];
  peerNotes: readonly string[];
  plots: readonly { file: string; title: string }[];
}): string {
  const { meta, cfg } = opts;
  const out: string[] = [];
  out.push(`# rackcast vs udpcast vs UFTP${cfg.quick ? ' (quick)' : ''} — ${meta.startedAt}`);
  out.push('');
  const peers = Object.entries(meta.peers)
    .map(([p, v]) => `${p} ${v ?? 'not installed'}`)
    .join(', ');
  out.push(
    `commit ${meta.commit ?? 'unknown'}${meta.dirty ? ' (dirty)' : ''} · Node ${meta.node} · ${meta.cpuModel ?? 'unknown CPU'} × ${meta.cores} cores · ` +
      `Linux ${meta.kernel} · ${peers}`,
  );
  out.push('');
  for (const [kind, f] of Object.entries(meta.files)) {
    out.push(`- ${kind} image: ${f!.name}, ${(f!.bytes / MiB).toFixed(1)} MiB, sha256 ${f!.sha256.slice(0, 16)}… ${f!.note}`);
  }
  out.push(
    `- ${cfg.reps} rep(s) per tool and point, alternating tools; loss by nftables at each receiver` +
      `${cfg.lossModes.includes('burst') ? ` (burst mode: runs of ${cfg.burstPackets})` : ''}; MTU ${cfg.mtu}; ` +
      `rackcast --fec table ${formatFecTable(cfg.rackcastFec)}; udpcast --fec table ${formatFecTable(cfg.udpcastFec)}`,
  );
  out.push(
    '- median s: sender start → sender exit (each sender exits only once every receiver confirmed the image); ' +
      'MB/s = 10^6 image bytes per second per receiver; CPU = user+system (GNU time) per 10^9 image bytes, receivers averaged; ' +
      'wire B/B = bytes the sender’s device sent per image byte; feedback = packets sent by all receivers; ' +
      'a failed run counts as 0 MB/s.',
  );
  out.push('');
  out.push('## The bar');
  out.push('');
  out.push('At every point rackcast (its better configuration) delivers at least the best peer’s MB/s, and at least 1.5x at 5% loss and above; every rackcast copy verifies.');
  out.push('');
  for (const l of summaryLines(opts.verdicts, opts.peerNotes)) out.push(`- ${l}`);
  out.push('');
  for (const s of sectionsOf(opts.rows)) {
    out.push(`## ${s.title}`);
    out.push('');
    out.push(TABLE_HEAD);
    out.push(TABLE_RULE);
    for (const r of s.rows) out.push(tableRow(r));
    out.push('');
    const failing = opts.verdicts.filter(
      (v) => !v.pass && v.key.file === s.file && v.key.rate === s.rate && v.key.lossMode === s.lossMode,
    );
    for (const v of failing) out.push(`- ${verdictLine(v)}`);
    if (failing.length > 0) out.push('');
  }
  if (opts.plots.length > 0) {
    out.push('## Plots');
    out.push('');
    for (const p of opts.plots) out.push(`![${p.title}](${p.file})`);
    out.push('');
  }
  return `${out.join('\n')}\n`;
}

// Colours per config (rackcast warm, udpcast blue, uftp green), dashes per N.
const CONFIG_COLORS: Record<ConfigId, string> = {
  rackcast: '#d62728',
  'rackcast-fec': '#ff7f0e',
  udpcast: '#1f77b4',
  'udpcast-fec': '#17becf',
  uftp: '#2ca02c',
  'uftp-tfmcc': '#8c8c00',
};
const N_DASHES = [undefined, '8 4', '2 3', '12 3 2 3', '4 4'];

/** One plot per (file, rate, loss mode): MB/s per receiver vs loss, a line per config and N. */
export function plotsOf(rows: readonly SummaryRow[], meta: Pick<ReportMeta, 'commit' | 'startedAt'>): { name: string; title: string; svg: string }[] {
  return sectionsOf(rows).map((s) => {
    const ns = unique(s.rows.map((r) => r.key.receivers)).sort((a, b) => a - b);
    const series: PlotSeries[] = [];
    for (const config of CONFIG_IDS) {
      for (const n of ns) {
        const pts = s.rows.filter((r) => r.config === config && r.key.receivers === n);
        if (pts.length === 0) continue;
        series.push({
          label: `${TOOL_CONFIGS[config].label}, N=${n}`,
          color: CONFIG_COLORS[config],
          dash: N_DASHES[ns.indexOf(n) % N_DASHES.length],
          points: pts.map((r) => ({ x: r.key.lossPermille / 10, y: r.mbPerSecondPerReceiver })),
        });
      }
    }
    const name = `${s.file}-rate-${s.rate}${s.lossMode === 'burst' ? '-burst' : ''}`;
    const svg = renderLinePlot({
      title: `Throughput vs loss — ${s.title}`,
      subtitle: `MB/s per receiver (median), commit ${meta.commit ?? 'unknown'}, ${meta.startedAt}`,
      xLabel: `${s.lossMode === 'burst' ? 'burst ' : ''}loss at each receiver (%)`,
      yLabel: 'MB/s per receiver',
      series,
      xTickLabel: (x) => `${x}%`,
    });
    return { name, title: s.title, svg };
  });
}

// ---------------------------------------------------------------- machine facts

// ---------------------------------------------------------------- images

interface Image {
  kind: FileKind;
  path: string;
  bytes: number;
  sha256: string;
  /** Suffix the copies get (rackcast's receiver keeps *.gz as sent). */
  suffix: string;
  note: string;
}

// The tree for the cpio.gz image: a share of each of these, as a root file system
// has them (ELF binaries and libraries, Python, documentation and data).
const TREE_ROOTS = ['usr/bin', 'usr/lib/x86_64-linux-gnu', 'usr/lib/python3*', 'usr/share'];

function expandRoot(pattern: string): string[] {
  if (!pattern.endsWith('*')) return existsSync(`/${pattern}`) ? [pattern] : [];
  const parent = dirname(pattern);
  const prefix = basename(pattern).slice(0, -1);
  try {
    return readdirSync(`/${parent}`)
      .filter((n) => n.startsWith(prefix))
      .sort()
      .map((n) => `${parent}/${n}`);
  } catch {
    return [];
  }
}

/**
 * Paths (relative to /) of a tree of about budgetBytes of regular files: directories
 * before their contents, sorted, symlinks kept as links; each root gets an equal share.
 */
function collectTree(budgetBytes: number): { paths: string[]; bytes: number; files: number } {
  const roots = TREE_ROOTS.flatMap(expandRoot);
  const share = budgetBytes / Math.max(1, roots.length);
  const paths: string[] = [];
  let total = 0;
  let files = 0;
  for (const root of roots) {
    let used = 0;
    const stack = [root];
    while (stack.length > 0 && used < share * 0.99) {
      const rel = stack.pop()!;
      let st;
      try {
        st = lstatSync(`/${rel}`);
      } catch {
        continue;
      }
      if (st.isDirectory()) {
        paths.push(rel);
        let names: string[];
        try {
          names = readdirSync(`/${rel}`).sort().reverse();
        } catch {
          continue;
        }
        for (const n of names) stack.push(`${rel}/${n}`);
      } else if (st.isSymbolicLink()) {
        paths.push(rel);
      } else if (st.isFile() && used + st.size <= share) {
        // A file that would overshoot this root's share is left out; smaller ones
        // further on still fill it up.
        paths.push(rel);
        used += st.size;
        files++;
      }
    }
    total += used;
  }
  return { paths, bytes: total, files };
}

async function cpioImage(treeMiB: number, say: (l: string) => void): Promise<Image> {
  const path = join(CACHE_DIR, `tree-${treeMiB}MiB.cpio.gz`);
  const metaPath = `${path}.json`;
  if (existsSync(path) && existsSync(metaPath)) {
    const meta = JSON.parse(readFileSync(metaPath, 'utf8')) as { bytes: number; sha256: string; note: string };
    if (statSync(path).size === meta.bytes) return { kind: 'cpio', path, bytes: meta.bytes, sha256: meta.sha256, suffix: '.cpio.gz', note: meta.note };
  }
  await mkdir(CACHE_DIR, { recursive: true });
  say(`bench: building the cpio.gz image (${treeMiB} MiB tree from ${TREE_ROOTS.join(', ')}) into ${path}`);
  const tree = collectTree(treeMiB * MiB);
  const listPath = `${path}.list`;
  const tmp = `${path}.tmp`;
  await writeFile(listPath, `${tree.paths.join('\0')}\0`);
  await new Promise<void>((resolveP, reject) => {
    const child = spawn(
      'bash',
      ['-o', 'pipefail', '-c', 'cd / && cpio -o -0 --format=crc --quiet < "$1" | gzip -6 > "$2"', 'bash', listPath, tmp],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let err = '';
    child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolveP() : reject(new Error(`cpio | gzip exited ${code}: ${err.trim().slice(-500)}`))));
  });
  await rename(tmp, path);
  await rm(listPath, { force: true });
  const bytes = (await stat(path)).size;
  const sha256 = await sha256File(path);
  const note = `(find-style tree of ${tree.files} files, ${(tree.bytes / MiB).toFixed(0)} MiB, cpio --format=crc | gzip -6)`;
  await writeFile(metaPath, JSON.stringify({ bytes, sha256, note, treeBytes: tree.bytes, entries: tree.paths.length }));
  return { kind: 'cpio', path, bytes, sha256, suffix: '.cpio.gz', note };
}

async function randomImage(dir: string, sizeMiB: number): Promise<Image> {
  const path = join(dir, `random-${sizeMiB}MiB.bin`);
  await writeRandomFile(path, sizeMiB * MiB);
  return { kind: 'random', path, bytes: sizeMiB * MiB, sha256: await sha256File(path), suffix: '.bin', note: '(crypto-random)' };
}

// ---------------------------------------------------------------- one run

interface RunEnv {
  root: string;
  cfg: BenchConfig;
  workRoot: string;
  /** Where a failed run's logs go (outside workRoot, which is removed at the end). */
  logsRoot: string;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function cpuOf(r: MeasuredResult | undefined): number | null {
  return r?.usage === undefined ? null : r.usage.userSeconds + r.usage.systemSeconds;
}

function exitOf(r: MeasuredResult): string {
  if (r.timedOut) return 'timed out';
  if (r.usage?.terminatedBySignal !== undefined) return `killed by signal ${r.usage.terminatedBySignal}`;
  if (r.signal !== null) return `killed by ${r.signal}`;
  return `exit ${r.code}`;
}

function tail(text: string, chars = 2000): string {
  const t = text.replace(/\r/g, '\n').replace(/\n{2,}/g, '\n').trim();
  return t.length > chars ? `…${t.slice(-chars)}` : t;
}

async function waitForSize(paths: readonly string[], bytes: number, ms: number): Promise<void> {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    const sizes = paths.map((p) => {
      try {
        return statSync(p).size;
      } catch {
        return -1;
      }
    });
    if (sizes.every((s) => s === bytes)) return;
    await sleep(50);
  }
}

/**
 * Watches the sender's device while the sender runs: if it transmits less than
 * STALL_BYTES in stallMs (a transfer that hangs, e.g. a handshake lost under loss,
 * still sends hellos or reqacks, but not a megabyte), the sender is stopped.
 * Returns true if it stopped it. The same rule for every tool.
 */
async function watchProgress(ns: string, startTxBytes: number, proc: MeasuredProcess, stallMs: number): Promise<boolean> {
  let mark = startTxBytes;
  let markAt = performance.now();
  while (proc.running()) {
    const ended = await Promise.race([proc.done.then(() => true), sleep(STALL_POLL_MS).then(() => false)]);
    if (ended) return false;
    let tx: number;
    try {
      tx = (await readLinkStats(ns)).txBytes;
    } catch {
      continue;
    }
    const now = performance.now();
    if (tx - mark >= STALL_BYTES) {
      mark = tx;
      markAt = now;
    } else if (now - markAt > stallMs) {
      await proc.stop();
      return true;
    }
  }
  return false;
}

async function runOne(env: RunEnv, rack: Rack, key: PointKey, config: ConfigId, rep: number, image: Image): Promise<RunRecord> {
  const workDir = await mkdtemp(join(env.workRoot, `${config}-n${key.receivers}-l${key.lossPermille}-r${rep}-`));
  const plan = planRun(config, {
    nodePath: process.execPath,
    root: env.root,
    inputPath: image.path,
    outputSuffix: image.suffix,
    workDir,
    senderAddr: rack.senderAddr,
    receiverAddrs: rack.receiverAddrs,
    lossPermille: key.lossPermille,
    rackcastFec: env.cfg.rackcastFec,
    udpcastFec: env.cfg.udpcastFec,
  });
  for (const d of plan.dirs) await mkdir(d, { recursive: true });
  const timeoutMs = runTimeoutMs(env.cfg, image.bytes);
  const problems: string[] = [];

  const senderBefore = await readLinkStats(rack.senderNs);
  const receiversBefore = await Promise.all(rack.receiverNs.map((ns) => readLinkStats(ns)));
  const droppedBefore = await rack.droppedPackets();

  const receivers = plan.receivers.map((argv, i) =>
    startMeasured(rack, rack.receiverNs[i], argv, {
      timeFile: join(workDir, `time-receiver-${i + 1}.txt`),
      timeoutMs: timeoutMs + RECEIVER_HEAD_START_MS + RECEIVER_EXIT_GRACE_MS,
      cwd: workDir,
    }),
  );
  await sleep(RECEIVER_HEAD_START_MS);
  let sender: MeasuredResult | undefined;
  const t0 = performance.now();
  const early = receivers.filter((r) => !r.running()).length;
  if (early > 0) {
    problems.push(`${early} receiver(s) exited before the sender started`);
  } else {
    const proc = startMeasured(rack, rack.senderNs, plan.sender, {
      timeFile: join(workDir, 'time-sender.txt'),
      timeoutMs,
      cwd: workDir,
    });
    const stalled = await watchProgress(rack.senderNs, senderBefore.txBytes, proc, env.cfg.stallS * 1000);
    sender = await proc.done;
    if (stalled) problems.push(`stalled: the sender put less than ${STALL_BYTES / MB} MB on the wire in ${env.cfg.stallS} s`);
  }
  if (plan.receiversAreDaemons) await waitForSize(plan.outputs, image.bytes, DAEMON_SETTLE_MS);
  const rcv = await Promise.all(
    receivers.map(async (r) => {
      if (plan.receiversAreDaemons || sender === undefined) return r.stop();
      const res = await Promise.race([r.done, sleep(RECEIVER_EXIT_GRACE_MS).then(() => undefined)]);
      return res ?? r.stop();
    }),
  );

  const senderAfter = await readLinkStats(rack.senderNs);
  const receiversAfter = await Promise.all(rack.receiverNs.map((ns) => readLinkStats(ns)));
  const droppedAfter = await rack.droppedPackets();

  // Did it work? Exit codes, the tool's own account, then every copy's SHA-256.
  const detail: Record<string, unknown> = {};
  if (sender !== undefined) {
    const senderExitOk = sender.usage !== undefined ? sender.usage.exitStatus === 0 && sender.usage.terminatedBySignal === undefined : sender.code === 0;
    if (!senderExitOk || sender.timedOut) problems.push(`sender ${exitOf(sender)}`);
  }
  if (!plan.receiversAreDaemons) {
    rcv.forEach((r, i) => {
      if (r.timedOut || r.code !== 0) problems.push(`receiver ${i + 1} ${exitOf(r)}`);
    });
  }
  const tool = TOOL_CONFIGS[config].tool;
  if (tool === 'rackcast' && sender !== undefined) {
    const json = parseLastJson(sender.stdout);
    const listed = Array.isArray(json?.receivers) ? (json!.receivers as Record<string, unknown>[]) : [];
    const verified = listed.filter((r) => r.state === 'verified').length;
    if (verified !== key.receivers) problems.push(`rackcast sender lists ${verified}/${key.receivers} receivers verified`);
    detail.rackcast = { seconds: json?.seconds, stats: json?.stats, cpuUserMs: json?.cpuUserMs, cpuSystemMs: json?.cpuSystemMs };
  } else if (tool === 'udpcast' && sender !== undefined) {
    const report = parseUdpSenderStderr(sender.stderr);
    if (!report.complete) problems.push('udp-sender did not print "Transfer complete."');
    detail.udpcast = { rexmits: report.rexmits, connections: report.connections, bytes: report.bytes };
  } else if (tool === 'uftp' && sender !== undefined && plan.statusFile !== undefined) {
    let text = '';
    try {
      text = readFileSync(plan.statusFile, 'utf8');
    } catch {
      // no status file: uftp failed early; the exit code says so
    }
    const status = parseUftpStatus(text);
    const copied = uftpCopiedTargets(status);
    const missing = rack.receiverNs.map((_, i) => uftpClientId(i)).filter((id) => !copied.has(id));
    if (missing.length > 0) problems.push(`uftp status: no copy for ${missing.join(', ')}`);
    detail.uftp = { stats: status.stats };
  }
  let verifiedCopies = 0;
  for (let i = 0; i < plan.outputs.length; i++) {
    const out = plan.outputs[i];
    let size = -1;
    try {
      size = statSync(out).size;
    } catch {
      // missing
    }
    const good = size === image.bytes && (await sha256File(out)) === image.sha256;
    if (good) verifiedCopies++;
    else problems.push(`copy ${i + 1} ${size < 0 ? 'missing' : size !== image.bytes ? `has ${size} of ${image.bytes} bytes` : 'differs (SHA-256)'}`);
  }

  const ok = problems.length === 0 && verifiedCopies === key.receivers;
  const seconds = sender === undefined ? null : (sender.endedAt - t0) / 1000;
  const selfExiting = plan.receiversAreDaemons ? [] : rcv;
  const allExited = sender === undefined ? null : (Math.max(sender.endedAt, ...selfExiting.map((r) => r.endedAt)) - t0) / 1000;
  const senderCpu = cpuOf(sender);
  const receiverCpu = rcv.map(cpuOf);
  const gb = image.bytes / GB;
  const rcvMean = receiverCpu.some((x) => x === null) ? null : (receiverCpu as number[]).reduce((a, b) => a + b, 0) / receiverCpu.length;
  const wireBytes = senderAfter.txBytes - senderBefore.txBytes;
  const record: RunRecord = {
    key,
    config,
    rep,
    fec: plan.fec ?? null,
    ok,
    problems,
    seconds,
    allExitedSeconds: allExited,
    mbPerSecondPerReceiver: ok && seconds !== null && seconds > 0 ? image.bytes / MB / seconds : 0,
    senderCpuSeconds: senderCpu,
    receiverCpuSeconds: receiverCpu,
    senderCpuSecondsPerGB: senderCpu === null ? null : senderCpu / gb,
    receiverCpuSecondsPerGB: rcvMean === null ? null : rcvMean / gb,
    senderMaxRssKiB: sender?.usage?.maxRssKiB ?? null,
    wireBytes,
    wireBytesPerImageByte: wireBytes / image.bytes,
    feedbackPackets: receiversAfter.reduce((a, s, i) => a + s.txPackets - receiversBefore[i].txPackets, 0),
    feedbackBytes: receiversAfter.reduce((a, s, i) => a + s.txBytes - receiversBefore[i].txBytes, 0),
    nftDropped: droppedAfter.map((n, i) => n - droppedBefore[i]),
    verifiedCopies,
    detail,
  };

  // The copies are big; the logs are what a failed run needs.
  for (const out of plan.outputs) await rm(out, { force: true });
  if (ok && !env.cfg.keep) {
    await rm(workDir, { recursive: true, force: true });
  } else {
    const logs = [
      `# ${describePoint(key)} ${config} rep ${rep}`,
      `## sender: ${plan.sender.join(' ')}`,
      sender === undefined ? '(not started)' : `${exitOf(sender)}\n${tail(sender.stderr, 20_000)}\n${tail(sender.stdout, 5_000)}`,
      ...rcv.map((r, i) => `## receiver ${i + 1}: ${plan.receivers[i].join(' ')}\n${exitOf(r)}\n${tail(r.stderr, 20_000)}\n${tail(r.stdout, 5_000)}`),
    ];
    const logsDir = env.cfg.keep ? workDir : join(env.logsRoot, basename(workDir));
    await mkdir(logsDir, { recursive: true });
    await writeFile(join(logsDir, 'logs.txt'), `${logs.join('\n\n')}\n`);
    if (logsDir !== workDir) await rm(workDir, { recursive: true, force: true });
    record.logsDir = logsDir;
  }
  return record;
}

export function runLine(r: RunRecord): string {
  const label = `${TOOL_CONFIGS[r.config].label}${r.fec === null ? '' : ` ${r.fec}`}`;
  return (
    `${describePoint(r.key)}  ${label.padEnd(24)} rep ${r.rep}  seconds=${fmt(r.seconds, 2)}  MB/s per receiver=${fmt(r.mbPerSecondPerReceiver, 1)}` +
    `  CPU s/GB sender=${fmt(r.senderCpuSecondsPerGB, 2)} receivers=${fmt(r.receiverCpuSecondsPerGB, 2)}` +
    `  wire B/B=${fmt(r.wireBytesPerImageByte, 3)}  feedback pkts=${r.feedbackPackets ?? '—'}  ${r.ok ? 'ok' : `BAD (${r.problems.join('; ')})`}`
  );
}

/** The order of configs in rep `rep` (1-based): CONFIG order, rotated by rep - 1. */
export function runOrder(configs: readonly ConfigId[], rep: number): ConfigId[] {
  // Interleave tools (rackcast, udpcast, uftp, rackcast --fec, …) rather than CONFIG_IDS order.
  const byTool = new Map<ToolName, ConfigId[]>();
  for (const c of configs) {
    const t = TOOL_CONFIGS[c].tool;
    byTool.set(t, [...(byTool.get(t) ?? []), c]);
  }
  const interleaved: ConfigId[] = [];
  for (let i = 0; interleaved.length < configs.length; i++) {
    for (const cs of byTool.values()) if (i < cs.length) interleaved.push(cs[i]);
  }
  const k = (rep - 1) % Math.max(1, interleaved.length);
  return [...interleaved.slice(k), ...interleaved.slice(0, k)];
}

/**
 * Configs whose command at this loss is the same as another selected config's
 * (rackcast --fec where the table says none): they are not run again; their rows
 * copy the other's. Returns config → the config it equals.
 */
export function aliasesAt(configs: readonly ConfigId[], cfg: Pick<BenchConfig, 'rackcastFec' | 'udpcastFec'>, lossPermille: number): Map<ConfigId, ConfigId> {
  const out = new Map<ConfigId, ConfigId>();
  const ctx = { lossPermille, rackcastFec: cfg.rackcastFec, udpcastFec: cfg.udpcastFec };
  for (const [fecCfg, plain] of [['rackcast-fec', 'rackcast'], ['udpcast-fec', 'udpcast']] as const) {
    if (configs.includes(fecCfg) && configs.includes(plain) && fecOfConfig(fecCfg, ctx) === undefined) out.set(fecCfg, plain);
  }
  return out;
}

// ---------------------------------------------------------------- main

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
    files: Object.fromEntries(
      [...images.values()].map((i) => [i.kind, { name: basename(i.path), bytes: i.bytes, sha256: i.sha256, note: i.note }]),
    ),
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
      wireBytesPerImageByte: "sender device tx bytes (Ethernet frames) per image byte",
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
  }
  for (const l of summaryLines(vs, notes)) say(l);
  say(`results: ${join(resultsDir, `${base}.md`)} (.json, ${plotFiles.length} plot(s)); ${((performance.now() - t0) / 1000).toFixed(0)} s`);

  if (cfg.keep) say(`kept: ${workRoot}`);
  else await rm(workRoot, { recursive: true, force: true }).catch(() => undefined);
  workRootForCleanup = undefined;
  if (labFailed !== undefined) return 3;
  return vs.every((v) => v.pass) ? 0 : 1;
}

// Run only as the entry point: the unit tests import this module's pure parts.
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
