// --events FILE|-: what happens to each node, as JSON lines an orchestrator can follow
// (`tail -f`, or a pipe): join, start, progress (every PROGRESS_EVERY_MS, one line per node
// still running), slow, catch-up, dropped, verified, failed, missing, start-timeout, sent
// and done. Every line has `ts` (ISO time), `t` (seconds since the sender started) and
// `event`; a node's lines have its `id`, `address` and `host` (with --hosts). The format is
// in the README.

import { createWriteStream, type WriteStream } from 'node:fs';
import type { NodeView } from './node-view.js';

/** Progress lines for every running node this often. */
export const PROGRESS_EVERY_MS = 2000;

export type EventFields = Record<string, string | number | boolean | undefined | readonly string[]>;

/** The figures of a node in its event lines (and in --json), rounded for people and parsers alike. */
export function nodeFields(v: NodeView): EventFields {
  const r = (x: number | undefined, d: number): number | undefined => (x === undefined ? undefined : Number(x.toFixed(d)));
  return {
    id: v.id,
    host: v.name === v.address ? undefined : v.name,
    address: v.address,
    state: v.state,
    bytes: v.bytes,
    done: r(v.done, 4),
    MBps: r(v.rateBps === undefined ? undefined : v.rateBps / 1e6, 2),
    loss: r(v.lossShare, 4),
    repair: r(v.repairShare, 4),
    diskMBps: r(v.outputBps === undefined ? undefined : v.outputBps / 1e6, 2),
    limit: v.limit === '-' ? undefined : v.limit,
    seconds: r(v.seconds, 2),
    reason: v.detail === '' ? undefined : v.detail,
    catchUp: v.catchUp,
    catchUpAtS: r(v.catchUpAtSeconds, 2),
  };
}

export class EventsLog {
  private readonly out: NodeJS.WritableStream;
  private readonly file: WriteStream | undefined;

  /** `target`: a file path, or '-' for stdout. */
  constructor(
    target: string,
    private readonly startedAtMs: number,
  ) {
    if (target === '-') {
      this.out = process.stdout;
    } else {
      this.file = createWriteStream(target, { flags: 'a' });
      this.out = this.file;
    }
  }

  /** Waits until the file can be written (an error is an unusable --events). */
  async open(): Promise<void> {
    const f = this.file;
    if (f === undefined) return;
    await new Promise<void>((resolve, reject) => {
      f.once('open', () => resolve());
      f.once('error', reject);
    });
  }

  emit(event: string, fields: EventFields, nowMs: number): void {
    const line = { ts: new Date().toISOString(), t: Number(((nowMs - this.startedAtMs) / 1000).toFixed(3)), event, ...fields };
    this.out.write(`${JSON.stringify(line)}\n`);
  }

  async close(): Promise<void> {
    const f = this.file;
    if (f === undefined) return;
    await new Promise<void>((resolve) => f.end(() => resolve()));
  }
}
