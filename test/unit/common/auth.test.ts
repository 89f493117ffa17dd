// common/auth/ (keys.ts, seal.ts, sealed-socket.ts): sealing and opening in both modes, every forgery the opener must drop
// (with its counter), the replay window's edges, the bound on the source table, the key file
// checks. The round trip through SealedUdpSocket over real sockets is in
// test/integration/common/auth.test.ts.

import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deriveAuthKeys, loadKeyFile, MAX_KEY_FILE_BYTES } from '../../../common/auth/keys.js';
import {
  type AuthMode,
  type AuthStats,
  authTrailerBytes,
  DatagramOpener,
  DatagramSealer,
  DEFAULT_MAX_SOURCES,
  DEFAULT_SOURCE_IDLE_MS,
  processSealOrigin,
  REPLAY_WINDOW,
  SealOrigin,
  TRAILER_RING_SLOTS,
} from '../../../common/auth/seal.js';
import { authStatsTotal, type SealedUdpSocket } from '../../../common/auth/sealed-socket.js';
import { UsageError } from '../../../common/errors.js';
import { MAX_RECEIVERS } from '../../../common/limits.js';
import { AUTH_TAG_SIZE, AUTH_TRAILER_SIZE } from '../../../protocol/auth-trailer.js';
import { decodeDatagram } from '../../../protocol/codec.js';
import { encodeHeader, HEADER_SIZE, MessageType } from '../../../protocol/header.js';
import { mulberry32 } from '../../support/prng.js';
import { dataParts, joinParts, KEYS, MODES, OTHER_KEYS } from '../../support/sealing.js';

function sealOnce(mode: AuthMode, parts: readonly Uint8Array[], origin = new SealOrigin(0x0a0b0c0d, 1000), keys = KEYS): Buffer {
  return joinParts(new DatagramSealer(keys, { mode, origin }).seal(parts));
}

function zeroStats(): AuthStats {
  return { sealed: 0, opened: 0, tooShort: 0, badTag: 0, replay: 0, sourcesFull: 0 };
}

describe('authStatsTotal', () => {
  it('adds up the counters of several sockets', () => {
    const a = { authStats: { sealed: 1, opened: 2, tooShort: 3, badTag: 4, replay: 5, sourcesFull: 6 } };
    const b = { authStats: { sealed: 10, opened: 20, tooShort: 30, badTag: 40, replay: 50, sourcesFull: 60 } };
    expect(authStatsTotal([a, b] as unknown as SealedUdpSocket[])).toEqual({
      sealed: 11,
      opened: 22,
      tooShort: 33,
      badTag: 44,
      replay: 55,
      sourcesFull: 66,
    });
    expect(authStatsTotal([])).toEqual(zeroStats());
  });
});

describe('trailer size', () => {
  it('is 4 + 8 + 16 bytes in both modes', () => {
    expect(AUTH_TRAILER_SIZE).toBe(28);
    for (const mode of MODES) expect(authTrailerBytes(mode)).toBe(28);
  });
});

