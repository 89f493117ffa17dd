// The bench matrix's plots: one SVG per (file, rate cap, loss mode), MB/s per receiver
// against loss, a line per tool configuration and receiver count (bench/plot.ts draws).

import { unique } from './matrix-args.js';
import { type ReportMeta, sectionsOf } from './matrix-report.js';
import type { SummaryRow } from './matrix-summary.js';
import { CONFIG_IDS, type ConfigId, TOOL_CONFIGS } from './peers.js';
import { type PlotSeries, renderLinePlot } from './plot.js';

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
