// Reference behaviour for the UTF-8 detail text of REPORT and LEAVE, written without
// looking at protocol/text.ts: what a correct truncation to 240 bytes must keep.

export const utf8 = new TextEncoder();
const strictDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The longest prefix of `s`, in whole code points, whose UTF-8 fits in `maxBytes`. */
export function longestPrefixWithin(s: string, maxBytes: number): string {
  let out = '';
  let bytes = 0;
  for (const ch of s) {
    const n = utf8.encode(ch).byteLength;
    if (bytes + n > maxBytes) break;
    out += ch;
    bytes += n;
  }
  return out;
}

/** True when `detail` survives a decode/encode cycle byte for byte: valid UTF-8 (a leading U+FEFF included). */
export function detailReencodes(detail: Uint8Array): boolean {
  try {
    strictDecoder.decode(detail);
    return true;
  } catch {
    return false;
  }
}

/** Details a round trip must keep, or truncate to `longestPrefixWithin(s, 240)`. */
export const DETAILS: readonly (readonly [string, string])[] = [
  ['empty', ''],
  ['ASCII', 'ENOSPC: no space left on device'],
  ['two-, three- and four-byte characters', 'écriture échouée: 磁盘已满 💾 ∅'],
  ['exactly 240 ASCII bytes', 'x'.repeat(240)],
  ['exactly 240 bytes of three-byte characters', '€'.repeat(80)],
  ['exactly 240 bytes of four-byte characters', '💾'.repeat(60)],
  ['1000 ASCII bytes, cut to 240', 'y'.repeat(1000)],
  ['cut inside a two-byte character', 'a' + 'é'.repeat(120)],
  ['cut inside a three-byte character', 'a' + '€'.repeat(80)],
  ['cut after the lead byte of a four-byte character', 'a'.repeat(239) + '💾'],
  ['cut inside a four-byte character', 'ab' + '💾'.repeat(60)],
  ['cut after three bytes of a four-byte character', 'abc' + '💾'.repeat(60)],
];

/**
 * Details whose 240-byte cut falls exactly after a complete multi-byte character: the
 * whole character fits and must be kept.
 */
export const BOUNDARY_DETAILS: readonly (readonly [string, string])[] = [
  ['121 two-byte characters (cut after the 120th)', 'é'.repeat(121)],
  ['81 three-byte characters (cut after the 80th)', '€'.repeat(81)],
  ['61 four-byte characters (cut after the 60th)', '💾'.repeat(61)],
  ['ASCII, a four-byte character ending at byte 240, then more', 'a'.repeat(236) + '💾' + 'b'],
];