describe.each(MODES)('%s mode: seal and open', (mode) => {
  it('round-trips a DATA datagram and leaves the caller parts unchanged', () => {
    const parts = dataParts(1);
    const before = joinParts(parts);
    const sealer = new DatagramSealer(KEYS, { mode, origin: new SealOrigin(0x1234_5678, 42) });
    const sealed = joinParts(sealer.seal(parts));
    expect(joinParts(parts)).toEqual(before);
    expect(sealed.byteLength).toBe(before.byteLength + authTrailerBytes(mode));
    // The trailer says who and which: source id, counter.
    const tr = sealed.byteLength - AUTH_TRAILER_SIZE;
    expect(sealed.readUInt32BE(tr)).toBe(0x1234_5678);
    expect(sealed.readUInt32BE(tr + 4) * 2 ** 32 + sealed.readUInt32BE(tr + 8)).toBe(42);
    const opener = new DatagramOpener(KEYS, { mode });
    const plain = opener.open(sealed);
    expect(plain).toBeDefined();
    expect(Buffer.from(plain!)).toEqual(before);
    expect(decodeDatagram(plain!).ok).toBe(true);
    expect(sealer.stats).toEqual({ ...zeroStats(), sealed: 1 });
    expect(opener.stats).toEqual({ ...zeroStats(), opened: 1 });
  });

  it('round-trips whatever the split into parts, and datagrams that are only a header', () => {
    const whole = joinParts(dataParts(2));
    const splits: Uint8Array[][] = [
      [whole],
      [whole.subarray(0, 3), whole.subarray(3, 8), whole.subarray(8)],
      [whole.subarray(0, 0), whole.subarray(0, 8), whole.subarray(8, 8), whole.subarray(8, 30), whole.subarray(30)],
      [whole.subarray(0, 5), whole.subarray(5)],
      [whole.subarray(0, HEADER_SIZE)],
    ];
    const sealer = new DatagramSealer(KEYS, { mode });
    const opener = new DatagramOpener(KEYS, { mode });
    for (const parts of splits) {
      const plain = opener.open(joinParts(sealer.seal(parts)));
      expect(Buffer.from(plain!)).toEqual(joinParts(parts));
    }
    expect(opener.stats.opened).toBe(splits.length);
  });

  it('refuses to seal less than a rackcast header (caller misuse)', () => {
    const sealer = new DatagramSealer(KEYS, { mode });
    expect(() => sealer.seal([])).toThrow(RangeError);
    expect(() => sealer.seal([new Uint8Array(HEADER_SIZE - 1)])).toThrow(RangeError);
    expect(sealer.stats.sealed).toBe(0);
  });

  it('rejects every single-bit flip anywhere in a sealed datagram as badTag', () => {
    for (const parts of [dataParts(3), [dataParts(4)[0].subarray(0, HEADER_SIZE)]]) {
      const sealed = sealOnce(mode, parts);
      const opener = new DatagramOpener(KEYS, { mode });
      const bits = sealed.byteLength * 8;
      for (let bit = 0; bit < bits; bit++) {
        const forged = Buffer.from(sealed);
        forged[bit >>> 3]! ^= 0x80 >>> (bit & 7);
        expect(opener.open(forged), `bit ${bit}`).toBeUndefined();
      }
      expect(opener.stats).toEqual({ ...zeroStats(), badTag: bits });
      expect(opener.sourceCount).toBe(0);
      // The untouched datagram still opens: nothing above was remembered.
      expect(opener.open(Buffer.from(sealed))).toBeDefined();
    }
  });

  it('rejects every truncation, and an extended datagram', () => {
    const sealed = sealOnce(mode, dataParts(5));
    const opener = new DatagramOpener(KEYS, { mode });
    for (let n = 0; n < sealed.byteLength; n++) expect(opener.open(Buffer.from(sealed.subarray(0, n))), `length ${n}`).toBeUndefined();
    const minSealed = HEADER_SIZE + AUTH_TRAILER_SIZE;
    expect(opener.stats).toEqual({ ...zeroStats(), tooShort: minSealed, badTag: sealed.byteLength - minSealed });
    expect(opener.open(Buffer.concat([sealed, Buffer.from([0])]))).toBeUndefined();
    expect(opener.stats.badTag).toBe(sealed.byteLength - minSealed + 1);
  });

  it('rejects the replay of a captured datagram', () => {
    const sealed = sealOnce(mode, dataParts(6));
    const capture = Buffer.from(sealed); // encrypt mode decrypts in place
    const opener = new DatagramOpener(KEYS, { mode });
    expect(opener.open(sealed)).toBeDefined();
    expect(opener.open(Buffer.from(capture))).toBeUndefined();
    expect(opener.open(Buffer.from(capture))).toBeUndefined();
    expect(opener.stats).toEqual({ ...zeroStats(), opened: 1, replay: 2 });
  });

  it('rejects a datagram sealed with another key, or in the other mode', () => {
    const opener = new DatagramOpener(KEYS, { mode });
    expect(opener.open(sealOnce(mode, dataParts(7), undefined, OTHER_KEYS))).toBeUndefined();
    expect(opener.open(sealOnce(mode === 'mac' ? 'encrypt' : 'mac', dataParts(8)))).toBeUndefined();
    expect(opener.stats).toEqual({ ...zeroStats(), badTag: 2 });
  });

  it('rejects plain (unsealed) rackcast datagrams', () => {
    const opener = new DatagramOpener(KEYS, { mode });
    const small = Buffer.alloc(HEADER_SIZE);
    encodeHeader(MessageType.Hello, 1, small);
    expect(opener.open(small)).toBeUndefined();
    expect(opener.open(joinParts(dataParts(9)))).toBeUndefined();
    expect(opener.open(Buffer.alloc(1500))).toBeUndefined();
    expect(opener.stats).toEqual({ ...zeroStats(), tooShort: 1, badTag: 2 });
  });

  it('never throws and never opens random bytes', () => {
    const rnd = mulberry32(0xa0a0);
    const opener = new DatagramOpener(KEYS, { mode });
    for (let i = 0; i < 2000; i++) {
      const b = Buffer.alloc(Math.floor(rnd() * 1600));
      for (let j = 0; j < b.byteLength; j++) b[j] = Math.floor(rnd() * 256);
      expect(opener.open(b)).toBeUndefined();
    }
    expect(opener.stats.opened).toBe(0);
    expect(opener.stats.tooShort + opener.stats.badTag).toBe(2000);
  });
});

