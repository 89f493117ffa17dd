// Sizes, rates and durations as udpcast users type them: "600m" bits/s for
// --max-bitrate, "64M" bytes, seconds as decimals. Throws UsageError on bad input.

import { UsageError } from './errors.js';

const SUFFIX: Readonly<Record<string, number>> = { '': 1, k: 1e3, m: 1e6, g: 1e9, t: 1e12 };
const BINARY: Readonly<Record<string, number>> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** "600m" → 600e6 bits per second (udpcast's --max-bitrate: decimal k/m/g, an optional trailing "bps"). */
export function parseBitrate(text: string, option = '--max-bitrate'): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(?:bps|bit|b)?$/i.exec(text.trim());
  if (m === null) throw new UsageError(`${option}: not a rate: "${text}" (e.g. 600m for 600 Mbit/s)`);
  const v = Number(m[1]) * SUFFIX[m[2]!.toLowerCase()]!;
  if (!(v > 0) || !Number.isFinite(v)) throw new UsageError(`${option}: must be > 0: "${text}"`);
  return v;
}

/** "64M" / "64MiB" → bytes (binary multiples). */
export function parseBytes(text: string, option: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?$/i.exec(text.trim());
  if (m === null) throw new UsageError(`${option}: not a size: "${text}"`);
  const v = Math.floor(Number(m[1]) * BINARY[m[2]!.toLowerCase()]!);
  if (!Number.isSafeInteger(v)) throw new UsageError(`${option}: too large: "${text}"`);
  return v;
}

export function parseSeconds(text: string, option: string): number {
  if (!/^\d+(?:\.\d+)?$/.test(text.trim())) throw new UsageError(`${option}: not a number of seconds: "${text}"`);
  return Number(text) * 1000;
}

export function parseIntIn(text: string, option: string, min: number, max: number): number {
  if (!/^\d+$/.test(text.trim())) throw new UsageError(`${option}: not a whole number: "${text}"`);
  const v = Number(text);
  if (v < min || v > max) throw new UsageError(`${option}: must be between ${min} and ${max}, got ${v}`);
  return v;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}

/** MB/s, decimal, as the benches print it. */
export function formatRate(bytes: number, ms: number): string {
  return ms > 0 ? `${(bytes / 1e6 / (ms / 1000)).toFixed(1)} MB/s` : '-';
}
