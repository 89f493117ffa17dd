// SenderDriver with an in-memory UDP factory (test/support/fake-udp.ts) and a source whose reads
// the test completes by hand: the races between the driver's own I/O and the core, staged
// exactly. Geometry (test/support/cores.ts): 100-byte blocks, 4 a slice, 4000 bytes.

import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decodeDatagram } from '../../../protocol/codec.js';
import { MessageType } from '../../../protocol/header.js';
import { Reason } from '../../../protocol/reasons.js';
import { SenderDriver } from '../../../sender/driver.js';
import type { Source } from '../../../sender/source-types.js';
import { pattern } from '../../support/bytes.js';
import { senderConfig } from '../../support/cores.js';
import { joinBytes, leaveBytes, rcv } from '../../support/datagrams.js';
import { fakeUdp } from '../../support/fake-udp.js';

/** A source whose read() waits until the test calls `complete()`. */
class HeldSource implements Source {
  readonly sizeBytes = 4000;
  readonly description = 'held test source';
  readonly reads: ((b: Uint8Array | null) => void)[] = [];
  closed = false;
  private pos = 0;
  read(n: number): Promise<Uint8Array | null> {
    return new Promise((resolve) => {
      this.reads.push((b) => resolve(b));
      void n;
    });
  }
  /** Completes the oldest read with the next bytes of the image. */
  complete(image: Uint8Array, n: number): void {
    const r = this.reads.shift();
    if (r === undefined) throw new Error('no read is out');
    r(image.subarray(this.pos, this.pos + n));
    this.pos += n;
  }
  async close(): Promise<void> {
    this.closed = true;
  }
}

const ticks = async (n = 5): Promise<void> => {
  for (let i = 0; i < n; i++) await new Promise<void>((r) => setImmediate(r));
};

describe('SenderDriver and its source', () => {
  const rejections: unknown[] = [];
  const onRejection = (e: unknown): void => void rejections.push(e);
  beforeEach(() => {
    rejections.length = 0;
    process.on('unhandledRejection', onRejection);
  });
  afterEach(() => {
    process.off('unhandledRejection', onRejection);
  });

  it('a read that completes after the last receiver left is dropped, not handed to the finished core', async () => {
    const { factory, sockets } = fakeUdp();
    const source = new HeldSource();
    const driver = new SenderDriver(
      senderConfig({ minReceivers: 1, helloIntervalMs: 50 }),
      { interfaceAddress: undefined, rdvGroup: '239.192.67.2', portbase: 9000, ttl: 1, io: 'dgram' },
      factory,
      source,
      pino({ level: 'silent' }),
    );
    const outcome = driver.run();
    await ticks();
    const control = sockets[0]!;
    const image = pattern(4000);
    control.deliver(joinBytes({ receiverId: rcv(0).id }), rcv(0).from.address);
    await ticks();
    // Started; the first slices went out, and one more read is out when the receiver leaves
    // (its --pipe command failed).
    while (source.reads.length > 0 && driver.sender.currentPhase !== 'done') {
      source.complete(image, 400);
      await ticks();
      if (driver.sender.bytesRead >= 800) break;
    }
    expect(driver.sender.currentPhase).toBe('transferring');
    expect(source.reads).toHaveLength(1);
    control.deliver(leaveBytes({ receiverId: rcv(0).id, reason: Reason.PipeFailed, detail: '--pipe "false" failed' }), rcv(0).from.address);
    const out = await outcome;
    expect(driver.sender.currentPhase).toBe('done');
    source.complete(image, 400);
    await ticks();
    expect(rejections).toEqual([]);
    expect(out.ok).toBe(false);
    expect(out.error).toBeUndefined();
    expect(out.receivers.map((r) => r.state)).toEqual(['left']);
    expect(source.closed).toBe(true);
    const sentTypes = control.sent.map((b) => {
      const m = decodeDatagram(b);
      return m.ok ? m.value.type : -1;
    });
    expect(sentTypes).toContain(MessageType.Start);
  });
});