describe('encrypt mode on the wire', () => {
  it('keeps the common header readable and the rest, image bytes included, hidden', () => {
    const parts = dataParts(10);
    const plain = joinParts(parts);
    const sealed = sealOnce('encrypt', parts);
    expect(sealed.subarray(0, HEADER_SIZE)).toEqual(plain.subarray(0, HEADER_SIZE));
    // No 8-byte run of the DATA header's own fields or of the payload survives.
    const body = plain.subarray(HEADER_SIZE);
    for (let i = 0; i + 8 <= body.byteLength; i++) expect(sealed.indexOf(body.subarray(i, i + 8)), `payload offset ${i}`).toBe(-1);
    // mac mode, for contrast, sends the datagram as it is.
    expect(sealOnce('mac', parts).subarray(0, plain.byteLength)).toEqual(plain);
  });

  it('authenticates the common header it leaves in the clear', () => {
    const sealed = sealOnce('encrypt', dataParts(11));
    const opener = new DatagramOpener(KEYS, { mode: 'encrypt' });
    const otherSession = Buffer.from(sealed);
    otherSession.writeUInt32BE(0x5e55_1012, 4);
    expect(opener.open(otherSession)).toBeUndefined();
    expect(opener.stats.badTag).toBe(1);
  });
});

describe('replay window', () => {
  const SOURCE = 0x00c0_ffee;

  function at(counter: number, source = SOURCE, mode: AuthMode = 'mac'): Buffer {
    return sealOnce(mode, dataParts(counter % 1000), new SealOrigin(source, counter));
  }

  function opens(o: DatagramOpener, counter: number, source = SOURCE): boolean {
    return o.open(at(counter, source)) !== undefined;
  }

  it('accepts an old counter inside the window once, and nothing at or below its bottom edge', () => {
    const o = new DatagramOpener(KEYS, { mode: 'mac' });
    const top = 5000;
    expect(opens(o, top)).toBe(true);
    expect(opens(o, top)).toBe(false);
    expect(opens(o, top - 1000)).toBe(true);
    expect(opens(o, top - 1000)).toBe(false);
    expect(opens(o, top - (REPLAY_WINDOW - 1))).toBe(true); // the window's oldest counter
    expect(opens(o, top - REPLAY_WINDOW)).toBe(false); // just below it
    expect(opens(o, 0)).toBe(false);
    expect(o.stats).toEqual({ ...zeroStats(), opened: 3, replay: 4 });
  });

  it('moves the whole window when a counter jumps far ahead', () => {
    const o = new DatagramOpener(KEYS, { mode: 'mac' });
    expect(opens(o, 5000)).toBe(true);
    const far = 5000 + 1_000_000;
    expect(opens(o, far)).toBe(true);
    expect(opens(o, 5001)).toBe(false); // was fresh before the jump, now below the window
    expect(opens(o, far - 1)).toBe(true);
    expect(opens(o, far - (REPLAY_WINDOW - 1))).toBe(true);
    expect(opens(o, far - REPLAY_WINDOW)).toBe(false);
    expect(o.stats).toEqual({ ...zeroStats(), opened: 4, replay: 2 });
  });

  it('frees the slots of counters that leave the window when it slides by less than its size', () => {
    const o = new DatagramOpener(KEYS, { mode: 'mac' });
    for (let c = 0; c < REPLAY_WINDOW; c++) expect(opens(o, c)).toBe(true);
    // Jump 6 ahead: counters 1024..1029 reuse the bitmap slots of 0..5, which were all marked.
    expect(opens(o, REPLAY_WINDOW + 6)).toBe(true);
    for (let c = REPLAY_WINDOW; c < REPLAY_WINDOW + 6; c++) expect(opens(o, c), `counter ${c}`).toBe(true);
    expect(opens(o, 6)).toBe(false); // fell out of the window
    expect(opens(o, 7)).toBe(false); // still inside, seen already
    expect(opens(o, REPLAY_WINDOW + 6)).toBe(false);
  });

  it('keeps a window per source id', () => {
    const o = new DatagramOpener(KEYS, { mode: 'mac' });
    expect(opens(o, 100, 1)).toBe(true);
    expect(opens(o, 100, 2)).toBe(true);
    expect(opens(o, 100, 1)).toBe(false);
    expect(o.sourceCount).toBe(2);
  });

  it('handles counters up to 2^53 and drops trailers with a larger one as forged', () => {
    const o = new DatagramOpener(KEYS, { mode: 'mac' });
    const top = Number.MAX_SAFE_INTEGER;
    expect(opens(o, top - 1)).toBe(true);
    expect(opens(o, top)).toBe(true);
    expect(opens(o, top)).toBe(false);
    const forged = at(1);
    forged.writeUInt32BE(0x0020_0000, forged.byteLength - AUTH_TRAILER_SIZE + 4);
    expect(o.open(forged)).toBeUndefined();
    expect(o.stats).toEqual({ ...zeroStats(), opened: 2, replay: 1, badTag: 1 });
    expect(() => new SealOrigin(1, top + 1)).toThrow(RangeError);
    const last = new SealOrigin(1, top);
    expect(last.take()).toBe(top);
    expect(() => last.take()).toThrow(RangeError);
  });

  it('checks the window in encrypt mode too', () => {
    const o = new DatagramOpener(KEYS, { mode: 'encrypt' });
    const d = at(77, SOURCE, 'encrypt');
    const copy = Buffer.from(d);
    expect(o.open(d)).toBeDefined();
    expect(o.open(copy)).toBeUndefined();
    expect(o.stats).toEqual({ ...zeroStats(), opened: 1, replay: 1 });
  });
});

