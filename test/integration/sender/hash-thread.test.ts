// sender/hash-thread.ts, built (a worker thread runs the compiled module): the digest of the
// slices posted through a ring smaller than the image equals node:crypto's over the same bytes,
// a slot written again only once whenHashed says its slice was hashed; slices of any length
// (a short last one); nothing posted gives the empty image's digest.

import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { HashThread as HashThreadType } from '../../../sender/hash-thread.js';

const { HashThread } = (await import(new URL('../../../dist/sender/hash-thread.js', import.meta.url).href)) as {
  HashThread: typeof HashThreadType;
};

describe('HashThread', () => {
  it('hashes 40 slices through a ring of 3 slots, in order, as node:crypto does', async () => {
    const slots = 3;
    const slotBytes = 64 * 1024;
    const ring = new SharedArrayBuffer(slots * slotBytes);
    const errors: Error[] = [];
    const t = new HashThread(ring, slots, slotBytes, (e) => errors.push(e));
    const want = createHash('sha256');
    for (let i = 0; i < 40; i++) {
      const slot = i % slots;
      // The slice that held this slot before must be hashed first.
      if (i >= slots) await t.whenHashed(i - slots + 1);
      expect(t.hashed).toBeGreaterThanOrEqual(i - slots + 1);
      const len = i === 39 ? 1234 : slotBytes - (i % 7);
      const bytes = randomBytes(len);
      new Uint8Array(ring, slot * slotBytes, len).set(bytes);
      want.update(bytes);
      t.post(slot, len);
    }
    const r = await t.finish();
    expect(Buffer.from(r.digest).toString('hex')).toBe(want.digest('hex'));
    expect(t.hashed).toBe(40);
    expect(r.cpuMs).toBeGreaterThanOrEqual(0);
    await t.close();
    expect(errors).toEqual([]);
  });

  it('nothing posted: the digest of the empty image', async () => {
    const t = new HashThread(new SharedArrayBuffer(1024), 1, 1024, () => undefined);
    const r = await t.finish();
    expect(Buffer.from(r.digest).toString('hex')).toBe(createHash('sha256').digest('hex'));
    await t.close();
  });
});
