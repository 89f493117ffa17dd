// The one loader of rackcast's native addons (binding.gyp targets `rackcast_rs` and
// `rackcast_udp`, built by native/install.mjs into build/Release/). It never throws: a
// missing or broken .node file (no compiler at install time, another platform) becomes a
// reason the caller reports once, and rackcast runs the pure-TS / node:dgram path instead.

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export type AddonLoad<T> = { readonly ok: true; readonly addon: T; readonly path: string } | { readonly ok: false; readonly reason: string };

export interface AddonSpec<T> {
  /** File name in build/Release (the binding.gyp target name + `.node`). */
  readonly file: string;
  /** What messages call it: "native addon", "native UDP addon". */
  readonly label: string;
  /** Whether what loaded has the exports the binding expects. */
  readonly isAddon: (x: unknown) => x is T;
}

/** Where node-gyp puts an addon, seen from this file: native/ (vitest) or dist/native/ (compiled). */
export function addonCandidates(file: string): string[] {
  const here = dirname(fileURLToPath(import.meta.url));
  return [join(here, '..', 'build', 'Release', file), join(here, '..', '..', 'build', 'Release', file)];
}

/** Loads the addon `spec` names; never throws. Each binding calls it once and keeps the result. */
export function loadAddon<T>(spec: AddonSpec<T>): AddonLoad<T> {
  const candidates = addonCandidates(spec.file);
  const path = candidates.find((p) => existsSync(p));
  if (path === undefined) {
    return { ok: false, reason: `${spec.label} not built (no ${candidates.join(' or ')}; run npm install with a C++ compiler)` };
  }
  try {
    const loaded: unknown = createRequire(import.meta.url)(path);
    return spec.isAddon(loaded) ? { ok: true, addon: loaded, path } : { ok: false, reason: `${spec.label} ${path} has an unexpected shape` };
  } catch (e) {
    return { ok: false, reason: `${spec.label} ${path} failed to load: ${e instanceof Error ? e.message : String(e)}` };
  }
}
