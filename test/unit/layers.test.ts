// The layers of DESIGN.md's layout table, checked on the real import graph: every top-level
// source folder is a layer, imports run one way (protocol ← native ← common ← roles ← node
// side), inside a role core ← driver ← cli, and no file imports in a circle.
//
// Type-only imports count: a cycle of `import type` still ties two files together for a
// reader, and it is how the factory ↔ stage cycles this test was written against hid.

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * One line per top-level source folder: the folders it may import (besides itself), or
 * '*' for any. A folder of .ts files missing here fails the test until it gets its line.
 */
const LAYERS: Readonly<Record<string, readonly string[] | '*'>> = {
  protocol: [],
  // DESIGN.md lets native/ import protocol/; it holds only the addons' raw bindings and their
  // loader (the TypeScript on top is common/fec.ts and common/udp/), so it imports nothing.
  native: [],
  common: ['protocol', 'native'],
  sender: ['protocol', 'native', 'common'],
  receiver: ['protocol', 'native', 'common'],
  clone: ['protocol', 'native', 'common', 'receiver'],
  // The boot-image builder validates the plans it embeds with the agent's own validator.
  netboot: ['protocol', 'native', 'common', 'receiver', 'clone'],
  bench: '*',
};

/**
 * The one part of test/ a source folder may import: the simulator and its scenarios, which
 * the long fuzz run (bench/fuzz.ts) drives outside vitest. Only a '*' layer (bench) may.
 */
const SHARED_TEST_SUPPORT = 'test/support/';

/** Folders no source file may import (tests may). */
const IMPORTED_BY_NOBODY: readonly string[] = ['bench'];

/** Top-level folders that hold no layer's sources. */
const NOT_SOURCE: readonly string[] = ['test', 'node_modules', 'dist', 'build', '.git', '.ci'];

/** The roles, whose files are tiered: a file may import its own tier or a lower one. */
const ROLES: readonly string[] = ['sender', 'receiver'];
const TIERS = ['core', 'driver', 'cli'] as const;
type Tier = (typeof TIERS)[number];

/** A file's tier inside its role: core.ts and core/** are the core, cli.ts and args.ts the CLI, the rest drive. */
function tierOf(pathInRole: string): Tier {
  if (pathInRole === 'core.ts' || pathInRole.startsWith('core/')) return 'core';
  if (pathInRole === 'cli.ts' || pathInRole === 'args.ts') return 'cli';
  return 'driver';
}

const SOURCE_EXTENSIONS = ['.ts', '.mts', '.mjs'];

function isSource(name: string): boolean {
  return SOURCE_EXTENSIONS.some((e) => name.endsWith(e)) && !name.endsWith('.d.ts');
}

/** Source files under ROOT/dir, as repository paths with '/' (sorted). */
function sourcesUnder(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { recursive: true, encoding: 'utf8' })
    .filter(isSource)
    .map((f) => `${dir}/${f.replaceAll('\\', '/')}`)
    .sort();
}

/** Top-level folders holding at least one source file. */
function sourceFolders(): string[] {
  return readdirSync(ROOT)
    .filter((d) => !NOT_SOURCE.includes(d) && statSync(join(ROOT, d)).isDirectory())
    .filter((d) => sourcesUnder(d).length > 0)
    .sort();
}

/**
 * Module specifiers of imports (type-only too), re-exports, dynamic imports, `import('…')`
 * types and require calls, read by TypeScript's own scanner (so comments and strings that
 * look like imports are not taken for them).
 */
function importSpecifiers(source: string): string[] {
  return ts.preProcessFile(source, true, true).importedFiles.map((f) => f.fileName);
}

/** The repository path a relative specifier in `from` names (`./x.js` → `dir/x.ts` when that exists), or undefined for a package. */
function resolveSpecifier(from: string, spec: string, exists: (path: string) => boolean): string | undefined {
  if (!spec.startsWith('.')) return undefined;
  const target = normalize(join(dirname(from), spec)).replaceAll('\\', '/');
  if (exists(target)) return target;
  for (const [js, ts] of [
    ['.js', '.ts'],
    ['.mjs', '.mts'],
    ['.js', '.mjs'],
  ] as const) {
    if (target.endsWith(js) && exists(target.slice(0, -js.length) + ts)) return target.slice(0, -js.length) + ts;
  }
  if (exists(`${target}.ts`)) return `${target}.ts`;
  return target;
}

/** file → the repository files it imports. */
type ImportGraph = ReadonlyMap<string, readonly string[]>;

function buildGraph(files: ReadonlyMap<string, string>, exists: (path: string) => boolean = (p) => files.has(p)): ImportGraph {
  const graph = new Map<string, string[]>();
  for (const [file, source] of files) {
    const targets = importSpecifiers(source)
      .map((s) => resolveSpecifier(file, s, exists))
      .filter((t): t is string => t !== undefined);
    graph.set(file, [...new Set(targets)].sort());
  }
  return graph;
}

