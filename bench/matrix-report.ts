// The bench matrix's report: the summary lines a person reads first, one Markdown table
// row per summary row, sections per (file, rate cap, loss mode), and the Markdown file.

import { breakdownTable } from './cpu-breakdown.js';
import type { BenchConfig, FileKind, LossMode } from './matrix-args.js';
import { BAR_RATIO_HIGH_LOSS, describePoint, fmt, fmtLoss, HIGH_LOSS_PERMILLE, type SummaryRow, type Verdict } from './matrix-summary.js';
import { formatFecTable, TOOL_CONFIGS } from './peers.js';

const MiB = 1024 * 1024;

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

export const TABLE_HEAD =
  '| N | loss | tool | FEC | median s | MB/s per receiver | ÷ best peer | CPU s/GB sender | CPU s/GB receiver | wire B/B | feedback pkts | verified |';
export const TABLE_RULE = '|--:|--:|---|---|--:|--:|--:|--:|--:|--:|--:|---|';

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
      s = { title, file: r.key.file, rate: r.key.rate, lossMode: r.key.lossMode, rows: [] };
      out.push(s);
    }
    s.rows.push(r);
  }
  return out;
}

/** Where rackcast's CPU went at each point of a section: one table per rackcast row (sender and receiver, s/GB by stage). */
export function cpuSections(rows: readonly SummaryRow[]): string[] {
  const out: string[] = [];
  for (const r of rows) {
    if (r.cpuStages === undefined || r.sameAs !== undefined) continue;
    out.push(`### Where rackcast's CPU goes: ${describePoint(r.key)}, ${r.label}${r.fec === null ? '' : ` ${r.fec}`} (medians, s/GB)`);
    out.push('');
    out.push(...breakdownTable(r.cpuStages.sender, r.cpuStages.receiver));
    out.push('');
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
    `- ${cfg.reps} rep(s) per tool and point, alternating tools; loss by nftables at each receiver's switch port; GRO on at every node` +
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
  out.push(
    'At every point rackcast (its better configuration) delivers at least the best peer’s MB/s, and at least 1.5x at 5% loss and above; every rackcast copy verifies.',
  );
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
    const failing = opts.verdicts.filter((v) => !v.pass && v.key.file === s.file && v.key.rate === s.rate && v.key.lossMode === s.lossMode);
    for (const v of failing) out.push(`- ${verdictLine(v)}`);
    if (failing.length > 0) out.push('');
    for (const l of cpuSections(s.rows)) out.push(l);
  }
  if (opts.plots.length > 0) {
    out.push('## Plots');
    out.push('');
    for (const p of opts.plots) out.push(`![${p.title}](${p.file})`);
    out.push('');
  }
  return `${out.join('\n')}\n`;
}
