// netboot/ is node-side code: it may import protocol, native, common, receiver and clone
// (the agent's plan validator), never the sender or the benches.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const NETBOOT_DIR = fileURLToPath(new URL('../../../netboot/', import.meta.url));
const ALLOWED = ['protocol', 'native', 'common', 'receiver', 'clone', 'netboot'];

describe('netboot/ layers', () => {
  it('imports only protocol, native, common, receiver, clone and itself', () => {
    const bad: string[] = [];
    const files = readdirSync(NETBOOT_DIR).filter((f) => f.endsWith('.ts'));
    expect(files).toContain('build.ts');
    for (const f of files) {
      const src = readFileSync(join(NETBOOT_DIR, f), 'utf8');
      for (const m of src.matchAll(/\b(?:from|import)\s*\(?\s*['"](\.[^'"]+)['"]/g)) {
        const spec = m[1];
        const top = spec.startsWith('./') ? 'netboot' : spec.replace(/^(\.\.\/)+/, '').split('/')[0];
        if (!ALLOWED.includes(top)) bad.push(`${f}: ${spec}`);
      }
    }
    expect(bad).toEqual([]);
  });
});
