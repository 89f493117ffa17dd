// The sender's live view on a terminal: a summary line and one compact row per node
// (state, % done, MB/s, loss, repair share, disk MB/s, what limits it), slowest first,
// redrawn in place twice a second. It fits the terminal: columns go from the right when the
// width is short, and when the nodes outnumber the rows the fastest are folded into one
// line that counts them by state. renderTable is pure (tests call it); LiveTable owns the
// cursor.

import type { NodeView } from './node-view.js';

export interface TableSummary {
  readonly phase: string;
  /** Image bytes read from the source, and the image's size if known. */
  readonly bytesRead: number;
  readonly imageBytes: number | undefined;
  /** Bytes a second the sender puts on the wire now. */
  readonly sendBps: number | undefined;
  /** Repair datagrams as a share of all DATA sent. */
  readonly repairShare: number;
  /** Seconds since START. */
  readonly seconds: number;
}

const MB = 1e6;
const MiB = 1 << 20;

function pct(x: number | undefined): string {
  return x === undefined ? '-' : `${Math.floor(x * 100)}%`;
}

function rate(bps: number | undefined): string {
  return bps === undefined ? '-' : (bps / MB).toFixed(1);
}

function share(x: number | undefined): string {
  if (x === undefined) return '-';
  const p = x * 100;
  return p >= 10 ? `${p.toFixed(0)}%` : `${p.toFixed(1)}%`;
}

interface Column {
  readonly title: string;
  readonly width: number;
  readonly cell: (v: NodeView) => string;
  /** Dropped first (highest) when the terminal is narrow; 0: always shown. */
  readonly dropOrder: number;
}

const COLUMNS: readonly Column[] = [
  { title: 'state', width: 9, cell: (v) => v.state, dropOrder: 0 },
  { title: 'done', width: 5, cell: (v) => pct(v.done), dropOrder: 0 },
  { title: 'MB/s', width: 6, cell: (v) => rate(v.rateBps), dropOrder: 0 },
  { title: 'loss', width: 5, cell: (v) => share(v.lossShare), dropOrder: 1 },
  { title: 'repair', width: 6, cell: (v) => share(v.repairShare), dropOrder: 2 },
  { title: 'disk', width: 6, cell: (v) => rate(v.outputBps), dropOrder: 3 },
  { title: 'limit', width: 6, cell: lastCell, dropOrder: 0 },
];

/** What limits a running node; how long a verified one took; why another failed. */
function lastCell(v: NodeView): string {
  if (v.state === 'verified') return v.seconds === undefined ? '' : `in ${v.seconds.toFixed(1)} s`;
  if (v.detail !== '') return v.detail;
  return v.limit;
}

const NAME_MIN = 8;
const NAME_MAX = 24;

function clip(s: string, w: number): string {
  return s.length > w ? `${s.slice(0, Math.max(1, w - 1))}~` : s;
}

/**
 * The lines to show, each shorter than `columns` (the terminal's last column is left alone:
 * writing into it wraps on some terminals), at most `rows` lines in all.
 */
