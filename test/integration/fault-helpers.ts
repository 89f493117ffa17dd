// Shared by faults.test.ts, fuzz-live.test.ts and netns-faults.test.ts: sessions in a port
// range and group block of their own, the CLIs' pino logs (--log) read back with their
// timestamps, and waiting for a log event.

import { randomInt } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Session } from './helpers.js';

/**
 * Ports 39000..39999 and groups 239.77.x.1/2: clear of helpers.newSession (239.192.x, and
 * a port anywhere in 20000..59998 that rarely lands here) and of the CLIs' defaults
 * (9000, 239.192.67.x), so a fault test never hears another test's or a bench's transfer.
 */
export function faultSession(): Session {
  const portbase = 39_000 + 2 * randomInt(0, 500);
  const third = randomInt(0, 256);
  return { portbase, dataGroup: `239.77.${third}.1`, rdvGroup: `239.77.${third}.2` };
}

/** A second session on the same port base, in another group block. */
export function sameBaseOtherGroups(s: Session): Session {
  const third = (Number(s.dataGroup.split('.')[2]) + 1 + randomInt(0, 254)) % 256;
  return { portbase: s.portbase, dataGroup: `239.77.${third}.1`, rdvGroup: `239.77.${third}.2` };
}

export interface LogRecord {
  readonly time: number;
  readonly evt?: string;
  readonly [key: string]: unknown;
}

/** The JSON records of a --log file (an absent or half-written file gives what is there). */
export async function readLog(path: string): Promise<LogRecord[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return [];
  }
  const out: LogRecord[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      out.push(JSON.parse(line) as LogRecord);
    } catch {
      // the line being written
    }
  }
  return out;
}

/** Polls a --log file until `count` records with this evt are in it; returns them. Throws after timeoutMs. */
export async function waitForLog(path: string, evt: string, o: { count?: number; timeoutMs?: number } = {}): Promise<LogRecord[]> {
  const count = o.count ?? 1;
  const until = Date.now() + (o.timeoutMs ?? 30_000);
  for (;;) {
    const found = (await readLog(path)).filter((r) => r.evt === evt);
    if (found.length >= count) return found;
    if (Date.now() > until) throw new Error(`${path}: no ${count} x "${evt}" within ${o.timeoutMs ?? 30_000} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export function mbPerSecond(bytes: number, seconds: number): number {
  return seconds > 0 ? bytes / 1e6 / seconds : 0;
}
