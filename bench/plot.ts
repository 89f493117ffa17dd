// A small line-plot writer: SVG text by hand, no dependency. Used by bench.ts for
// "throughput vs loss, one line per tool and N"; pure (string in, string out), so it
// is unit-tested on its output.

export interface PlotPoint {
  x: number;
  /** null: no value here (the line breaks). */
  y: number | null;
}

export interface PlotSeries {
  label: string;
  /** Any SVG colour, e.g. "#d62728". */
  color: string;
  /** SVG stroke-dasharray, e.g. "6 3"; undefined draws a solid line. */
  dash?: string;
  points: readonly PlotPoint[];
}

export interface PlotOptions {
  title: string;
  subtitle?: string;
  xLabel: string;
  yLabel: string;
  series: readonly PlotSeries[];
  /** Tick positions on x; default: every x value that occurs. */
  xTicks?: readonly number[];
  /** Formats an x tick; default String. */
  xTickLabel?: (x: number) => string;
  width?: number;
  height?: number;
}

const MARGIN_LEFT = 72;
const MARGIN_TOP = 64;
const MARGIN_BOTTOM = 64;
const LEGEND_WIDTH = 250;
const LEGEND_ROW = 18;
const FONT = 'font-family="DejaVu Sans, Helvetica, Arial, sans-serif"';

export function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c] ?? c);
}

/**
 * "Nice" tick values from 0 (or min) up to at least max: steps of 1, 2, 2.5 or 5
 * times a power of ten, about `count` of them. Always at least two ticks.
 */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) throw new RangeError('niceTicks: min and max must be finite');
  if (max < min) [min, max] = [max, min];
  if (max === min) max = min === 0 ? 1 : min + Math.abs(min);
  const rough = (max - min) / Math.max(1, count);
  const pow = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * pow).find((s) => s >= rough) ?? 10 * pow;
  const first = Math.floor(min / step);
  const last = Math.max(first + 1, Math.ceil(max / step - 1e-9));
  const ticks: number[] = [];
  for (let i = first; i <= last; i++) ticks.push(Number((i * step).toPrecision(12)));
  return ticks;
}

function fmtNum(v: number): string {
  return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(6)));
}

/** Coordinates with two decimals: small files, and stable for tests. */
function c(v: number): string {
  return (Math.round(v * 100) / 100).toString();
}

