// The bench matrix's records and what is made of them: one RunRecord per run, one
// SummaryRow per (point, config) with medians over the reps, and the verdict of the bar
// at each point (rackcast's better configuration against the best peer).

import { medianStages, type StagesPerGB } from './cpu-breakdown.js';
import type { FileKind, LossMode } from './matrix-args.js';
import { median } from './median.js';

export { median };

import { CONFIG_IDS, type ConfigId, TOOL_CONFIGS } from './peers.js';

/** The bar: rackcast / best peer at least this much, by loss. */
export const BAR_RATIO = 1;
export const BAR_RATIO_HIGH_LOSS = 1.5;
export const HIGH_LOSS_PERMILLE = 50;
const MB = 1e6;

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

/** A number for a table: `digits` decimals, or a dash when there is none. */
export function fmt(x: number | null | undefined, digits: number): string {
  return x === null || x === undefined || !Number.isFinite(x) ? '—' : x.toFixed(digits);
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
  /** rackcast: where its CPU went, s/GB per stage (receivers: their mean), from each CLI's --json. */
  cpuStages?: { readonly sender?: StagesPerGB; readonly receiver?: StagesPerGB };
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
  /** rackcast: medians of each stage's CPU s/GB over the verified runs (bench/cpu-breakdown.ts). */
  cpuStages?: { readonly sender?: StagesPerGB; readonly receiver?: StagesPerGB };
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
    if (g === undefined) {
      g = { key: r.key, config: r.config, runs: [] };
      groups.set(id, g);
    }
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
      fec: g.runs[0]!.fec,
      runs: g.runs.length,
      verifiedRuns: ok.length,
      medianSeconds: secs === null || !Number.isFinite(secs) ? null : secs,
      mbPerSecondPerReceiver: secs === null || !Number.isFinite(secs) || secs <= 0 ? 0 : bytes / MB / secs,
      ratioToBestPeer: null,
      senderCpuSecondsPerGB: medianOf(ok.map((r) => r.senderCpuSecondsPerGB)),
      receiverCpuSecondsPerGB: medianOf(ok.map((r) => r.receiverCpuSecondsPerGB)),
      wireBytesPerImageByte: medianOf(ok.map((r) => r.wireBytesPerImageByte)),
      feedbackPackets: medianOf(ok.map((r) => r.feedbackPackets)),
      cpuStages: ok.some((r) => r.cpuStages !== undefined)
        ? { sender: medianStages(ok.map((r) => r.cpuStages?.sender)), receiver: medianStages(ok.map((r) => r.cpuStages?.receiver)) }
        : undefined,
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
