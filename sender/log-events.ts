// How the driver logs the core's events: one pino record per SenderEvent, with a stable
// `evt` name and receiver ids as 8 hex digits. Events without a case here are not logged.

import type { Logger } from 'pino';
import { reasonName } from '../protocol/reasons.js';
import type { SenderEvent, SenderStats } from './core.js';

export function logSenderEvent(log: Logger, ev: SenderEvent, stats: SenderStats): void {
  switch (ev.kind) {
    case 'joined':
      log.info(
        { evt: 'receiver.joined', rcv: hex(ev.receiverId), address: ev.address, host: ev.host, rcvbuf: ev.rcvBufBytes, joinSlice: ev.joinSlice },
        ev.joinSlice > 0 ? 'receiver joined late' : 'receiver joined',
      );
      break;
    case 'started':
      log.info({ evt: 'transfer.start', receivers: ev.receivers, window: ev.windowPackets }, 'transfer started');
      break;
    case 'startTimedOut':
      log.warn({ evt: 'start.timeout', receivers: ev.receivers }, 'not started before --start-timeout');
      break;
    case 'dropped':
      log.warn({ evt: 'receiver.dropped', rcv: hex(ev.receiverId), reason: reasonName(ev.reason), detail: ev.detail }, 'receiver dropped');
      break;
    case 'left':
      log.warn({ evt: 'receiver.left', rcv: hex(ev.receiverId), reason: reasonName(ev.reason), detail: ev.detail }, 'receiver left');
      break;
    case 'reported':
      log.info({ evt: 'receiver.report', rcv: hex(ev.receiverId), ok: ev.ok, detail: ev.detail }, 'receiver reported');
      break;
    case 'ending':
      log.info({ evt: 'transfer.sent', bytes: ev.totalBytes, slices: ev.totalSlices }, 'image sent once');
      break;
    case 'clone-reported': {
      const r = ev.report;
      log.info(
        {
          evt: 'receiver.clone',
          rcv: hex(ev.receiverId),
          host: r.host,
          outcome: r.outcome,
          failedStep: r.failedStep,
          table: r.table,
          fixups: r.fixups,
          bootloader: r.bootloader,
          detail: r.detail,
        },
        'clone reported',
      );
      break;
    }
    case 'pass':
      log.info({ evt: 'transfer.pass', pass: ev.pass }, 'carousel: the image again');
      break;
    case 'done':
      log.info({ evt: 'transfer.done', ok: ev.ok, stats }, 'transfer done');
      break;
  }
}

export function hex(id: number): string {
  return id.toString(16).padStart(8, '0');
}