/**
 * The import cycles, each as `a → b → … → a` from its smallest path: for every file in a
 * strongly connected component of more than one file (or importing itself), the shortest
 * cycle through it.
 */
function findCycles(graph: ImportGraph): string[] {
  // Tarjan's algorithm, iterative so a deep graph cannot overflow the stack.
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const components: string[][] = [];
  let counter = 0;
  const nodes = [...graph.keys()].sort();
  for (const start of nodes) {
    if (index.has(start)) continue;
    const work: { node: string; next: number }[] = [{ node: start, next: 0 }];
    index.set(start, counter);
    low.set(start, counter++);
    stack.push(start);
    onStack.add(start);
    while (work.length > 0) {
      const frame = work[work.length - 1]!;
      const edges = (graph.get(frame.node) ?? []).filter((t) => graph.has(t));
      if (frame.next < edges.length) {
        const t = edges[frame.next++]!;
        if (!index.has(t)) {
          index.set(t, counter);
          low.set(t, counter++);
          stack.push(t);
          onStack.add(t);
          work.push({ node: t, next: 0 });
        } else if (onStack.has(t)) {
          low.set(frame.node, Math.min(low.get(frame.node)!, index.get(t)!));
        }
        continue;
      }
      work.pop();
      if (work.length > 0) {
        const parent = work[work.length - 1]!.node;
        low.set(parent, Math.min(low.get(parent)!, low.get(frame.node)!));
      }
      if (low.get(frame.node) === index.get(frame.node)) {
        const comp: string[] = [];
        let n: string;
        do {
          n = stack.pop()!;
          onStack.delete(n);
          comp.push(n);
        } while (n !== frame.node);
        components.push(comp.sort());
      }
    }
  }
  const cycles = new Set<string>();
  for (const comp of components) {
    const inComp = new Set(comp);
    if (comp.length === 1 && !(graph.get(comp[0]!) ?? []).includes(comp[0]!)) continue;
    for (const file of comp) cycles.add(canonical(shortestCycle(graph, file, inComp)).join(' → '));
  }
  return [...cycles].sort();
}

/** A cycle `a → … → a` turned to start (and end) at its smallest path, so each is listed once. */
function canonical(cycle: readonly string[]): string[] {
  const ring = cycle.slice(0, -1);
  let at = 0;
  for (let i = 1; i < ring.length; i++) if (ring[i]! < ring[at]!) at = i;
  const turned = [...ring.slice(at), ...ring.slice(0, at)];
  return [...turned, turned[0]!];
}

/** The shortest path from `start` back to itself inside one component (breadth first). */
function shortestCycle(graph: ImportGraph, start: string, inComp: ReadonlySet<string>): string[] {
  const prev = new Map<string, string>();
  const queue = [start];
  for (let q = 0; q < queue.length; q++) {
    const n = queue[q]!;
    for (const t of graph.get(n) ?? []) {
      if (!inComp.has(t)) continue;
      if (t === start) {
        const path = [start];
        for (let m = n; m !== start; m = prev.get(m)!) path.push(m);
        path.push(start);
        return [start, ...path.slice(1, -1).reverse(), start];
      }
      if (!prev.has(t)) {
        prev.set(t, n);
        queue.push(t);
      }
    }
  }
  return [start, start];
}

function topFolder(path: string): string {
  return path.split('/')[0]!;
}

/** Every import that goes against the layer table or a role's tiers, one line each. */
function layerViolations(graph: ImportGraph, layers: Readonly<Record<string, readonly string[] | '*'>> = LAYERS): string[] {
  const found: string[] = [];
  for (const [file, targets] of graph) {
    const from = topFolder(file);
    for (const target of targets) {
      const to = topFolder(target);
      if (to === from) {
        if (ROLES.includes(from)) {
          const fromTier = tierOf(file.slice(from.length + 1));
          const toTier = tierOf(target.slice(to.length + 1));
          if (TIERS.indexOf(toTier) > TIERS.indexOf(fromTier)) found.push(`${file} (${fromTier}) imports ${target} (${toTier})`);
        }
        continue;
      }
      const allowed = layers[from];
      if (IMPORTED_BY_NOBODY.includes(to)) {
        found.push(`${file} imports ${target}: nothing imports ${to}/`);
      } else if (allowed === '*' && target.startsWith(SHARED_TEST_SUPPORT)) {
      } else if (!(to in layers)) {
        found.push(`${file} imports ${target}: ${to}/ is not a source layer`);
      } else if (allowed !== '*' && !(allowed ?? []).includes(to)) {
        const may = allowed === undefined || allowed.length === 0 ? 'nothing of ours' : allowed.join(', ');
        found.push(`${file} imports ${target}: ${from}/ may import ${may}`);
      }
    }
  }
  return found.sort();
}

function repositoryGraph(): { graph: ImportGraph; folders: string[] } {
  const folders = sourceFolders();
  const files = new Map<string, string>();
  for (const d of folders) for (const f of sourcesUnder(d)) files.set(f, readFileSync(join(ROOT, f), 'utf8'));
  return { graph: buildGraph(files, (p) => existsSync(join(ROOT, p))), folders };
}

