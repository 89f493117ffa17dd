// What the operator and an orchestrator see while udp-sender runs: on a terminal the live
// table (sender/live-table.ts) with messages printed above it, and with --events the JSON
// lines (sender/events-log.ts). It reads the core between turns (the driver's onEvent and a
// ticker) and never changes it.

import { CatchUpWhy } from '../protocol/messages/catch-up.js';
import { IMAGE_BYTES_UNKNOWN } from '../protocol/messages/hello.js';
import type { SenderCore, SenderEvent } from './core.js';
import { type EventsLog, nodeFields, PROGRESS_EVERY_MS } from './events-log.js';
import { LiveTable, renderTable } from './live-table.js';
import { hex } from './log-events.js';
import { CATCH_UP_WHY_NAMES, missingView, type NodeView, nodeView, slowestFirst } from './node-view.js';

const round2 = (x: number): number => Number(x.toFixed(2));

/** The table is redrawn this often. */
const DRAW_EVERY_MS = 500;

export class Monitor {
  private readonly table: LiveTable | undefined;
  private startedAtMs: number | undefined;
  private ticker: NodeJS.Timeout | undefined;
  private lastProgressMs = 0;
  private sent = { atMs: 0, bytes: 0, bps: undefined as number | undefined };

  constructor(
    private readonly core: () => SenderCore,
    private readonly imageBytes: number,
    private readonly events: EventsLog | undefined,
    /** stderr when it is a terminal: the live table; undefined: messages only. */
    tty: NodeJS.WriteStream | undefined,
  ) {
    this.table = tty === undefined ? undefined : new LiveTable(tty);
  }

  start(): void {
    this.ticker = setInterval(() => this.tick(performance.now()), DRAW_EVERY_MS);
    this.ticker.unref();
  }

  /** A line for the operator: above the table on a terminal, plainly on stderr otherwise. */
  message(line: string): void {
    if (this.table !== undefined) this.table.print(line);
    else process.stderr.write(`${line}\n`);
  }

  /** Every node as it stands: the receivers, and the listed hosts that have none. */
  nodes(): NodeView[] {
    const core = this.core();
    const o = {
      imageBytes: this.imageBytes,
      announcing: core.currentPhase === 'announcing',
      startedAtMs: this.startedAtMs,
    };
    const views = core.receiverList().map((r) => nodeView(r, o));
    for (const h of core.hostList()) if (h.receiverIds.length === 0) views.push(missingView(h.host));
    return views;
  }

  /** A core event, as it comes out of the driver. */
  onEvent(ev: SenderEvent, now: number): void {
    const e = this.events;
    const core = this.core();
    const node = (id: number) => {
      const r = core.receiverList().find((x) => x.id === id);
      return r === undefined ? { id: hex(id) } : nodeFields(nodeView(r, { imageBytes: this.imageBytes, announcing: false, startedAtMs: this.startedAtMs }));
    };
    switch (ev.kind) {
      case 'joined':
        e?.emit('join', { id: hex(ev.receiverId), address: ev.address, host: ev.host, late: ev.joinSlice > 0 || undefined }, now);
        break;
      case 'started':
        this.startedAtMs = now;
        e?.emit('start', { receivers: ev.receivers, windowPackets: ev.windowPackets }, now);
        break;
      case 'startTimedOut':
        e?.emit('start-timeout', { receivers: ev.receivers }, now);
        break;
      case 'dropped':
        e?.emit('dropped', node(ev.receiverId), now);
        break;
      case 'left':
        e?.emit('failed', { ...node(ev.receiverId), left: true }, now);
        break;
      case 'reported':
        e?.emit(ev.ok ? 'verified' : 'failed', node(ev.receiverId), now);
        break;
      case 'ending':
        e?.emit('sent', { bytes: ev.totalBytes, slices: ev.totalSlices }, now);
        break;
      case 'pass':
        e?.emit('pass', { pass: ev.pass }, now);
        break;
      case 'movedToCatchUp':
        // A late receiver that takes the image in order is not slow: its 'catch-up' line comes when the pass begins.
        if (ev.why === CatchUpWhy.LateInOrder) break;
        e?.emit(
          'slow',
          {
            ...node(ev.receiverId),
            why: CATCH_UP_WHY_NAMES[ev.why],
            MBps: round2(ev.rateBps / 1e6),
            paceMBps: ev.paceBps > 0 ? round2(ev.paceBps / 1e6) : undefined,
          },
          now,
        );
        break;
      case 'catchUpBegan':
        e?.emit('catch-up', node(ev.receiverId), now);
        break;
      case 'done':
        for (const h of core.hostList()) if (h.receiverIds.length === 0) e?.emit('missing', { host: h.host.name, address: h.host.addresses.join(',') }, now);
        e?.emit('done', { ok: ev.ok }, now);
        break;
    }
  }

  private tick(now: number): void {
    const core = this.core();
    if (now - this.sent.atMs >= 1000) {
      const bytes = core.stats.dataBytes;
      if (this.sent.atMs > 0) this.sent.bps = ((bytes - this.sent.bytes) * 1000) / (now - this.sent.atMs);
      this.sent = { atMs: now, bytes, bps: this.sent.bps };
    }
    if (this.events !== undefined && this.startedAtMs !== undefined && now - this.lastProgressMs >= PROGRESS_EVERY_MS) {
      this.lastProgressMs = now;
      for (const v of this.nodes()) {
        if (v.state === 'live' || v.state === 'catch-up' || v.state === 'verifying') this.events.emit('progress', nodeFields(v), now);
      }
    }
    this.draw(now);
  }

  private draw(now: number): void {
    if (this.table === undefined) return;
    const core = this.core();
    const s = core.stats;
    const lines = renderTable(
      {
        phase: core.currentPhase,
        bytesRead: core.bytesRead,
        imageBytes: this.imageBytes === IMAGE_BYTES_UNKNOWN ? undefined : this.imageBytes,
        sendBps: this.sent.bps,
        repairShare: s.dataPackets > 0 ? s.repairPackets / s.dataPackets : 0,
        seconds: this.startedAtMs === undefined ? 0 : (now - this.startedAtMs) / 1000,
      },
      this.nodes().sort(slowestFirst),
      this.table.size,
    );
    this.table.draw(lines);
  }

  /** The run is over: the last table stays, the ticker stops. */
  stop(): void {
    if (this.ticker !== undefined) clearInterval(this.ticker);
    this.ticker = undefined;
    this.draw(performance.now());
    this.table?.end();
  }
}
