// Facts every bench stores with its results: where the project is, which commit it ran,
// on which CPU, and a timestamp for file names.

import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The directory holding package.json: works from dist/bench/ and from bench/. */
export function projectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    dir = dirname(dir);
  }
  return process.cwd();
}

/** HEAD's short hash, and whether tracked files differ from it; nulls outside git. */
export function gitCommit(root: string): { commit: string | null; dirty: boolean | null } {
  try {
    const opts = { cwd: root, stdio: ['ignore', 'pipe', 'ignore'] as ('ignore' | 'pipe')[] };
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], opts).toString().trim();
    const status = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], opts).toString();
    return { commit, dirty: status.trim().length > 0 };
  } catch {
    return { commit: null, dirty: null };
  }
}

export function cpuModel(): string | null {
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    return m ? m[1]!.trim() : null;
  } catch {
    return null;
  }
}

/** Local time as YYYYMMDD-HHMMSS, for result file names. */
export function stamp(d: Date): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}