describe('layers', () => {
  const { graph, folders } = repositoryGraph();

  it('knows every top-level source folder (add a line to LAYERS for a new one)', () => {
    expect(folders).toEqual(expect.arrayContaining(['protocol', 'native', 'common', 'sender', 'receiver', 'bench']));
    expect(folders.filter((d) => !(d in LAYERS))).toEqual([]);
    expect(graph.size).toBeGreaterThan(50);
  });

  it('no file imports in a circle', () => {
    const cycles = findCycles(graph);
    if (cycles.length > 0) console.log(`import cycles:\n  ${cycles.join('\n  ')}`);
    expect(cycles).toEqual([]);
  });

  it('imports run one way: the layer table, and core ← driver ← cli inside a role', () => {
    const bad = layerViolations(graph);
    if (bad.length > 0) console.log(`layer violations:\n  ${bad.join('\n  ')}`);
    expect(bad).toEqual([]);
  });
});

describe('the layer check itself', () => {
  const graphOf = (files: Record<string, string>): ImportGraph => buildGraph(new Map(Object.entries(files)));

  it('reads every import form, and none in comments', () => {
    const src = [
      "import { a } from './a.js';",
      "import type { B } from '../b/b.js';",
      "import {\n  c,\n  d,\n} from './c.js';",
      "export { e } from './e.js';",
      "export * from './f.js';",
      "export type { F2 } from './f2.js';",
      "import './g.js';",
      "const h = await import('./h.js');",
      "const i = require('./i.js');",
      "type T = import('./t.js').T;",
      "// import { x } from './x.js';",
      "/* import { y } from './y.js'; */",
      'const s = \'http://example/ import z from "./z.js"\';',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: source text for the import scanner, with a template in it
      "const u = `${s} import w from './w.js'`;",
      "import dgram from 'node:dgram';",
    ].join('\n');
    expect(importSpecifiers(src).sort()).toEqual([
      '../b/b.js',
      './a.js',
      './c.js',
      './e.js',
      './f.js',
      './f2.js',
      './g.js',
      './h.js',
      './i.js',
      './t.js',
      'node:dgram',
    ]);
  });

  it('finds a cycle, type-only imports included, and prints it', () => {
    const g = graphOf({
      'receiver/sink.ts': "import { DiskSink } from './disk.js';",
      'receiver/disk.ts': "import type { Sink } from './sink.js';",
      'receiver/a.ts': "import { b } from './b.js';",
      'receiver/b.ts': "import { c } from './c.js';",
      'receiver/c.ts': "import { a } from './a.js';",
      'receiver/self.ts': "import { me } from './self.js';",
      'receiver/leaf.ts': '',
      'receiver/user.ts': "import { l } from './leaf.js';",
    });
    expect(findCycles(g)).toEqual([
      'receiver/a.ts → receiver/b.ts → receiver/c.ts → receiver/a.ts',
      'receiver/disk.ts → receiver/sink.ts → receiver/disk.ts',
      'receiver/self.ts → receiver/self.ts',
    ]);
  });

  it('finds upward imports, imports of bench, and tiers inside a role', () => {
    const g = graphOf({
      'native/udp.ts': "import { UsageError } from '../common/errors.js';",
      'common/errors.ts': '',
      'common/auth.ts': "import { x } from '../native/udp.js';\nimport { y } from '../receiver/sink.js';",
      'receiver/sink.ts': "import { s } from '../sender/source.js';",
      'sender/source.ts': "import { p } from '../bench/prng.js';",
      'bench/prng.ts': "import { r } from '../receiver/core.js';",
      'receiver/core.ts': "import { d } from './driver.js';",
      'receiver/core/nak.ts': "import { c } from '../cli.js';",
      'receiver/driver.ts': "import { a } from './args.js';\nimport { c } from './core/nak.js';",
      'receiver/args.ts': "import { d } from './driver.js';",
      'receiver/cli.ts': "import { d } from './driver.js';",
      'clone/plan.ts': "import { r } from '../receiver/sink.js';\nimport { s } from '../sender/source.js';",
      'protocol/header.ts': "import { t } from '../test/helpers/prng.js';",
    });
    expect(layerViolations(g, { ...LAYERS })).toEqual([
      'clone/plan.ts imports sender/source.ts: clone/ may import protocol, native, common, receiver',
      'common/auth.ts imports receiver/sink.ts: common/ may import protocol, native',
      'native/udp.ts imports common/errors.ts: native/ may import nothing of ours',
      'protocol/header.ts imports test/helpers/prng.js: test/ is not a source layer',
      'receiver/core.ts (core) imports receiver/driver.ts (driver)',
      'receiver/core/nak.ts (core) imports receiver/cli.ts (cli)',
      'receiver/driver.ts (driver) imports receiver/args.ts (cli)',
      'receiver/sink.ts imports sender/source.ts: receiver/ may import protocol, native, common',
      'sender/source.ts imports bench/prng.ts: nothing imports bench/',
    ]);
  });
});
