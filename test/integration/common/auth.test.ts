// SealedUdpSocket (common/auth/sealed-socket.ts) over real DgramUdpSockets on loopback multicast, in
// both modes: what a keyed peer sends arrives, everything else (another key, plain
// datagrams, a replay) is dropped and counted by reason. Ports 48000-48999 only.

import { randomInt } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DatagramSealer, SealOrigin } from '../../../common/auth/seal.js';
import { SealedUdpSocket } from '../../../common/auth/sealed-socket.js';
import { DgramUdpSocket } from '../../../common/udp/dgram.js';
import { HEADER_SIZE } from '../../../protocol/header.js';
import { dataParts, joinParts, KEYS, MODES, OTHER_KEYS } from '../../support/sealing.js';

describe('SealedUdpSocket over real dgram sockets on loopback multicast', () => {
  const GROUP = `239.255.78.${randomInt(1, 255)}`;
  const LOOPBACK = '127.0.0.1';

  /** One receiving socket on a port of 48000-48999, joined to GROUP on loopback. */
  async function receiver(): Promise<{ sock: DgramUdpSocket; port: number }> {
    for (let attempt = 0; ; attempt++) {
      const port = 48000 + randomInt(0, 1000);
      const sock = new DgramUdpSocket();
      try {
        await sock.bind(port);
        sock.addMembership(GROUP, LOOPBACK);
        sock.setRecvBufferSize(4 << 20);
        return { sock, port };
      } catch (e) {
        await sock.close();
        if (attempt >= 20) throw e;
      }
    }
  }

  async function sender(): Promise<DgramUdpSocket> {
    const s = new DgramUdpSocket();
    await s.bind(0, LOOPBACK);
    s.setMulticastInterface(LOOPBACK);
    s.setMulticastLoopback(true);
    s.setMulticastTTL(1);
    return s;
  }

  async function until(cond: () => boolean, ms = 5000): Promise<void> {
    const end = Date.now() + ms;
    while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
  }

  it.each(MODES)('%s: delivers what a keyed peer sends and drops everything else, by reason', async (mode) => {
    const { sock: rxInner, port } = await receiver();
    const rx = new SealedUdpSocket(rxInner, KEYS, { mode });
    const txInner = await sender();
    const tx = new SealedUdpSocket(txInner, KEYS, { mode });
    const wrongKey = new SealedUdpSocket(await sender(), OTHER_KEYS, { mode });
    const plain = await sender();
    const got: Buffer[] = [];
    const second: Uint8Array[] = [];
    rx.onMessage((b) => got.push(Buffer.from(b)));
    rx.onMessage((b) => second.push(b)); // a second handler: the same datagrams, opened once
    try {
      expect(rx.features).toBe(`dgram, ${mode === 'mac' ? 'hmac-sha256' : 'aes-256-gcm'}`);
      expect(rx.path).toBe('dgram');
      const N = 200;
      const sent: Buffer[] = [];
      let captured: Buffer | undefined;
      for (let i = 0; i < N; i++) {
        const parts = dataParts(1000 + i);
        sent.push(joinParts(parts));
        if (i === 0) captured = joinParts(new DatagramSealer(KEYS, { mode, origin: new SealOrigin(0xdead_beef, 1) }).seal(parts));
        tx.send(parts, port, GROUP);
        if (!tx.writable()) await new Promise<void>((r) => tx.onDrain(r));
        // Let the receiving side read now and then: this one process is both ends.
        if (i % 16 === 15) await new Promise((r) => setImmediate(r));
      }
      wrongKey.send(dataParts(1), port, GROUP);
      plain.send(dataParts(2), port, GROUP);
      plain.send([Buffer.alloc(HEADER_SIZE)], port, GROUP);
      // A keyed datagram, then its replay.
      plain.send([captured!], port, GROUP);
      plain.send([captured!], port, GROUP);
      await until(() => got.length >= N + 1 && rx.authStats.badTag + rx.authStats.tooShort + rx.authStats.replay >= 4);
      expect(got.slice(0, N)).toEqual(sent);
      expect(got[N]).toEqual(sent[0]);
      expect(second.length).toBe(got.length);
      expect(rx.authStats).toEqual({ sealed: 0, opened: N + 1, tooShort: 1, badTag: 2, replay: 1, sourcesFull: 0 });
      expect(tx.authStats.sealed).toBe(N);
      expect(rx.stats.datagramsReceived).toBe(N + 5);
      expect(tx.stats.datagramsSent).toBe(N);
      expect(rx.authSources).toBe(2);
    } finally {
      await Promise.all([rx.close(), tx.close(), wrongKey.close(), plain.close()]);
    }
  });
});
