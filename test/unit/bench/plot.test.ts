import { describe, expect, it } from 'vitest';
import { escapeXml, niceTicks, renderLinePlot } from '../../../bench/plot.js';

describe('niceTicks', () => {
  it('steps of 1, 2, 2.5 or 5 times a power of ten, reaching the max', () => {
    expect(niceTicks(0, 27.3)).toEqual([0, 10, 20, 30]);
    expect(niceTicks(0, 100)).toEqual([0, 20, 40, 60, 80, 100]);
    expect(niceTicks(0, 0)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(0, 7)).toEqual([0, 2, 4, 6, 8]);
    expect(niceTicks(0, 1234)).toEqual([0, 250, 500, 750, 1000, 1250]);
  });

  it('refuses non-finite bounds', () => {
    expect(() => niceTicks(0, Infinity)).toThrow(RangeError);
  });
});

describe('renderLinePlot', () => {
  const svg = renderLinePlot({
    title: 'Throughput vs loss <random>',
    xLabel: 'loss (%)',
    yLabel: 'MB/s per receiver',
    series: [
      {
        label: 'rackcast, N=2',
        color: '#d62728',
        points: [
          { x: 0, y: 40 },
          { x: 5, y: 30 },
          { x: 10, y: 20 },
        ],
      },
      {
        label: 'uftp -R -1, N=2',
        color: '#2ca02c',
        dash: '8 4',
        points: [
          { x: 0, y: 45 },
          { x: 5, y: null },
          { x: 10, y: 10 },
        ],
      },
    ],
    xTickLabel: (x) => `${x}%`,
  });

  it('is one SVG document with title, axis labels, ticks and a legend entry per series', () => {
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(svg).toContain('Throughput vs loss &lt;random&gt;');
    expect(svg).toContain('>loss (%)</text>');
    expect(svg).toContain('>MB/s per receiver</text>');
    for (const t of ['0%', '5%', '10%', '0', '10', '50']) expect(svg).toContain(`>${t}</text>`);
    expect(svg).toContain('>rackcast, N=2</text>');
    expect(svg).toContain('>uftp -R -1, N=2</text>');
    expect(svg).toContain('stroke-dasharray="8 4"');
  });

  it('draws a line through consecutive points and breaks it at a missing value', () => {
    // rackcast: one polyline of 3 points; uftp: two single points, so no polyline.
    const polylines: string[] = svg.match(/<polyline [^>]*points="([^"]*)"/g) ?? [];
    expect(polylines).toHaveLength(1);
    expect(polylines[0]!.match(/points="([^"]*)"/)![1]!.split(' ')).toHaveLength(3);
    expect(svg.match(/<circle cx/g)).toHaveLength(5 + 2); // markers + legend dots
  });

  it('every point lies inside the plot area (the y axis reaches the largest value)', () => {
    for (const m of svg.matchAll(/<circle cx="([\d.]+)" cy="([\d.]+)" r="3.5">/g)) {
      expect(Number(m[2])).toBeGreaterThanOrEqual(64);
      expect(Number(m[2])).toBeLessThanOrEqual(520 - 64);
    }
    expect(svg).toContain('>50</text>');
  });

  it('tags are balanced', () => {
    const open = (svg.match(/<g[ >]/g) ?? []).length;
    const close = (svg.match(/<\/g>/g) ?? []).length;
    expect(open).toBe(close);
  });

  it('escapes XML', () => {
    expect(escapeXml(`a<b & "c" 'd'>`)).toBe('a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt;');
  });

  it('copes with no data', () => {
    const empty = renderLinePlot({ title: 't', xLabel: 'x', yLabel: 'y', series: [] });
    expect(empty).toContain('</svg>');
    expect(empty).not.toContain('NaN');
  });
});
