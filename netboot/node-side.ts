// What of the installed rackcast goes into the image: the compiled runtime of the layers a
// node runs (protocol, native, common, receiver, clone; never sender, bench, tests, source
// maps or type declarations), the native addons, and the production dependencies, found by
// walking package.json `dependencies`/`optionalDependencies` the way Node resolves them
// (a devDependency is never reached, whatever the lockfile says).

import { existsSync, readFileSync, readlinkSync, realpathSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';

/** The dist/ folders a booting node runs. */
export const NODE_SIDE_LAYERS: readonly string[] = ['protocol', 'native', 'common', 'receiver', 'clone'];

export interface SourceFile {
  /** Path inside the image, relative to the image root. */
  readonly image: string;
  /** Path on the build host (a symlink stays a symlink: see `link`). */
  readonly source: string;
  /** For a symlink inside a package: its target, kept as is. */
  readonly link?: string;
}

export const IMAGE_APP_DIR = 'opt/rackcast';

async function filesUnder(dir: string): Promise<{ path: string; link?: string }[]> {
  const out: { path: string; link?: string }[] = [];
  for (const d of await readdir(dir, { recursive: true, withFileTypes: true })) {
    const p = join(d.parentPath, d.name);
    if (d.isFile()) out.push({ path: p });
    else if (d.isSymbolicLink()) out.push({ path: p, link: readlinkSync(p) });
  }
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

function isRuntimeFile(p: string): boolean {
  return !p.endsWith('.map') && !p.endsWith('.d.ts') && !p.endsWith('.tsbuildinfo');
}

/** The compiled layers; fails when one is missing (e.g. a tree without the clone agent). */
export async function rackcastRuntime(pkgRoot: string): Promise<SourceFile[]> {
  const files: SourceFile[] = [];
  for (const layer of NODE_SIDE_LAYERS) {
    const dir = join(pkgRoot, 'dist', layer);
    if (!existsSync(dir)) throw new Error(`${dir} is missing: this rackcast has no compiled ${layer}/ (run npm run build)`);
    for (const f of await filesUnder(dir)) {
      if (!isRuntimeFile(f.path) || f.path.includes(`${sep}__tests__${sep}`)) continue;
      files.push({ image: `${IMAGE_APP_DIR}/${relative(pkgRoot, f.path)}`, source: f.path, link: f.link });
    }
  }
  const release = join(pkgRoot, 'build', 'Release');
  if (existsSync(release)) {
    for (const f of (await readdir(release)).sort()) {
      if (f.endsWith('.node')) files.push({ image: `${IMAGE_APP_DIR}/build/Release/${f}`, source: join(release, f) });
    }
  }
  return files;
}

interface PackageJson {
  readonly name?: string;
  readonly version?: string;
  readonly dependencies?: Record<string, string>;
  readonly optionalDependencies?: Record<string, string>;
}

function readPackageJson(dir: string): PackageJson {
  return JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as PackageJson;
}

/** Node's lookup: DIR/node_modules/NAME, then each parent's node_modules. */
function resolvePackageDir(fromDir: string, name: string): string | undefined {
  let d = fromDir;
  for (;;) {
    const cand = join(d, 'node_modules', name);
    if (existsSync(join(cand, 'package.json'))) return realpathSync(cand);
    const up = dirname(d);
    if (up === d) return undefined;
    d = up;
  }
}

/** Package directories the production closure reaches, sorted; a missing required one fails. */
export function productionPackages(pkgRoot: string): string[] {
  const root = realpathSync(pkgRoot);
  const found = new Set<string>(); // bounded by node_modules (tens of packages)
  const walk = (dir: string): void => {
    const pj = readPackageJson(dir);
    const required = Object.keys(pj.dependencies ?? {});
    const optional = Object.keys(pj.optionalDependencies ?? {});
    for (const name of [...required, ...optional]) {
      const at = resolvePackageDir(dir, name);
      if (at === undefined) {
        if (optional.includes(name)) continue; // another platform's prebuilt addon
        throw new Error(`${name}, a dependency of ${pj.name ?? dir}, is not installed (run npm ci --omit=dev)`);
      }
      if (found.has(at)) continue;
      found.add(at);
      walk(at);
    }
  };
  walk(root);
  return [...found].sort();
}

/** Every file of the production packages, placed under opt/rackcast/node_modules. */
export async function productionModules(pkgRoot: string): Promise<SourceFile[]> {
  const root = realpathSync(pkgRoot);
  const files: SourceFile[] = [];
  for (const dir of productionPackages(root)) {
    const rel = relative(root, dir);
    // A package hoisted above the rackcast tree (a global install) goes to the top level.
    const base = rel.startsWith('..') ? join('node_modules', readPackageJson(dir).name ?? '') : rel;
    for (const f of await filesUnder(dir)) {
      const inner = relative(dir, f.path);
      if (inner.split(sep).includes('node_modules')) continue; // nested packages come by their own walk
      files.push({ image: `${IMAGE_APP_DIR}/${join(base, inner)}`, source: f.path, link: f.link });
    }
  }
  return files;
}

/** The package.json the image carries: enough for Node to load dist/ as ES modules. */
export function imagePackageJson(pkgRoot: string): string {
  const pj = readPackageJson(pkgRoot);
  return `${JSON.stringify({ name: pj.name ?? 'rackcast', version: pj.version ?? '0.0.0', private: true, type: 'module' }, null, 2)}\n`;
}
