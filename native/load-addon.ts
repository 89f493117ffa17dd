// Finds and loads one of the built addons (build/Release/NAME.node) from this file's place:
// native/ when run from source (vitest), dist/native/ when compiled. Never throws: a missing
// or broken .node file is a reason the caller reports, and the caller falls back.

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export type AddonLoad<T> = { readonly ok: true; readonly addon: T; readonly path: string } | { readonly ok: false; readonly reason: string };

export function loadAddonFile<T>(file: string, isAddon: (x: unknown) => x is T): AddonLoad<T> {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, '..', 'build', 'Release', file), join(here, '..', '..', 'build', 'Release', file)];
  const path = candidates.find((p) => existsSync(p));
  if (path === undefined) return { ok: false, reason: `native addon not built (no ${candidates.join(' or ')}; run npm install with a C++ compiler)` };
  try {
    const loaded: unknown = createRequire(import.meta.url)(path);
    return isAddon(loaded) ? { ok: true, addon: loaded, path } : { ok: false, reason: `native addon ${path} has an unexpected shape` };
  } catch (e) {
    return { ok: false, reason: `native addon ${path} failed to load: ${e instanceof Error ? e.message : String(e)}` };
  }
}
