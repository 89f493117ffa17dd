// Session.holdSlices: the receiver's window. The sender's retainSlices, except with --async,
// where nothing holds the sender back and the receiver holds the whole image (up to
// ASYNC_HOLD_BYTES and maxRetainBytes) so that what a pass sends past a slice it waits for
// is kept, not let go.

import { describe, expect, it } from 'vitest';
import { CAP_ASYNC, CAP_PARITY_REPAIR } from '../../../../protocol/header.js';
import { decodeHello, type Hello, IMAGE_BYTES_UNKNOWN } from '../../../../protocol/messages/hello.js';
import { ASYNC_HOLD_BYTES, Session } from '../../../../receiver/core/session.js';
import { helloBytes, SENDER } from '../../../support/datagrams.js';

/** 1448-byte blocks, 256 a slice: 370 688 bytes a slice; the sender retains 45. */
const SLICE_BYTES = 1448 * 256;

function session(over: Partial<Hello>, maxRetainBytes = 1 << 30): Session {
  const hello = decodeHello(helloBytes({ blockBytes: 1448, sliceBlocks: 256, stripes: 8, retainSlices: 45, ...over }));
  if (!hello.ok) throw new Error(hello.detail);
  const s = Session.open(SENDER, hello.value, maxRetainBytes);
  if (typeof s === 'string') throw new Error(s);
  return s;
}

const ASYNC = CAP_PARITY_REPAIR | CAP_ASYNC;

describe('Session.holdSlices', () => {
  it('with a return channel: the sender retainSlices, whatever the image', () => {
    expect(session({ imageBytes: 10 * 2 ** 30 }).holdSlices).toBe(45);
  });

  it('--async: the whole image (182 slices of a 64 MiB one)', () => {
    expect(session({ caps: ASYNC, imageBytes: 64 << 20 }).holdSlices).toBe(182);
  });

  it('--async, an image larger than ASYNC_HOLD_BYTES, or of unknown size: ASYNC_HOLD_BYTES of slices', () => {
    const most = Math.floor(ASYNC_HOLD_BYTES / SLICE_BYTES);
    expect(most).toBe(724);
    expect(session({ caps: ASYNC, imageBytes: 10 * 2 ** 30 }).holdSlices).toBe(most);
    expect(session({ caps: ASYNC, imageBytes: IMAGE_BYTES_UNKNOWN }).holdSlices).toBe(most);
  });

  it('--async under a smaller maxRetainBytes: that many bytes of slices', () => {
    expect(session({ caps: ASYNC, imageBytes: 10 * 2 ** 30 }, 32 << 20).holdSlices).toBe(Math.floor((32 << 20) / SLICE_BYTES));
  });

  it('--async, an image of fewer slices than the sender retains: never less than retainSlices', () => {
    expect(session({ caps: ASYNC, imageBytes: 3 * SLICE_BYTES }).holdSlices).toBe(45);
  });
});
