// The driver of `udp-sender --protocol udpcast`: owns the sockets, the one timer and the
// source, and runs the loop: feed events → drain transmits → re-arm the timer at
// pollTimeout(). It makes no protocol decisions (core.ts does).
//
// Sockets (docs/udpcast-wire.md §2, §8a): stock receivers take data-phase datagrams only
// from the (address, port) their CONNECT_REPLY came from, and drop anything not from
// portbase+1. So every datagram to receivers leaves from `main`, bound to
// interface:portbase+1, on the UDP seam (common/udp/socket.ts: GSO batches on the native
// path). `rdv` (node:dgram, also portbase+1, bound to 0.0.0.0) hears CONNECT_REQs sent to
// the subnet broadcast or the rendezvous group, and sends HELLO there (the seam has no
// SO_BROADCAST). Both feed the core.

import dgram from 'node:dgram';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { IoError, oneLine } from '../../common/errors.js';
import type { UdpFactory } from '../../common/udp/select.js';
import type { UdpSocket, UdpSocketStats } from '../../common/udp/socket.js';
import type { Source } from '../source-types.js';
import { type UdpcastReceiverRecord, type UdpcastSenderConfig, UdpcastSenderCore, type UdpcastSenderEvent, type UdpcastSenderStats } from './core.js';
import { isMulticast, type UdpcastInterface } from './net.js';

export interface UdpcastNetConfig {
  readonly iface: UdpcastInterface;
  readonly portbase: number;
  readonly ttl: number;
  readonly rendezvous: string;
  readonly helloTo: readonly string[];
}

export interface UdpcastOutcome {
  readonly ok: boolean;
  readonly bytes: number;
  /** From the first DATA to the end. */
  readonly seconds: number;
  readonly receivers: readonly Readonly<UdpcastReceiverRecord>[];
  readonly stats: UdpcastSenderStats;
  readonly dataAddress: string;
  readonly io: { readonly description: string; readonly data: Readonly<UdpSocketStats> };
  /** The one timer: how often it fired, and how late after the time the core asked for (summed). */
  readonly timer: { readonly fires: number; readonly lateMs: number; readonly turns: number };
  readonly error?: string;
  /** The error was local I/O (the source), not the network. */
  readonly ioError: boolean;
}

const SENDS_PER_TURN = 256;

export class UdpcastSenderDriver {
  readonly core: UdpcastSenderCore;
  private readonly main: UdpSocket;
  private readonly rdv: dgram.Socket;
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private reading = false;
  private sourceDone = false;
  private sendWaiting = false;
  private startedAtMs: number | undefined;
  private error: string | undefined;
  private ioError = false;
  private finished: ((o: UdpcastOutcome) => void) | undefined;
  private timerDueMs = 0;
  private readonly timerStats = { fires: 0, lateMs: 0, turns: 0 };

  constructor(
    cfg: Readonly<UdpcastSenderConfig>,
    private readonly net: Readonly<UdpcastNetConfig>,
    private readonly udp: UdpFactory,
    private readonly source: Source,
    private readonly log: Logger,
    private readonly onEvent: (ev: UdpcastSenderEvent, core: UdpcastSenderCore) => void = () => undefined,
  ) {
    this.core = new UdpcastSenderCore(cfg, performance.now());
    this.main = udp.create({ reuseAddr: true });
    this.rdv = dgram.createSocket({ type: 'udp4', reuseAddr: true });
  }

  async run(): Promise<UdpcastOutcome> {
    await this.open();
    const done = new Promise<UdpcastOutcome>((resolve) => (this.finished = resolve));
    const onMessage = (bytes: Uint8Array, address: string, port: number): void => {
      this.core.handle({ kind: 'datagram', from: { address, port }, bytes }, performance.now());
      this.kick();
    };
    this.main.onMessage(onMessage);
    this.rdv.on('message', (msg, rinfo) => onMessage(msg, rinfo.address, rinfo.port));
    this.main.onError((e) => this.fail(`socket: ${oneLine(e)}`));
    this.rdv.on('error', (e) => this.fail(`rendezvous socket: ${oneLine(e)}`));
    this.kick();
    return done;
  }

  start(): void {
    this.core.handle({ kind: 'start' }, performance.now());
    this.kick();
  }

  abort(detail: string): void {
    this.error ??= detail;
    this.core.handle({ kind: 'abort', detail }, performance.now());
    this.kick();
  }

  private fail(detail: string): void {
    this.log.error({ evt: 'sender.error', detail }, detail);
    this.abort(detail);
  }

