// zstd through Debian's libzstd, linked into build/Release/rackcast_zstd.node (native/zstd.cc).
// Node 20 has no zstd in node:zlib, and the npm bindings either download a prebuilt binary at
// install time (which fails on machines without internet) or carry their own copy of the
// library; linking the distribution's libzstd keeps one zstd, updated with the system.
//
// `loadZstd()` never throws: it returns the binding, or the reason it is not there (the addon
// was built without libzstd-dev, or not built at all), which callers put in their one-line error.

import { loadAddon } from './load-addon.js';

export const ZSTD_ADDON_FILE = 'rackcast_zstd.node';

/** One streaming decoder: frames may follow each other (and skippable frames are skipped). */
export interface ZstdDecoderHandle {
  /** Consumes input[inOff..) into output[0..); returns [inOffAfter, outBytes, hint]; hint 0: a frame just ended and its checksum (if any) matched. Throws Error("zstd: ...") on corrupt input. */
  decompress(input: Uint8Array, inOff: number, output: Uint8Array): [number, number, number];
  close(): void;
}

export interface ZstdBinding {
  readonly version: string;
  readonly maxLevel: number;
  readonly Decoder: new () => ZstdDecoderHandle;
  /** One frame with content size and checksum, made on the libuv threadpool. */
  compressFrame(input: Uint8Array, level: number, cb: (e: Error | null, out: Buffer) => void): void;
}

type RawAddon = ({ available: true } & ZstdBinding) | { available: false; reason: string };

function isRaw(x: unknown): x is RawAddon {
  return typeof x === 'object' && x !== null && typeof (x as { available?: unknown }).available === 'boolean';
}

let loaded: { readonly ok: true; readonly zstd: ZstdBinding } | { readonly ok: false; readonly reason: string } | undefined;

export function loadZstd(): { readonly ok: true; readonly zstd: ZstdBinding } | { readonly ok: false; readonly reason: string } {
  if (loaded !== undefined) return loaded;
  const r = loadAddon({ file: ZSTD_ADDON_FILE, label: 'native zstd addon', isAddon: isRaw });
  if (!r.ok) loaded = { ok: false, reason: `zstd is unavailable: ${r.reason}` };
  else if (!r.addon.available) loaded = { ok: false, reason: `zstd is unavailable: ${r.addon.reason}` };
  else loaded = { ok: true, zstd: r.addon };
  return loaded;
}