describe('source table bound', () => {
  it('creates no entry for 10k forged source ids', () => {
    const o = new DatagramOpener(KEYS, { mode: 'mac' });
    const template = sealOnce('mac', dataParts(12));
    const tr = template.byteLength - AUTH_TRAILER_SIZE;
    for (let i = 0; i < 10_000; i++) {
      const f = Buffer.from(template);
      f.writeUInt32BE(i, tr);
      randomBytes(AUTH_TAG_SIZE).copy(f, tr + 12);
      expect(o.open(f)).toBeUndefined();
    }
    expect(o.sourceCount).toBe(0);
    expect(o.stats).toEqual({ ...zeroStats(), badTag: 10_000 });
  });

  it('holds every receiver a session takes and more: a new source past the bound is refused while all talk', () => {
    expect(DEFAULT_MAX_SOURCES).toBe(MAX_RECEIVERS + 1024);
    expect(DEFAULT_SOURCE_IDLE_MS).toBe(60_000);
    let nowMs = 0;
    const o = new DatagramOpener(KEYS, { mode: 'mac', now: () => nowMs });
    const first: Buffer[] = [];
    for (let id = 0; id < DEFAULT_MAX_SOURCES; id++) {
      const d = sealOnce('mac', dataParts(id), new SealOrigin(id, 10));
      first.push(Buffer.from(d));
      expect(o.open(d)).toBeDefined();
    }
    expect(o.sourceCount).toBe(DEFAULT_MAX_SOURCES);
    // One more keyed source, a minute less a millisecond after the oldest was heard: refused.
    nowMs = DEFAULT_SOURCE_IDLE_MS - 1;
    expect(o.open(at(0, DEFAULT_MAX_SOURCES))).toBeUndefined();
    expect(o.stats.sourcesFull).toBe(1);
    expect(o.sourceCount).toBe(DEFAULT_MAX_SOURCES);
    // Every source is still remembered: each one's first datagram is a replay now.
    for (const id of [0, 1, MAX_RECEIVERS, DEFAULT_MAX_SOURCES - 1]) expect(o.open(Buffer.from(first[id]!))).toBeUndefined();
    expect(o.stats.replay).toBe(4);
    // A minute of silence from the oldest (source 0): the newcomer takes its place, and only its.
    nowMs = DEFAULT_SOURCE_IDLE_MS;
    expect(o.open(at(0, DEFAULT_MAX_SOURCES))).toBeDefined();
    expect(o.sourceCount).toBe(DEFAULT_MAX_SOURCES);
    expect(o.open(Buffer.from(first[1]!))).toBeUndefined();
    expect(o.stats.replay).toBe(5);
    expect(o.stats.sourcesFull).toBe(1);
  });

  it('a source that keeps talking is never evicted, whatever the newcomers', () => {
    let nowMs = 0;
    const o = new DatagramOpener(KEYS, { mode: 'mac', maxSources: 4, sourceIdleMs: 1000, now: () => nowMs });
    const a = at(0, 100);
    expect(o.open(Buffer.from(a))).toBeDefined();
    for (let id = 1; id <= 3; id++) expect(o.open(at(0, id))).toBeDefined();
    const admitted: boolean[] = [];
    for (let t = 1; t <= 4; t++) {
      nowMs = t * 900;
      expect(o.open(at(t, 100))).toBeDefined(); // 100 talks every 900 ms
      // 1, 2, 3 were silent since 0: a newcomer from 1000 ms on takes one of their places.
      admitted.push(o.open(at(0, 200 + t)) !== undefined);
    }
    expect(admitted).toEqual([false, true, true, true]);
    expect(o.open(Buffer.from(a))).toBeUndefined();
    expect(o.stats.replay).toBe(1);
    expect(o.stats.sourcesFull).toBe(1);
    expect(o.sourceCount).toBe(4);
  });

  function at(counter: number, source: number): Buffer {
    return sealOnce('mac', dataParts(counter), new SealOrigin(source, counter));
  }
});

