// clone/ is node-side code: it may import protocol, native, common and receiver, never the
// sender or the benches (the boot image carries no sender, and nothing imports bench/).

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const CLONE_DIR = fileURLToPath(new URL('../../../clone/', import.meta.url));
const ALLOWED = ['protocol', 'native', 'common', 'receiver', 'clone'];

describe('clone/ layers', () => {
  it('imports only protocol, native, common, receiver and itself', () => {
    const bad: string[] = [];
    const files = readdirSync(CLONE_DIR).filter((f) => f.endsWith('.ts'));
    expect(files).toContain('agent.ts');
    for (const f of files) {
      const src = readFileSync(join(CLONE_DIR, f), 'utf8');
      for (const m of src.matchAll(/\bfrom\s*['"](\.[^'"]+)['"]/g)) {
        const spec = m[1];
        const top = spec.startsWith('./') ? 'clone' : spec.replace(/^(\.\.\/)+/, '').split('/')[0];
        if (!ALLOWED.includes(top)) bad.push(`${f}: ${spec}`);
      }
    }
    expect(bad).toEqual([]);
  });
});
