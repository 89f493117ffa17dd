// The cases every wire codec gets (golden bytes, round trip, every truncated prefix fails,
// random input never throws), registered from one table per message so that the loops and
// their assertions are the same for every message. A family of messages (rackcast's own,
// udpcast's) supplies what differs between families: its one entry point for any datagram,
// how it compares a round trip and how it fuzzes. What only one message has stays in its
// own test file.

import { describe, expect, it } from 'vitest';
import type { ProtocolErrorCode, Result } from '../../protocol/result.js';

export interface Codec<T> {
  readonly decode: (bytes: Uint8Array) => Result<T>;
  readonly encode: (msg: T, buf: Uint8Array, off?: number) => number;
  /** The message's `SIZE` constant or length function. */
  readonly length: (msg: T) => number;
}

/** What a family of messages checks beyond the message's own decoder. */
export interface CodecFamily<T> {
  /** The family's one entry point for any datagram: it must agree on every truncated prefix. */
  readonly datagram: { readonly name: string; readonly decode: (bytes: Uint8Array) => Result<unknown> };
  /** Encodes at an offset inside a larger buffer, decodes back and compares. */
  readonly expectRoundTrip: (msg: T) => void;
  /** Seeded random input and mutations of `valid`; returns how many mutations decoded. */
  readonly fuzz: (seed: number, valid: readonly Uint8Array[], rounds?: number) => number;
}

/** A datagram whose bytes are known: written out from a layout table, or recorded from a peer. */
export interface GoldenCase<T> {
  readonly msg: T;
  /** How the titles name it; default `the fixed <name>`. */
  readonly what?: string;
  /** Its bytes as hex, field by field; may be left out when `stored` holds them. */
  readonly hex?: string;
  /** How many bytes the layout table gives it. */
  readonly bytes?: number;
  /** Where the encoding's bytes come from, for the title; default `the layout table`. */
  readonly from?: string;
  /** The same datagram as stored in a file (read when the case runs): it must be `hex` and decode to `msg`. */
  readonly stored?: { readonly path: string; readonly read: () => Uint8Array };
}

/** Messages, or bytes taken as they are (recorded datagrams, or ones no encoder writes). */
export type Inputs<T> = readonly (T | Uint8Array)[];

export interface CodecCases<T> {
  /** The message's name in titles: `ACCEPT`, `udpcast GO`. */
  readonly name: string;
  readonly codec: Codec<T>;
  readonly family: CodecFamily<T>;
  readonly golden?: readonly GoldenCase<T>[];
  /** Named messages that must survive the family's round trip. */
  readonly roundTrips?: readonly (readonly [string, T])[];
  /** A fixed-size message: its SIZE constant's name, value, and the value the layout table gives. */
  readonly size?: { readonly name: string; readonly value: number; readonly expected: number };
  /** Every prefix of each input, shorter than `below` bytes when given, fails with `error`. */
  readonly prefixes: { readonly of: Inputs<T>; readonly below?: number; readonly error: ProtocolErrorCode; readonly title?: string };
  /** Each input with n bytes of `fill` (default 0xa5) appended, for each n, fails with `error`. */
  readonly trailing?: { readonly of: Inputs<T>; readonly counts: readonly number[]; readonly fill?: number; readonly error: ProtocolErrorCode };
  /** A datagram of another type, which the decoder must refuse with `error`. */
  readonly otherType?: { readonly bytes: Uint8Array; readonly error: ProtocolErrorCode; readonly title?: string };
  /** The fuzz seed, the valid encodings it mutates, and its rounds when not the family's default. */
  readonly random: { readonly seed: number; readonly valid: Inputs<T>; readonly rounds?: number };
}

export function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

export function encodeToBytes<T>(c: Codec<T>, msg: T): Uint8Array {
  const buf = new Uint8Array(c.length(msg));
  expect(c.encode(msg, buf)).toBe(buf.byteLength);
  return buf;
}

export function expectErr(r: Result<unknown>, code: ProtocolErrorCode): void {
  expect(r.ok ? 'ok' : r.code).toBe(code);
}

function bytesOf<T>(c: Codec<T>, inputs: Inputs<T>): Uint8Array[] {
  return inputs.map((x) => (x instanceof Uint8Array ? x : encodeToBytes(c, x)));
}

/**
 * Every prefix of `bytes` shorter than `below` fails with `error`, through the message's
 * decoder and through the family's entry point; the failures are listed, not just counted.
 */