describe('SealOrigin and the trailer ring', () => {
  it('draws a random source id and a counter below 2^48, and counts up', () => {
    const o = SealOrigin.random();
    expect(o.sourceId).toBeGreaterThanOrEqual(0);
    expect(o.sourceId).toBeLessThanOrEqual(0xffff_ffff);
    const c = o.take();
    expect(c).toBeLessThan(2 ** 48);
    expect(o.take()).toBe(c + 1);
    expect(processSealOrigin()).toBe(processSealOrigin());
  });

  it('never gives two sealers of one process the same nonce', () => {
    const a = new DatagramSealer(KEYS, { mode: 'encrypt' });
    const b = new DatagramSealer(KEYS, { mode: 'encrypt' });
    const seen = new Set<string>();
    for (let i = 0; i < 500; i++) {
      for (const s of [a, b]) {
        const d = joinParts(s.seal(dataParts(i)));
        const nonce = d.subarray(d.byteLength - AUTH_TRAILER_SIZE, d.byteLength - AUTH_TAG_SIZE).toString('hex');
        expect(seen.has(nonce)).toBe(false);
        seen.add(nonce);
      }
    }
  });

  it('leaves each trailer unchanged for TRAILER_RING_SLOTS - 1 further seals', () => {
    for (const mode of MODES) {
      const s = new DatagramSealer(KEYS, { mode, origin: new SealOrigin(9, 0) });
      const parts = dataParts(13, 64);
      const firstOut = s.seal(parts);
      const trailer = firstOut[firstOut.length - 1]!;
      const kept = Buffer.from(trailer);
      const keptAll = joinParts(firstOut);
      for (let i = 1; i < TRAILER_RING_SLOTS; i++) s.seal(parts);
      expect(Buffer.from(trailer)).toEqual(kept);
      // Every part, the ciphertext in encrypt mode included, is as it was.
      expect(joinParts(firstOut)).toEqual(keptAll);
      const wrapped = s.seal(parts);
      // The ring wraps here: the same memory, a new counter.
      expect(wrapped[wrapped.length - 1]!.buffer).toBe(trailer.buffer);
      expect(wrapped[wrapped.length - 1]!.byteOffset).toBe(trailer.byteOffset);
      expect(Buffer.from(trailer)).not.toEqual(kept);
    }
  });
});

