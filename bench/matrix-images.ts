// The images the bench matrix sends: crypto-random bytes, and a cpio.gz of a share of
// this machine's root file system (built once and cached in CACHE_DIR).

import { spawn } from 'node:child_process';
import { existsSync, lstatSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { sha256File, writeRandomFile } from './lab.js';
import type { FileKind } from './matrix-args.js';

const MiB = 1024 * 1024;
export const CACHE_DIR = '/tmp/rackcast-bench-cache';

export interface Image {
  kind: FileKind;
  path: string;
  bytes: number;
  sha256: string;
  /** Suffix the copies get (rackcast's receiver keeps *.gz as sent). */
  suffix: string;
  note: string;
}

// The tree for the cpio.gz image: a share of each of these, as a root file system
// has them (ELF binaries and libraries, Python, documentation and data).
const TREE_ROOTS = ['usr/bin', 'usr/lib/x86_64-linux-gnu', 'usr/lib/python3*', 'usr/share'];

function expandRoot(pattern: string): string[] {
  if (!pattern.endsWith('*')) return existsSync(`/${pattern}`) ? [pattern] : [];
  const parent = dirname(pattern);
  const prefix = basename(pattern).slice(0, -1);
  try {
    return readdirSync(`/${parent}`)
      .filter((n) => n.startsWith(prefix))
      .sort()
      .map((n) => `${parent}/${n}`);
  } catch {
    return [];
  }
}

/**
 * Paths (relative to /) of a tree of about budgetBytes of regular files: directories
 * before their contents, sorted, symlinks kept as links; each root gets an equal share.
 */
function collectTree(budgetBytes: number): { paths: string[]; bytes: number; files: number } {
  const roots = TREE_ROOTS.flatMap(expandRoot);
  const share = budgetBytes / Math.max(1, roots.length);
  const paths: string[] = [];
  let total = 0;
  let files = 0;
  for (const root of roots) {
    let used = 0;
    const stack = [root];
    while (stack.length > 0 && used < share * 0.99) {
      const rel = stack.pop()!;
      let st;
      try {
        st = lstatSync(`/${rel}`);
      } catch {
        continue;
      }
      if (st.isDirectory()) {
        paths.push(rel);
        let names: string[];
        try {
          names = readdirSync(`/${rel}`).sort().reverse();
        } catch {
          continue;
        }
        for (const n of names) stack.push(`${rel}/${n}`);
      } else if (st.isSymbolicLink()) {
        paths.push(rel);
      } else if (st.isFile() && used + st.size <= share) {
        // A file that would overshoot this root's share is left out; smaller ones
        // further on still fill it up.
        paths.push(rel);
        used += st.size;
        files++;
      }
    }
    total += used;
  }
  return { paths, bytes: total, files };
}

export async function cpioImage(treeMiB: number, say: (l: string) => void): Promise<Image> {
  const path = join(CACHE_DIR, `tree-${treeMiB}MiB.cpio.gz`);
  const metaPath = `${path}.json`;
  if (existsSync(path) && existsSync(metaPath)) {
    const meta = JSON.parse(readFileSync(metaPath, 'utf8')) as { bytes: number; sha256: string; note: string };
    if (statSync(path).size === meta.bytes) return { kind: 'cpio', path, bytes: meta.bytes, sha256: meta.sha256, suffix: '.cpio.gz', note: meta.note };
  }
  await mkdir(CACHE_DIR, { recursive: true });
  say(`bench: building the cpio.gz image (${treeMiB} MiB tree from ${TREE_ROOTS.join(', ')}) into ${path}`);
  const tree = collectTree(treeMiB * MiB);
  const listPath = `${path}.list`;
  const tmp = `${path}.tmp`;
  await writeFile(listPath, `${tree.paths.join('\0')}\0`);
  await new Promise<void>((resolveP, reject) => {
    const child = spawn('bash', ['-o', 'pipefail', '-c', 'cd / && cpio -o -0 --format=crc --quiet < "$1" | gzip -6 > "$2"', 'bash', listPath, tmp], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolveP() : reject(new Error(`cpio | gzip exited ${code}: ${err.trim().slice(-500)}`))));
  });
  await rename(tmp, path);
  await rm(listPath, { force: true });
  const bytes = (await stat(path)).size;
  const sha256 = await sha256File(path);
  const note = `(find-style tree of ${tree.files} files, ${(tree.bytes / MiB).toFixed(0)} MiB, cpio --format=crc | gzip -6)`;
  await writeFile(metaPath, JSON.stringify({ bytes, sha256, note, treeBytes: tree.bytes, entries: tree.paths.length }));
  return { kind: 'cpio', path, bytes, sha256, suffix: '.cpio.gz', note };
}

export async function randomImage(dir: string, sizeMiB: number): Promise<Image> {
  const path = join(dir, `random-${sizeMiB}MiB.bin`);
  await writeRandomFile(path, sizeMiB * MiB);
  return { kind: 'random', path, bytes: sizeMiB * MiB, sha256: await sha256File(path), suffix: '.bin', note: '(crypto-random)' };
}
