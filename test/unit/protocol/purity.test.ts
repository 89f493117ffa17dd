// protocol/ holds bytes, numbers and pure functions. No sockets, timers,
// files, processes or logger, no wall clock, and no Node Buffer (Uint8Array + DataView only).

import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const PROTOCOL_DIR = fileURLToPath(new URL('../../../protocol/', import.meta.url));

const FORBIDDEN_MODULES = ['dgram', 'timers', 'timers/promises', 'fs', 'fs/promises', 'net', 'child_process', 'pino'];
const FORBIDDEN_TEXT = ['Date.now(', 'setTimeout(', 'setInterval(', 'Buffer.'];

function tsFilesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => join(dir, f))
    .sort();
}

/** Module specifiers of static imports, re-exports, dynamic imports and require calls. */
function importedModules(source: string): string[] {
  const specs: string[] = [];
  const patterns = [
    /\b(?:import|export)\s[^'"]*?\bfrom\s*['"]([^'"]+)['"]/g,
    /\bimport\s*['"]([^'"]+)['"]/g,
    /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
    /\brequire\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
  ];
  for (const re of patterns) for (const m of source.matchAll(re)) specs.push(m[1]!);
  return specs;
}

function isForbiddenModule(spec: string): boolean {
  const bare = spec.startsWith('node:') ? spec.slice('node:'.length) : spec;
  return FORBIDDEN_MODULES.includes(bare) || bare.startsWith('pino/');
}

/** Every violation in one file's source, as `what`. */
function violations(source: string): string[] {
  const found = importedModules(source)
    .filter(isForbiddenModule)
    .map((m) => `imports ${m}`);
  for (const text of FORBIDDEN_TEXT) if (source.includes(text)) found.push(`mentions ${text}`);
  return found;
}

describe('protocol/ purity', () => {
  const files = tsFilesUnder(PROTOCOL_DIR);

  it('finds the protocol sources, including subfolders', () => {
    const names = files.map((f) => relative(PROTOCOL_DIR, f).replaceAll('\\', '/'));
    expect(names).toContain('header.ts');
    expect(names).toContain('codec.ts');
    expect(names).toContain('messages/data.ts');
    expect(names.some((n) => n.startsWith('fec/'))).toBe(true);
    expect(files.length).toBeGreaterThanOrEqual(20);
  });

  it('no file imports node:dgram, node:timers, node:fs, node:net, node:child_process or pino, or uses the clock, timers or Buffer', () => {
    const bad: string[] = [];
    for (const f of files) {
      for (const v of violations(readFileSync(f, 'utf8'))) bad.push(`${relative(PROTOCOL_DIR, f)}: ${v}`);
    }
    expect(bad).toEqual([]);
  });

  it('the check itself catches each forbidden form', () => {
    const cases: readonly (readonly [string, string])[] = [
      ["import dgram from 'node:dgram';", 'imports node:dgram'],
      ["import * as dgram from 'dgram';", 'imports dgram'],
      ["import { setTimeout as sleep } from 'node:timers/promises';", 'imports node:timers/promises'],
      ["import { readFileSync } from 'node:fs';", 'imports node:fs'],
      ["import { readFile } from 'fs/promises';", 'imports fs/promises'],
      ["import type { Socket } from 'node:net';", 'imports node:net'],
      ["import {\n  spawn,\n} from 'node:child_process';", 'imports node:child_process'],
      ["import pino from 'pino';", 'imports pino'],
      ["export { pino } from 'pino';", 'imports pino'],
      ["import 'node:timers';", 'imports node:timers'],
      ["const fs = await import('node:fs');", 'imports node:fs'],
      ["const net = require('net');", 'imports net'],
      ['const t = Date.now();', 'mentions Date.now('],
      ['setTimeout(() => {}, 1);', 'mentions setTimeout('],
      ['setInterval(tick, 10);', 'mentions setInterval('],
      ['const b = Buffer.alloc(8);', 'mentions Buffer.'],
    ];
    for (const [source, expected] of cases) expect(violations(source), source).toContain(expected);
    expect(violations("import { view } from '../header.js';\nconst v = new DataView(b.buffer);")).toEqual([]);
  });
});