describe('keys', () => {
  it('derives distinct MAC and encryption keys and a stable fingerprint', () => {
    const secret = Buffer.from('0123456789abcdef0123456789abcdef', 'latin1');
    const k = deriveAuthKeys(secret);
    const mac = k.macKey.export();
    const enc = k.encKey.export();
    expect(mac.byteLength).toBe(32);
    expect(enc.byteLength).toBe(32);
    expect(mac.equals(enc)).toBe(false);
    expect(mac.equals(secret)).toBe(false);
    expect(enc.equals(secret)).toBe(false);
    expect(k.fingerprint).toMatch(/^[0-9a-f]{16}$/);
    expect(deriveAuthKeys(secret).fingerprint).toBe(k.fingerprint);
    expect(OTHER_KEYS.fingerprint).not.toBe(k.fingerprint);
    expect(() => deriveAuthKeys(new Uint8Array(15))).toThrow(RangeError);
  });
});

describe('loadKeyFile', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rackcast-keys-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function keyFile(name: string, content: string | Buffer, mode = 0o600): Promise<string> {
    const p = join(dir, name);
    await writeFile(p, content, { mode });
    await chmod(p, mode); // the umask may have taken bits off, never added them
    return p;
  }

  /** The error: a UsageError, one line, naming the file. */
  async function refusal(path: string): Promise<string> {
    const e: unknown = await loadKeyFile(path).then(
      () => undefined,
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(UsageError);
    const msg = (e as Error).message;
    expect(msg).not.toMatch(/\n/);
    expect(msg).toContain(path);
    return msg;
  }

  it('reads a good file and ignores a trailing newline', async () => {
    const a = await loadKeyFile(await keyFile('a', 'correct horse battery staple'));
    const b = await loadKeyFile(await keyFile('b', 'correct horse battery staple\n'));
    const c = await loadKeyFile(await keyFile('c', 'correct horse battery staple\r\n', 0o400));
    expect(b.fingerprint).toBe(a.fingerprint);
    expect(c.fingerprint).toBe(a.fingerprint);
    const bin = randomBytes(32);
    // Not a newline at the end (1 in 256 random keys): that one is taken off, as above.
    bin[31] = 0x5a;
    expect((await loadKeyFile(await keyFile('bin', bin))).fingerprint).toBe(deriveAuthKeys(bin).fingerprint);
  });

  it('accepts exactly 16 bytes of secret and refuses 15', async () => {
    await expect(loadKeyFile(await keyFile('k16', 'x'.repeat(16) + '\n'))).resolves.toBeDefined();
    expect(await refusal(await keyFile('k15', 'x'.repeat(15) + '\n'))).toMatch(/15 bytes of secret, at least 16/);
    expect(await refusal(await keyFile('empty', ''))).toMatch(/0 bytes of secret/);
  });

  it('refuses a missing file and a directory', async () => {
    expect(await refusal(join(dir, 'no-such-key'))).toMatch(/no such file/);
    const sub = join(dir, 'sub');
    await mkdir(sub, { mode: 0o700 });
    expect(await refusal(sub)).toMatch(/not a regular file/);
  });

  it('refuses a key file that group or others may read, as ssh does', async () => {
    for (const mode of [0o644, 0o640, 0o604, 0o620, 0o601]) {
      const p = await keyFile(`open-${mode.toString(8)}`, 'a good long secret, but exposed', mode);
      const msg = await refusal(p);
      expect(msg).toContain(`permissions 0${mode.toString(8)} are too open`);
      expect(msg).toContain('chmod 600');
    }
  });

  it('refuses a file too long to be a key', async () => {
    expect(await refusal(await keyFile('huge', Buffer.alloc(MAX_KEY_FILE_BYTES + 1, 1)))).toMatch(/too long/);
  });
});
