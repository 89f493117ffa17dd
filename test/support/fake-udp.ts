// An in-memory UdpFactory for driver tests: sockets that bind and connect to nothing,
// record what they send, and take datagrams a test hands them. No kernel, no ports, so a
// driver's race with its own I/O (a read still out when the session ends) can be staged
// exactly.

import type { UdpFactory } from '../../common/udp/select.js';
import type { MessageHandler, UdpSocket, UdpSocketStats } from '../../common/udp/socket.js';

export class FakeUdpSocket implements UdpSocket {
  readonly path = 'dgram' as const;
  readonly features = 'fake';
  readonly stats: UdpSocketStats = { datagramsSent: 0, sendCalls: 0, sendBlocked: 0, sendErrors: 0, datagramsReceived: 0, recvCalls: 0 };
  /** Every datagram sent, the parts concatenated. */
  readonly sent: Uint8Array[] = []; // UNBOUNDED: one test's datagrams
  private handler: MessageHandler | undefined;
  closed = false;

  async bind(): Promise<void> {}
  async connect(): Promise<void> {}
  addMembership(): void {}
  setMulticastInterface(): void {}
  setMulticastTTL(): void {}
  setMulticastLoopback(): void {}
  setSendBufferSize(): void {}
  setRecvBufferSize(): void {}
  getSendBufferSize(): number {
    return 1 << 20;
  }
  getRecvBufferSize(): number {
    return 1 << 20;
  }
  send(parts: readonly Uint8Array[]): void {
    this.sent.push(Buffer.concat(parts.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength))));
    this.stats.datagramsSent++;
    this.stats.sendCalls++;
  }
  flush(): void {}
  writable(): boolean {
    return true;
  }
  onDrain(cb: () => void): void {
    setImmediate(cb);
  }
  onMessage(handler: MessageHandler): void {
    this.handler = handler;
  }
  onError(): void {}
  async close(): Promise<void> {
    this.closed = true;
  }

  /** A datagram arrives from `address`. */
  deliver(bytes: Uint8Array, address: string, port = 9001): void {
    this.stats.datagramsReceived++;
    this.handler?.(bytes, address, port);
  }
}

/** The factory and every socket it made, in order (the sender makes control, then data). */
export function fakeUdp(): { factory: UdpFactory; sockets: FakeUdpSocket[] } {
  const sockets: FakeUdpSocket[] = [];
  return {
    sockets,
    factory: {
      path: 'dgram',
      description: 'fake',
      create: () => {
        const s = new FakeUdpSocket();
        sockets.push(s);
        return s;
      },
    },
  };
}