  private async open(): Promise<void> {
    const port = this.net.portbase + 1;
    const ifaddr = this.net.iface.address;
    await this.main.bind(port, ifaddr).catch((e: unknown) => {
      throw new IoError('socket', `cannot bind UDP ${ifaddr}:${port}: ${oneLine(e)}`);
    });
    try {
      this.main.setMulticastInterface(ifaddr);
      this.main.setMulticastTTL(this.net.ttl);
      this.main.setMulticastLoopback(true);
      this.main.setSendBufferSize(4 << 20);
      this.main.setRecvBufferSize(4 << 20);
    } catch (e) {
      throw new IoError('socket', `cannot set up multicast on ${this.net.iface.name}: ${oneLine(e)}`);
    }
    await new Promise<void>((resolve, reject) => {
      this.rdv.once('error', reject);
      this.rdv.bind(port, '0.0.0.0', () => {
        this.rdv.off('error', reject);
        resolve();
      });
    }).catch((e: unknown) => {
      throw new IoError('socket', `cannot bind UDP 0.0.0.0:${port}: ${oneLine(e)}`);
    });
    try {
      this.rdv.setBroadcast(true);
      this.rdv.setMulticastInterface(ifaddr);
      this.rdv.setMulticastTTL(this.net.ttl);
      this.rdv.setMulticastLoopback(true);
      if (isMulticast(this.net.rendezvous)) this.rdv.addMembership(this.net.rendezvous, ifaddr);
    } catch (e) {
      throw new IoError('socket', `cannot set up the rendezvous socket on ${this.net.iface.name}: ${oneLine(e)}`);
    }
    this.log.info(
      {
        evt: 'socket.open',
        port,
        interface: this.net.iface.name,
        address: ifaddr,
        rendezvous: this.net.rendezvous,
        helloTo: this.net.helloTo,
        io: this.udp.description,
      },
      'sockets open',
    );
  }

  private kick(): void {
    if (this.immediate !== undefined) return;
    this.immediate = setImmediate(() => {
      this.immediate = undefined;
      this.turn();
    });
  }

  private turn(): void {
    this.timerStats.turns++;
    let now = performance.now();
    const due = this.core.pollTimeout();
    if (due !== undefined && due <= now) this.core.handleTimeout(now);
    this.drainEvents();
    if (this.finished === undefined) return;
    let sent = 0;
    while (!this.sendWaiting && sent < SENDS_PER_TURN) {
      if (!this.main.writable()) {
        this.sendWaiting = true;
        this.main.onDrain(this.onDrain);
        break;
      }
      const t = this.core.pollTransmit(now);
      if (t === undefined) break;
      sent++;
      if (t.to === 'rendezvous') {
        for (const to of this.net.helloTo) this.rdv.send(t.parts as Uint8Array[], this.net.portbase, to);
      } else {
        this.main.send(t.parts, this.net.portbase, t.to);
        // Control (REQACK, CONNECT_REPLY) goes at once; data is batched.
        if (!t.paced || t.parts.length === 1) this.main.flush();
      }
      if ((sent & 31) === 0) now = performance.now();
    }
    this.main.flush();
    this.feedSource();
    this.drainEvents();
    if (this.finished === undefined) return;
    if (sent === SENDS_PER_TURN) {
      this.kick();
      return;
    }
    this.arm();
  }

  private readonly onDrain = (): void => {
    this.sendWaiting = false;
    this.kick();
  };

  private arm(): void {
    const t = this.core.pollTimeout();
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (t === undefined) return;
    const delay = t - performance.now();
    if (delay <= 0) {
      this.kick();
      return;
    }
    this.timerDueMs = t;
    this.timer = setTimeout(this.onTimer, delay);
  }

  private readonly onTimer = (): void => {
    this.timer = undefined;
    this.timerStats.fires++;
    this.timerStats.lateMs += Math.max(0, performance.now() - this.timerDueMs);
    this.turn();
  };

  private feedSource(): void {
    if (this.reading || this.sourceDone || !this.core.wantsSlice()) return;
    this.reading = true;
    this.source.read(this.core.sliceBytes).then(
      (buf) => {
        this.reading = false;
        if (buf === null) {
          this.sourceDone = true;
          this.core.handle({ kind: 'eof' }, performance.now());
        } else {
          this.core.handle({ kind: 'slice', bytes: buf }, performance.now());
        }
        this.kick();
      },
      (e: unknown) => {
        this.reading = false;
        this.sourceDone = true;
        this.ioError = true;
        this.fail(oneLine(e));
      },
    );
  }

  private drainEvents(): void {
    for (let ev = this.core.pollEvent(); ev !== undefined; ev = this.core.pollEvent()) {
      this.logEvent(ev);
      this.onEvent(ev, this.core);
      if (ev.kind === 'started') this.startedAtMs = performance.now();
      if (ev.kind === 'done') void this.finish(ev.ok);
    }
  }

  private logEvent(ev: UdpcastSenderEvent): void {
    if (ev.kind === 'dropped' || ev.kind === 'left') this.log.warn({ evt: `receiver.${ev.kind}`, ...ev }, `receiver ${ev.kind}`);
    else this.log.info({ evt: `udpcast.${ev.kind}`, ...ev }, ev.kind);
  }

  private async finish(ok: boolean): Promise<void> {
    const resolve = this.finished;
    if (resolve === undefined) return;
    this.finished = undefined;
    if (this.timer !== undefined) clearTimeout(this.timer);
    const now = performance.now();
    for (let t = this.core.pollTransmit(now); t !== undefined; t = this.core.pollTransmit(now)) {
      if (t.to !== 'rendezvous') this.main.send(t.parts, this.net.portbase, t.to);
    }
    this.main.flush();
    await this.source.close().catch(() => undefined);
    await this.main.close();
    await new Promise<void>((r) => this.rdv.close(() => r()));
    resolve({
      ok: ok && this.error === undefined,
      bytes: this.core.bytesRead,
      seconds: this.startedAtMs === undefined ? 0 : (performance.now() - this.startedAtMs) / 1000,
      receivers: this.core.receivers(),
      stats: this.core.stats,
      dataAddress: this.core.currentDataAddress,
      io: { description: this.udp.description, data: { ...this.main.stats } },
      timer: { ...this.timerStats },
      error: this.error,
      ioError: this.ioError,
    });
  }
}