/** Renders the plot as a standalone SVG document. */
export function renderLinePlot(opts: PlotOptions): string {
  const legendRows = opts.series.length;
  const width = opts.width ?? 900;
  const height = Math.max(opts.height ?? 520, MARGIN_TOP + legendRows * LEGEND_ROW + 40);
  const plotW = width - MARGIN_LEFT - LEGEND_WIDTH - 20;
  const plotH = height - MARGIN_TOP - MARGIN_BOTTOM;

  const xs = opts.series.flatMap((s) => s.points.map((p) => p.x));
  const xTicks = [...(opts.xTicks ?? [...new Set(xs)])].sort((a, b) => a - b);
  let xMin = Math.min(...xTicks, ...xs);
  let xMax = Math.max(...xTicks, ...xs);
  if (!Number.isFinite(xMin)) [xMin, xMax] = [0, 1];
  if (xMax === xMin) [xMin, xMax] = [xMin - 1, xMax + 1];
  const ys = opts.series.flatMap((s) => s.points.map((p) => p.y).filter((y): y is number => y !== null && Number.isFinite(y)));
  const yTicks = niceTicks(0, Math.max(0, ...ys));
  const yMax = yTicks[yTicks.length - 1]!;

  const px = (x: number): number => MARGIN_LEFT + ((x - xMin) / (xMax - xMin)) * plotW;
  const py = (y: number): number => MARGIN_TOP + plotH - (y / yMax) * plotH;
  const xTickLabel = opts.xTickLabel ?? fmtNum;

  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${FONT} font-size="12">`);
  out.push(`<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`);
  out.push(`<text x="${c(MARGIN_LEFT)}" y="24" font-size="16" font-weight="bold">${escapeXml(opts.title)}</text>`);
  if (opts.subtitle !== undefined) {
    out.push(`<text x="${c(MARGIN_LEFT)}" y="44" fill="#555555">${escapeXml(opts.subtitle)}</text>`);
  }

  // Grid and axes.
  out.push('<g stroke="#e0e0e0" stroke-width="1">');
  for (const t of yTicks) out.push(`<line x1="${c(MARGIN_LEFT)}" y1="${c(py(t))}" x2="${c(MARGIN_LEFT + plotW)}" y2="${c(py(t))}"/>`);
  for (const t of xTicks) out.push(`<line x1="${c(px(t))}" y1="${c(MARGIN_TOP)}" x2="${c(px(t))}" y2="${c(MARGIN_TOP + plotH)}"/>`);
  out.push('</g>');
  out.push(
    `<g stroke="#333333" stroke-width="1"><line x1="${c(MARGIN_LEFT)}" y1="${c(MARGIN_TOP + plotH)}" x2="${c(MARGIN_LEFT + plotW)}" y2="${c(MARGIN_TOP + plotH)}"/>` +
      `<line x1="${c(MARGIN_LEFT)}" y1="${c(MARGIN_TOP)}" x2="${c(MARGIN_LEFT)}" y2="${c(MARGIN_TOP + plotH)}"/></g>`,
  );
  out.push('<g fill="#333333">');
  for (const t of yTicks) {
    out.push(`<text x="${c(MARGIN_LEFT - 8)}" y="${c(py(t) + 4)}" text-anchor="end">${escapeXml(fmtNum(t))}</text>`);
  }
  for (const t of xTicks) {
    out.push(`<text x="${c(px(t))}" y="${c(MARGIN_TOP + plotH + 18)}" text-anchor="middle">${escapeXml(xTickLabel(t))}</text>`);
  }
  out.push('</g>');
  out.push(`<text x="${c(MARGIN_LEFT + plotW / 2)}" y="${c(height - 18)}" text-anchor="middle" font-size="13">${escapeXml(opts.xLabel)}</text>`);
  const yLabelX = 18;
  const yLabelY = MARGIN_TOP + plotH / 2;
  out.push(
    `<text x="${yLabelX}" y="${c(yLabelY)}" text-anchor="middle" font-size="13" transform="rotate(-90 ${yLabelX} ${c(yLabelY)})">${escapeXml(opts.yLabel)}</text>`,
  );

  // Lines: one polyline per run of consecutive non-null points, markers on every point.
  for (const s of opts.series) {
    const pts = [...s.points].sort((a, b) => a.x - b.x);
    const dash = s.dash === undefined ? '' : ` stroke-dasharray="${escapeXml(s.dash)}"`;
    out.push(`<g stroke="${escapeXml(s.color)}" fill="${escapeXml(s.color)}">`);
    let run: string[] = [];
    const flush = (): void => {
      if (run.length > 1) out.push(`<polyline fill="none" stroke-width="2"${dash} points="${run.join(' ')}"/>`);
      run = [];
    };
    for (const p of pts) {
      if (p.y === null || !Number.isFinite(p.y)) {
        flush();
        continue;
      }
      run.push(`${c(px(p.x))},${c(py(p.y))}`);
    }
    flush();
    for (const p of pts) {
      if (p.y === null || !Number.isFinite(p.y)) continue;
      out.push(
        `<circle cx="${c(px(p.x))}" cy="${c(py(p.y))}" r="3.5"><title>${escapeXml(`${s.label}: ${fmtNum(p.x)} → ${fmtNum(Number(p.y.toFixed(1)))}`)}</title></circle>`,
      );
    }
    out.push('</g>');
  }

  // Legend, right of the plot.
  const lx = MARGIN_LEFT + plotW + 24;
  out.push('<g>');
  opts.series.forEach((s, i) => {
    const y = MARGIN_TOP + i * LEGEND_ROW + 6;
    const dash = s.dash === undefined ? '' : ` stroke-dasharray="${escapeXml(s.dash)}"`;
    out.push(`<line x1="${c(lx)}" y1="${c(y)}" x2="${c(lx + 28)}" y2="${c(y)}" stroke="${escapeXml(s.color)}" stroke-width="2"${dash}/>`);
    out.push(`<circle cx="${c(lx + 14)}" cy="${c(y)}" r="3" fill="${escapeXml(s.color)}"/>`);
    out.push(`<text x="${c(lx + 36)}" y="${c(y + 4)}">${escapeXml(s.label)}</text>`);
  });
  out.push('</g>');
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
