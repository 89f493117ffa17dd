// IPv4 addresses as numbers: a dotted quad ↔ the u32 the wire carries (HELLO's dataGroup)
// and the native UDP path's binding takes (host order, first octet in the high byte).
// The one parser for every layer: common/net.ts checks options with it, the native socket
// wrapper converts addresses with it, the cores encode and decode HELLO with it.

/** One octet as written in a dotted quad: 1 to 3 decimal digits (leading zeros allowed, as before). */
const OCTET = /^\d{1,3}$/;

/** a.b.c.d as a u32, or undefined when `text` is not a dotted-quad IPv4 literal. Never throws. */
export function parseIpv4(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!OCTET.test(p)) return undefined;
    const octet = Number(p);
    if (octet > 255) return undefined;
    n = n * 256 + octet;
  }
  return n;
}

/** The dotted quad of a u32. */
export function formatIpv4(n: number): string {
  return `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

export function isIpv4(text: string): boolean {
  return parseIpv4(text) !== undefined;
}

/** In 224.0.0.0/4, the multicast range. */
export function isMulticastU32(n: number): boolean {
  return n >>> 28 === 0xe;
}

/** As parseIpv4, for an address the caller has already checked: anything else is a RangeError (caller misuse). */
export function ipv4ToU32(text: string): number {
  const n = parseIpv4(text);
  if (n === undefined) throw new RangeError(`not an IPv4 address: ${text}`);
  return n;
}

/** The same as formatIpv4, named as the cores call it. */
export const u32ToIpv4 = formatIpv4;
