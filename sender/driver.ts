// The sender's driver: owns the socket, the one timer, the source and the keyboard,
// and runs the loop: feed events → drain transmits → re-arm the timer at pollTimeout().
// It makes no protocol decisions.

import { createHash } from 'node:crypto';
import dgram from 'node:dgram';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { IoError, oneLine } from '../common/errors.js';
import { fullSliceBytes } from '../protocol/geometry.js';
import { reasonName } from '../protocol/reasons.js';
import { SenderCore, type ReceiverRecord, type SenderConfig, type SenderEvent, type SenderStats } from './core.js';
import type { Source } from './source.js';

export interface SenderNetConfig {
  /** Local IPv4 address to send from and join on; undefined: the kernel's choice. */
  readonly interfaceAddress: string | undefined;
  readonly rdvGroup: string;
  readonly portbase: number;
  readonly ttl: number;
}

export interface SenderOutcome {
  readonly ok: boolean;
  readonly bytes: number;
  readonly seconds: number;
  readonly digest: string;
  readonly receivers: readonly Readonly<ReceiverRecord>[];
  readonly stats: SenderStats;
  readonly windowPackets: number;
  readonly error?: string;
}

/** Sends at most this many datagrams per turn of the event loop, so incoming feedback is read in between. */
const SENDS_PER_TURN = 256;
/** Datagrams queued in libuv (kernel buffer full) before the loop waits for them to go. */
const MAX_SEND_QUEUE = 64;

export class SenderDriver {
  /** Control: bound to portbase+1 in the rendezvous group; hears the receivers. */
  private readonly socket: dgram.Socket;
  /**
   * Data: connected to the data group, so a send does no address lookup (dgram resolves
   * the address of every unconnected send, on a nextTick) and takes no per-send callback.
   */
  private readonly dataSocket: dgram.Socket;
  private readonly core: SenderCore;
  private readonly hash = createHash('sha256');
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private reading = false;
  private sourceDone = false;
  private sendWaiting = false;
  private startedAtMs: number | undefined;
  private digestHex = '';
  private error: string | undefined;
  private finished: ((o: SenderOutcome) => void) | undefined;
  private windowPackets = 0;

  constructor(
    private readonly cfg: Readonly<SenderConfig>,
    private readonly net: Readonly<SenderNetConfig>,
    private readonly source: Source,
    private readonly log: Logger,
    private readonly onEvent: (ev: SenderEvent, core: SenderCore) => void = () => undefined,
  ) {
    this.core = new SenderCore(cfg, this.now());
    this.socket = dgram.createSocket({ type: 'udp4', reuseAddr: true });
    this.dataSocket = dgram.createSocket({ type: 'udp4' });
  }

  private now(): number {
    return performance.now();
  }

  get sender(): SenderCore {
    return this.core;
  }

  async run(): Promise<SenderOutcome> {
    await this.openSocket();
    const done = new Promise<SenderOutcome>((resolve) => {
      this.finished = resolve;
    });
    this.socket.on('message', (msg, rinfo) => {
      this.core.handle({ kind: 'datagram', from: { address: rinfo.address, port: rinfo.port }, bytes: msg }, this.now());
      this.kick();
    });
    this.socket.on('error', (e) => this.fail(`socket: ${oneLine(e)}`));
    this.dataSocket.on('error', (e) => this.fail(`data socket: ${oneLine(e)}`));
    this.kick();
    return done;
  }

  /** Enter on the terminal. */
  start(): void {
    this.core.handle({ kind: 'start' }, this.now());
    this.kick();
  }

  abort(detail: string): void {
    this.error ??= detail;
    this.core.handle({ kind: 'abort', detail }, this.now());
    this.kick();
  }

  private fail(detail: string): void {
    this.log.error({ evt: 'sender.error', detail }, detail);
    this.abort(detail);
  }

