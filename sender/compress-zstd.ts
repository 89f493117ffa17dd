// udp-sender --compress zstd: each chunk of the image becomes one zstd frame with its content
// size and content checksum, compressed by Debian's libzstd on the libuv threadpool
// (native/zstd.ts). Concatenated frames are one valid zstd stream: `zstd -dc` and the
// receiver's --decompress read them in sequence (RFC 8878 §3.1).

import { IoError } from '../common/errors.js';
import { loadZstd } from '../native/zstd.js';

/** As the `zstd` CLI. */
export const DEFAULT_ZSTD_LEVEL = 3;
/** Levels above 19 (--ultra in the CLI) need windows too large for a node's receiver. */
export const MAX_ZSTD_LEVEL = 19;

/** A function compressing one chunk into one frame; throws IoError when zstd is unavailable. */
export function zstdCompressor(level = DEFAULT_ZSTD_LEVEL): (chunk: Uint8Array) => Promise<Buffer> {
  const z = loadZstd();
  if (!z.ok) throw new IoError('compress', `--compress zstd: ${z.reason} (use --compress gzip or lz4)`);
  const { zstd } = z;
  return (chunk) =>
    new Promise<Buffer>((resolve, reject) => {
      zstd.compressFrame(chunk, level, (e, out) => (e ? reject(e) : resolve(out)));
    });
}