export function expectEveryPrefixFails<T>(
  c: Codec<T>,
  datagram: CodecFamily<T>['datagram'],
  bytes: Uint8Array,
  error: ProtocolErrorCode,
  below = bytes.byteLength,
): void {
  expect(below, 'prefixes to check').toBeGreaterThan(0);
  const wrong: string[] = [];
  for (let i = 0; i < below; i++) {
    // A copy, so a decoder that reads past the prefix finds no valid bytes there.
    const prefix = bytes.slice(0, i);
    const r = c.decode(prefix);
    const d = datagram.decode(prefix);
    if (r.ok || r.code !== error) wrong.push(`${i}: ${r.ok ? 'ok' : r.code}`);
    if (d.ok || d.code !== error) wrong.push(`${i} (${datagram.name}): ${d.ok ? 'ok' : d.code}`);
  }
  expect(wrong).toEqual([]);
}

/** A copy of `bytes` with `n` bytes of `fill` appended. */
export function withTrailing(bytes: Uint8Array, n = 1, fill = 0xa5): Uint8Array {
  const out = new Uint8Array(bytes.byteLength + n).fill(fill);
  out.set(bytes);
  return out;
}

/** Registers the standard cases of one codec, in four describe blocks named after the message. */
export function codecCases<T>(t: CodecCases<T>): void {
  const { name, codec, family } = t;

  if (t.golden !== undefined && t.golden.length > 0) {
    const golden = t.golden;
    describe(`${name} golden bytes`, () => {
      for (const g of golden) {
        const what = g.what ?? `the fixed ${name}`;
        const stored = g.stored;
        if (g.hex === undefined && stored === undefined) throw new Error(`${name}: a golden case needs hex or stored bytes`);
        const hex = (): string => g.hex ?? toHex(stored!.read());
        it(`encodes ${what} to the bytes of ${g.from ?? 'the layout table'}`, () => {
          if (g.bytes !== undefined) expect(hex().length).toBe(2 * g.bytes);
          expect(toHex(encodeToBytes(codec, g.msg))).toBe(hex());
        });
        if (stored !== undefined) {
          it(`decodes ${stored.path} back to ${what}`, () => {
            const bytes = stored.read();
            expect(toHex(bytes)).toBe(hex());
            expect(codec.decode(bytes)).toEqual({ ok: true, value: g.msg });
          });
        }
      }
    });
  }

  const roundTrips = t.roundTrips ?? [];
  const size = t.size;
  if (roundTrips.length > 0 || size !== undefined) {
    describe(`${name} round trip`, () => {
      if (roundTrips.length > 0) {
        it.each(roundTrips)('%s', (_what, msg) => {
          family.expectRoundTrip(msg);
        });
      }
      if (size !== undefined) {
        const msg = t.golden?.[0]?.msg ?? roundTrips[0]?.[1];
        it(`encode returns ${size.name}`, () => {
          expect(size.value).toBe(size.expected);
          if (msg === undefined) throw new Error(`${name}: the size case needs a golden or round-trip message`);
          expect(codec.length(msg)).toBe(size.value);
          expect(codec.encode(msg, new Uint8Array(size.value))).toBe(size.value);
        });
      }
    });
  }

  describe(`${name} truncation and length`, () => {
    const p = t.prefixes;
    it(p.title ?? 'every truncated prefix fails', () => {
      const all = bytesOf(codec, p.of);
      expect(all.length).toBeGreaterThan(0);
      for (const b of all) expectEveryPrefixFails(codec, family.datagram, b, p.error, p.below);
    });

    const trailing = t.trailing;
    if (trailing !== undefined) {
      it(`trailing garbage is ${trailing.error}`, () => {
        const all = bytesOf(codec, trailing.of);
        expect(all.length * trailing.counts.length).toBeGreaterThan(0);
        for (const b of all) {
          for (const n of trailing.counts) expectErr(codec.decode(withTrailing(b, n, trailing.fill)), trailing.error);
        }
      });
    }

    const other = t.otherType;
    if (other !== undefined) {
      it(other.title ?? `another message type is ${other.error}`, () => {
        expectErr(codec.decode(other.bytes), other.error);
      });
    }
  });

  describe(`${name} random input`, () => {
    it('never throws, and whatever decodes re-encodes to the same bytes', () => {
      const r = t.random;
      expect(family.fuzz(r.seed, bytesOf(codec, r.valid), r.rounds)).toBeGreaterThan(0);
    });
  });
}