  private async openSocket(): Promise<void> {
    const s = this.socket;
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.bind(this.net.portbase + 1, () => {
        s.off('error', reject);
        resolve();
      });
    }).catch((e: unknown) => {
      throw new IoError(`cannot bind UDP port ${this.net.portbase + 1}: ${oneLine(e)}`);
    });
    try {
      s.addMembership(this.net.rdvGroup, this.net.interfaceAddress);
      if (this.net.interfaceAddress !== undefined) s.setMulticastInterface(this.net.interfaceAddress);
      s.setMulticastTTL(this.net.ttl);
      // Receivers on this same host must hear us too.
      s.setMulticastLoopback(true);
      s.setSendBufferSize(4 << 20);
      s.setRecvBufferSize(4 << 20);
    } catch (e) {
      throw new IoError(`cannot set up multicast on ${this.net.interfaceAddress ?? 'the default interface'}: ${oneLine(e)}`);
    }
    const d = this.dataSocket;
    await new Promise<void>((resolve, reject) => {
      d.once('error', reject);
      d.bind(0, this.net.interfaceAddress, () => {
        d.connect(this.cfg.dataPort, this.cfg.dataGroup, () => {
          d.off('error', reject);
          resolve();
        });
      });
    }).catch((e: unknown) => {
      throw new IoError(`cannot open the data socket to ${this.cfg.dataGroup}:${this.cfg.dataPort}: ${oneLine(e)}`);
    });
    try {
      if (this.net.interfaceAddress !== undefined) d.setMulticastInterface(this.net.interfaceAddress);
      d.setMulticastTTL(this.net.ttl);
      d.setMulticastLoopback(true);
      d.setSendBufferSize(4 << 20);
    } catch (e) {
      throw new IoError(`cannot set up the data socket: ${oneLine(e)}`);
    }
    this.log.info(
      {
        evt: 'socket.open',
        port: this.net.portbase + 1,
        sndbuf: d.getSendBufferSize(),
        rcvbuf: s.getRecvBufferSize(),
        interface: this.net.interfaceAddress,
      },
      'socket open',
    );
  }

  /** Runs the loop soon (coalesced), from any callback. */
  private kick(): void {
    if (this.immediate !== undefined) return;
    this.immediate = setImmediate(() => {
      this.immediate = undefined;
      this.turn();
    });
  }

  private turn(): void {
    let now = this.now();
    // A turn that runs at or after the core's deadline is its timeout too (arm() kicks
    // instead of setting a 0 ms timer).
    const due = this.core.pollTimeout();
    if (due !== undefined && due <= now) this.core.handleTimeout(now);
    this.drainEvents();
    if (this.finished === undefined) return;
    let sent = 0;
    while (!this.sendWaiting && sent < SENDS_PER_TURN) {
      const t = this.core.pollTransmit(now);
      if (t === undefined) break;
      sent++;
      if (t.to === 'control') {
        this.socket.send(t.parts as Uint8Array[], this.net.portbase + 1, this.net.rdvGroup, this.onSent);
      } else if (this.dataSocket.getSendQueueCount() >= MAX_SEND_QUEUE) {
        // The kernel's buffer is full: wait until this one goes, then carry on.
        this.sendWaiting = true;
        this.dataSocket.send(t.parts as Uint8Array[], (e) => {
          this.sendWaiting = false;
          if (e) this.log.warn({ evt: 'send.error', err: oneLine(e) }, 'send failed');
          this.kick();
        });
      } else {
        this.dataSocket.send(t.parts as Uint8Array[]);
      }
      if ((sent & 31) === 0) now = this.now();
    }
    this.feedSource();
    this.drainEvents();
    if (this.finished === undefined) return;
    if (sent === SENDS_PER_TURN) {
      this.kick();
      return;
    }
    this.arm();
  }

  private readonly onSent = (e: Error | null): void => {
    if (e) this.log.warn({ evt: 'send.error', err: oneLine(e) }, 'send failed');
  };

  /** The one timer, re-armed at the core's next deadline. */
  private arm(): void {
    const t = this.core.pollTimeout();
    if (t === undefined) return;
    const delay = Math.max(0, t - this.now());
    if (delay <= 0) {
      this.kick();
      return;
    }
    if (this.timer === undefined) {
      this.timer = setTimeout(this.onTimer, delay);
    } else {
      clearTimeout(this.timer);
      this.timer = setTimeout(this.onTimer, delay);
    }
  }

  private readonly onTimer = (): void => {
    this.timer = undefined;
    this.core.handleTimeout(this.now());
    this.turn();
  };

  private feedSource(): void {
    if (this.reading || this.sourceDone || !this.core.wantsSlice()) return;
    this.reading = true;
    const n = fullSliceBytes({ blockBytes: this.cfg.blockBytes, sliceBlocks: this.cfg.sliceBlocks, stripes: 1, imageBytes: 0 });
    this.source.read(n).then(
      (buf) => {
        this.reading = false;
        const now = this.now();
        if (buf === null) {
          this.sourceDone = true;
          const digest = this.hash.digest();
          this.digestHex = digest.toString('hex');
          this.core.handle({ kind: 'eof', digest }, now);
        } else {
          this.hash.update(buf);
          this.core.handle({ kind: 'slice', bytes: buf }, now);
        }
        this.kick();
      },
      (e: unknown) => {
        this.reading = false;
        this.sourceDone = true;
        this.fail(oneLine(e));
      },
    );
  }

  private drainEvents(): void {
    for (let ev = this.core.pollEvent(); ev !== undefined; ev = this.core.pollEvent()) {
      this.logEvent(ev);
      this.onEvent(ev, this.core);
      if (ev.kind === 'started') {
        this.startedAtMs = this.now();
        this.windowPackets = ev.windowPackets;
      }
      if (ev.kind === 'done') void this.finish(ev.ok);
    }
  }

  private logEvent(ev: SenderEvent): void {
    switch (ev.kind) {
      case 'joined':
        this.log.info({ evt: 'receiver.joined', rcv: hex(ev.receiverId), address: ev.address, rcvbuf: ev.rcvBufBytes }, 'receiver joined');
        break;
      case 'started':
        this.log.info({ evt: 'transfer.start', receivers: ev.receivers, window: ev.windowPackets }, 'transfer started');
        break;
      case 'dropped':
        this.log.warn({ evt: 'receiver.dropped', rcv: hex(ev.receiverId), reason: reasonName(ev.reason), detail: ev.detail }, 'receiver dropped');
        break;
      case 'left':
        this.log.warn({ evt: 'receiver.left', rcv: hex(ev.receiverId), reason: reasonName(ev.reason), detail: ev.detail }, 'receiver left');
        break;
      case 'reported':
        this.log.info({ evt: 'receiver.report', rcv: hex(ev.receiverId), ok: ev.ok, detail: ev.detail }, 'receiver reported');
        break;
      case 'ending':
        this.log.info({ evt: 'transfer.sent', bytes: ev.totalBytes, slices: ev.totalSlices }, 'image sent once');
        break;
      case 'done':
        this.log.info({ evt: 'transfer.done', ok: ev.ok, stats: this.core.stats }, 'transfer done');
        break;
    }
  }

  /** Flushes the last control datagrams (REPORT_ACK, DROP), then closes and resolves. */
  private async finish(ok: boolean): Promise<void> {
    const resolve = this.finished;
    if (resolve === undefined) return;
    this.finished = undefined;
    if (this.timer !== undefined) clearTimeout(this.timer);
    const now = this.now();
    for (let t = this.core.pollTransmit(now); t !== undefined; t = this.core.pollTransmit(now)) {
      if (t.to === 'data') continue; // the transfer is over: only control matters now
      await new Promise<void>((r) => this.socket.send(t.parts as Uint8Array[], this.net.portbase + 1, this.net.rdvGroup, () => r()));
    }
    await this.source.close().catch(() => undefined);
    await new Promise<void>((r) => this.socket.close(() => r()));
    await new Promise<void>((r) => this.dataSocket.close(() => r()));
    const end = this.now();
    resolve({
      ok: ok && this.error === undefined,
      bytes: this.core.bytesRead,
      seconds: this.startedAtMs === undefined ? 0 : (end - this.startedAtMs) / 1000,
      digest: this.digestHex,
      receivers: this.core.receiverList(),
      stats: this.core.stats,
      windowPackets: this.windowPackets,
      error: this.error,
    });
  }
}

export function hex(id: number): string {
  return id.toString(16).padStart(8, '0');
}
