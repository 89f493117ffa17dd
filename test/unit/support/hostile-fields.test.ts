// The fuzz harness aims its field mutations with FIELDS (test/support/fuzz/hostile.ts), a
// table written by hand. This test reads each message's byte table, the comment at the
// top of protocol/messages/*.ts that the codec follows, and checks that FIELDS names
// every fixed-size field there at the same offset and size: a field added to or moved
// on the wire without FIELDS following would otherwise go unfuzzed in silence.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MESSAGE_TYPE_NAMES, type MessageType } from '../../../protocol/header.js';
import { FIELDS } from '../../support/fuzz/hostile.js';

const MESSAGES_DIR = join(import.meta.dirname, '..', '..', '..', 'protocol', 'messages');

interface TableRow {
  readonly name: string;
  readonly off: number;
  readonly size: number;
}

interface ByteTable {
  readonly type: number;
  readonly rows: TableRow[];
  /** Where the variable-size part begins (its fields, `need[0]` and so on, FIELDS may aim at too). */
  readonly variableFrom: number;
}

/** The message type and fixed-size rows of one file's byte table (a variable row, `22+n` or size `n`, ends them). */
function byteTable(text: string): ByteTable | undefined {
  const lines = text.split('\n');
  const start = lines.findIndex((l) => /^\/\/ off size field/.test(l));
  if (start < 0) return undefined;
  let type: number | undefined;
  let variableFrom = Infinity;
  const rows: TableRow[] = [];
  for (const line of lines.slice(start + 1)) {
    if (!line.startsWith('//')) break;
    const header = /^\/\/\s+0\s+8 header\s+\(type (\d+)[;)]/.exec(line);
    if (header !== null) {
      type = Number(header[1]);
      continue;
    }
    const row = /^\/\/\s+(\d\S*)\s+(\S+)\s+(\w+)/.exec(line);
    if (row === null) continue; // a continuation line of the row above
    const [, off, size, name] = row;
    if (!/^\d+$/.test(off!) || !/^\d+$/.test(size!)) {
      variableFrom = Number.parseInt(off!, 10);
      break;
    }
    rows.push({ name: name!, off: Number(off), size: Number(size) });
  }
  if (type === undefined) return undefined;
  const last = rows[rows.length - 1];
  return { type, rows, variableFrom: Math.min(variableFrom, last === undefined ? 8 : last.off + last.size) };
}

const tables = readdirSync(MESSAGES_DIR)
  .filter((f) => f.endsWith('.ts'))
  .map((f) => ({ file: f, table: byteTable(readFileSync(join(MESSAGES_DIR, f), 'utf8')) }))
  .filter((t): t is { file: string; table: ByteTable } => t.table !== undefined);

describe('the fuzz field table follows the wire layouts', () => {
  it('every message type has a byte table in protocol/messages/', () => {
    const types = new Set(tables.map((t) => t.table.type));
    for (const name of Object.keys(FIELDS)) expect(types, `byte table for type ${name}`).toContain(Number(name));
  });

  it.each(tables.map((t) => [t.file, t.table] as const))('%s: FIELDS has each fixed-size field at its offset and size', (_file, table) => {
    const type = table.type as MessageType;
    expect(MESSAGE_TYPE_NAMES[type], `type ${type}`).toBeDefined();
    const fields = FIELDS[type];
    expect(fields, `FIELDS[${MESSAGE_TYPE_NAMES[type]}]`).toBeDefined();
    expect(table.rows.length).toBeGreaterThan(0);
    expect(fields.map((f) => ({ name: f.name, off: f.off, size: f.size }))).toEqual(expect.arrayContaining(table.rows));
    // And nothing in FIELDS's fixed part that the table does not have (a removed field still fuzzed is a stale test).
    for (const f of fields) {
      if (f.off >= table.variableFrom) continue;
      expect(table.rows, `FIELDS entry ${f.name} at ${f.off}`).toContainEqual({ name: f.name, off: f.off, size: f.size });
    }
  });
});
