// /run/rackcast/net.env as the boot image's /init writes it (NETBOOT-CONTRACT.md): shell
// KEY='value' lines, values single-quoted ('\'' for a quote inside). Unknown keys are kept.

import { readFileSync } from 'node:fs';

export interface NetEnv {
  readonly IFACE?: string;
  readonly MAC?: string;
  readonly IP?: string;
  readonly HOSTNAME?: string;
  readonly [key: string]: string | undefined;
}

/** Parses KEY=value lines: 'single quoted' (with '\'' escapes), "double quoted" or bare. */
export function parseNetEnv(text: string): NetEnv {
  const out: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (m === null) continue;
    let v = m[2]!;
    let value = '';
    // Concatenated quoted and bare parts, as sh reads them: 'it'\''s' → it's.
    while (v.length > 0) {
      if (v[0] === "'") {
        const end = v.indexOf("'", 1);
        if (end < 0) {
          value += v.slice(1);
          break;
        }
        value += v.slice(1, end);
        v = v.slice(end + 1);
      } else if (v[0] === '"') {
        const end = v.indexOf('"', 1);
        value += end < 0 ? v.slice(1) : v.slice(1, end);
        v = end < 0 ? '' : v.slice(end + 1);
      } else if (v[0] === '\\' && v.length > 1) {
        value += v[1];
        v = v.slice(2);
      } else {
        value += v[0];
        v = v.slice(1);
      }
    }
    out[m[1]!] = value;
  }
  if (out.MAC !== undefined) out.MAC = out.MAC.toLowerCase();
  return out;
}

export function readNetEnv(path: string | undefined): NetEnv {
  if (path === undefined) return {};
  return parseNetEnv(readFileSync(path, 'utf8'));
}
