// --key-file for the drivers: a UdpSocket decorator (common/udp/socket.ts) that seals what
// it sends and hands on only authentic, fresh datagrams with the trailer stripped (and the
// body decrypted), counting every other one by reason (common/auth/seal.ts), and the
// factory the CLIs wrap their UDP path in.

import { type PlacedHandler, type PlacementTable, TsPlacer } from '../udp/placement.js';
import { decorateUdp, type UdpFactory } from '../udp/select.js';
import type { IoPath, MessageHandler, UdpCpuStats, UdpSocket, UdpSocketStats } from '../udp/socket.js';
import { type AuthKeys, loadKeyFile } from './keys.js';
import { type AuthMode, type AuthStats, DatagramOpener, DatagramSealer, newAuthStats, type SealOrigin } from './seal.js';

export interface SealedSocketOptions {
  readonly mode: AuthMode;
  readonly origin?: SealOrigin;
  readonly maxSources?: number;
}

/**
 * A UdpSocket that seals what it sends and passes on only authentic, fresh datagrams.
 * Everything else is the inner socket's: binding, multicast, buffers, back-pressure.
 * `stats` is the inner socket's; `authStats` counts sealing and drops by reason.
 */
export class SealedUdpSocket implements UdpSocket {
  readonly authStats: AuthStats = newAuthStats();
  readonly mode: AuthMode;
  private readonly sealer: DatagramSealer;
  private readonly opener: DatagramOpener;
  private readonly handlers: MessageHandler[] = []; // bounded: the driver registers one or two
  /** DATA placement of opened datagrams (the inner socket sees only sealed ones, which it never places). */
  private placer: TsPlacer | undefined;

  constructor(
    private readonly inner: UdpSocket,
    keys: AuthKeys,
    opts: SealedSocketOptions,
  ) {
    this.mode = opts.mode;
    this.sealer = new DatagramSealer(keys, { mode: opts.mode, origin: opts.origin, stats: this.authStats });
    this.opener = new DatagramOpener(keys, { mode: opts.mode, maxSources: opts.maxSources, stats: this.authStats });
  }

  get path(): IoPath {
    return this.inner.path;
  }
  get features(): string {
    return `${this.inner.features}, ${this.mode === 'encrypt' ? 'aes-256-gcm' : 'hmac-sha256'}`;
  }
  get stats(): Readonly<UdpSocketStats> {
    return this.inner.stats;
  }
  get cpu(): Readonly<UdpCpuStats> {
    return { ...this.inner.cpu, datagramsPlaced: this.placer?.placed ?? 0 };
  }
  /** Source ids in the replay table (for tests and the end-of-run stats). */
  get authSources(): number {
    return this.opener.sourceCount;
  }

  bind(port: number, address?: string): Promise<void> {
    return this.inner.bind(port, address);
  }
  connect(port: number, address: string): Promise<void> {
    return this.inner.connect(port, address);
  }
  addMembership(group: string, interfaceAddress?: string): void {
    this.inner.addMembership(group, interfaceAddress);
  }
  dropMembership(group: string, interfaceAddress?: string): void {
    this.inner.dropMembership(group, interfaceAddress);
  }
  setMulticastInterface(address: string): void {
    this.inner.setMulticastInterface(address);
  }
  setMulticastTTL(ttl: number): void {
    this.inner.setMulticastTTL(ttl);
  }
  setMulticastLoopback(on: boolean): void {
    this.inner.setMulticastLoopback(on);
  }
  setSendBufferSize(bytes: number): void {
    this.inner.setSendBufferSize(bytes);
  }
  setRecvBufferSize(bytes: number): void {
    this.inner.setRecvBufferSize(bytes);
  }
  getSendBufferSize(): number {
    return this.inner.getSendBufferSize();
  }
  getRecvBufferSize(): number {
    return this.inner.getRecvBufferSize();
  }

  send(parts: readonly Uint8Array[], port?: number, address?: string): void {
    this.inner.send(this.sealer.seal(parts), port, address);
  }
  flush(): void {
    this.inner.flush();
  }
  writable(): boolean {
    return this.inner.writable();
  }
  onDrain(cb: () => void): void {
    this.inner.onDrain(cb);
  }
  settled(): boolean {
    return this.inner.settled();
  }
  onSettled(cb: () => void): void {
    this.inner.onSettled(cb);
  }

  onMessage(handler: MessageHandler): void {
    // One listener on the inner socket whatever the number of handlers: a datagram is
    // opened once (a second open would see its own counter as a replay, and in encrypt mode
    // the body is decrypted in place).
    this.handlers.push(handler);
    if (this.handlers.length === 1) this.inner.onMessage(this.onSealed);
  }

  private readonly onSealed = (bytes: Uint8Array, address: string, port: number): void => {
    const plain = this.opener.open(bytes);
    if (plain === undefined) return;
    if (this.placer?.offer(plain, address)) return;
    for (const h of this.handlers) h(plain, address, port);
  };

  setPlacement(table: PlacementTable, onPlaced: PlacedHandler): void {
    if (table.enabled) this.placer = new TsPlacer(table, onPlaced);
  }

  onError(handler: (e: Error) => void): void {
    this.inner.onError(handler);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

/** The auth counters of several sealed sockets (a driver has two), added up for a report. */
export function authStatsTotal(sockets: readonly SealedUdpSocket[]): AuthStats {
  const t = newAuthStats();
  for (const s of sockets) {
    for (const k of Object.keys(t) as (keyof AuthStats)[]) t[k] += s.authStats[k];
  }
  return t;
}

/**
 * --key-file for a CLI: a factory whose sockets are sealed with the file's keys, and the
 * added-up auth counters of every socket it made (a driver makes two), for the report.
 */
export async function sealedUdpFactory(
  inner: UdpFactory,
  auth: { readonly keyFile: string; readonly mode: AuthMode },
): Promise<{ udp: UdpFactory; authStats: () => AuthStats }> {
  const keys = await loadKeyFile(auth.keyFile);
  const sockets: SealedUdpSocket[] = []; // bounded: one per socket the driver opens
  const udp = decorateUdp(inner, auth.mode === 'encrypt' ? 'aes-256-gcm' : 'hmac-sha256', (s) => {
    const sealed = new SealedUdpSocket(s, keys, { mode: auth.mode });
    sockets.push(sealed);
    return sealed;
  });
  return { udp, authStats: () => authStatsTotal(sockets) };
}