export function renderTable(s: TableSummary, nodes: readonly NodeView[], size: { columns: number; rows: number }): string[] {
  const width = Math.max(20, size.columns - 1);
  const byState = countStates(nodes);
  const of = s.imageBytes === undefined ? '' : ` of ${(s.imageBytes / MiB).toFixed(0)}`;
  const done = s.imageBytes !== undefined && s.imageBytes > 0 ? ` (${Math.floor((100 * s.bytesRead) / s.imageBytes)}%)` : '';
  // What the rack is doing first: on a narrow terminal the line is cut from the right.
  const summary =
    `${s.phase} ${s.seconds.toFixed(0)} s  ${nodes.length} nodes: ${byState}  ` +
    `read ${(s.bytesRead / MiB).toFixed(0)}${of} MiB${done}  send ${rate(s.sendBps)} MB/s  repair ${share(s.repairShare)}`;
  // Columns from the right go until the row fits with a name of at least NAME_MIN.
  let cols = [...COLUMNS];
  const rowWidth = (cs: readonly Column[]): number => cs.reduce((a, c) => a + c.width + 1, 0);
  while (rowWidth(cols) + NAME_MIN > width) {
    const drop = cols.reduce((a, c) => (c.dropOrder > a.dropOrder ? c : a));
    if (drop.dropOrder === 0) break;
    cols = cols.filter((c) => c !== drop);
  }
  // Several receivers on one host (or behind one address): the id tells them apart.
  const seen = new Map<string, number>();
  for (const n of nodes) seen.set(n.name, (seen.get(n.name) ?? 0) + 1);
  const label = (n: NodeView): string => ((seen.get(n.name) ?? 0) > 1 && n.id !== '-' ? `${n.name}/${n.id.slice(0, 4)}` : n.name);
  const longest = nodes.reduce((a, n) => Math.max(a, label(n).length), 4);
  const nameWidth = Math.max(NAME_MIN, Math.min(NAME_MAX, longest, width - rowWidth(cols)));
  const line = (name: string, cells: string[]): string => {
    let out = clip(name, nameWidth).padEnd(nameWidth);
    cols.forEach((c, i) => {
      // The last column (what limits a node, or why it failed) may run to the edge.
      const cell = cells[i] ?? '';
      if (i === cols.length - 1) out += ` ${cell}`;
      else if (c.title === 'state') out += ` ${clip(cell, c.width).padEnd(c.width)}`;
      else out += ` ${clip(cell, c.width).padStart(c.width)}`;
    });
    return clip(out.trimEnd(), width);
  };
  const lines = [
    clip(summary, width),
    line(
      'node',
      cols.map((c) => c.title),
    ),
  ];
  const room = Math.max(1, size.rows - lines.length - 1);
  const shown = nodes.length <= room ? nodes : nodes.slice(0, room - 1);
  for (const n of shown)
    lines.push(
      line(
        label(n),
        cols.map((c) => c.cell(n)),
      ),
    );
  if (shown.length < nodes.length) lines.push(clip(`... ${nodes.length - shown.length} more: ${countStates(nodes.slice(shown.length))}`, width));
  return lines;
}

const STATE_ORDER: readonly NodeView['state'][] = ['joined', 'live', 'catch-up', 'verifying', 'verified', 'failed', 'dropped', 'left', 'missing'];

/** "3 live, 1 catch-up, 2 verified": the states present, in the order a transfer goes through them. */
function countStates(nodes: readonly NodeView[]): string {
  return STATE_ORDER.map((st) => [st, nodes.filter((n) => n.state === st).length] as const)
    .filter(([, n]) => n > 0)
    .map(([st, n]) => `${n} ${st}`)
    .join(', ');
}

/** Draws renderTable's lines in place on a terminal stream. */
export class LiveTable {
  private drawn = 0;

  constructor(private readonly stream: NodeJS.WriteStream) {}

  get size(): { columns: number; rows: number } {
    return { columns: this.stream.columns ?? 100, rows: this.stream.rows ?? 40 };
  }

  draw(lines: readonly string[]): void {
    this.stream.write(this.home() + lines.map((l) => `${l}\x1b[K`).join('\n') + '\x1b[J');
    this.drawn = lines.length;
  }

  /** Prints a line above the table (which is drawn again at the next draw()). */
  print(line: string): void {
    this.stream.write(`${this.home()}\x1b[J${line}\n`);
    this.drawn = 0;
  }

  /** Leaves the last table on the screen and moves below it. */
  end(): void {
    if (this.drawn > 0) this.stream.write('\n');
    this.drawn = 0;
  }

  /** Back to the first column of the table's first line. */
  private home(): string {
    if (this.drawn === 0) return '\r';
    return this.drawn > 1 ? `\r\x1b[${this.drawn - 1}A` : '\r';
  }
}
