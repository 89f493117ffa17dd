// The clone agent's report to the sender: the summary in the wire's words (clone/report.ts)
// and the sans-IO repeat-until-acked core (clone/report-core.ts), on explicit `now`.

import { describe, expect, it } from 'vitest';
import { cloneReportOf, type ReportedSummary, wireHost } from '../../../clone/report.js';
import { CloneReporter, DEFAULT_GIVE_UP_MS } from '../../../clone/report-core.js';
import { decodeDatagram } from '../../../protocol/codec.js';
import { CLONE_STEP_NAMES, CloneBootloader, CloneOutcome, type CloneReport, CloneStage, CloneTable } from '../../../protocol/messages/clone-report.js';
import { cloneReportAckBytes, OTHER_SESSION, reportAckBytes, SESSION } from '../../support/datagrams.js';

const SENDER = '198.18.0.1';
const ID = 0x1234;

const DONE: ReportedSummary = {
  ok: true,
  host: 'node07',
  table: 'written',
  partitions: [{ action: 'formatted' }, { action: 'formatted' }, { action: 'kept' }],
  fixups: {},
  bootloader: { kind: 'extlinux', installed: true },
  seconds: 12.5,
};

describe('cloneReportOf', () => {
  it('a whole clone done: host, table written, partitions counted, fixups ok, extlinux installed', () => {
    expect(cloneReportOf(DONE, 'extlinux', { sessionId: SESSION, receiverId: ID })).toEqual({
      sessionId: SESSION,
      receiverId: ID,
      outcome: CloneOutcome.Done,
      failedStep: 0,
      table: CloneTable.Written,
      fixups: CloneStage.Ok,
      bootloader: CloneStage.Ok,
      bootloaderKind: CloneBootloader.Extlinux,
      partitionsFormatted: 2,
      partitionsKept: 1,
      elapsedMs: 12_500,
      host: 'node07',
      detail: '',
    });
  });

  it('failed at the bootloader after the fixups: the step, its line, the bootloader failed', () => {
    const r = cloneReportOf({ ...DONE, ok: false, failedStep: 'bootloader', detail: 'the image has no kernel at /boot/x', bootloader: undefined }, 'extlinux', {
      sessionId: SESSION,
      receiverId: ID,
    });
    expect(r).toMatchObject({
      outcome: CloneOutcome.Failed,
      failedStep: CLONE_STEP_NAMES.indexOf('bootloader'),
      fixups: CloneStage.Ok,
      bootloader: CloneStage.Failed,
      detail: 'the image has no kernel at /boot/x',
    });
  });

  it('failed at the fixups: the bootloader did not run; no root (no fixups) and bootloader none', () => {
    const f = cloneReportOf(
      { ...DONE, ok: false, failedStep: 'fixups', detail: 'no ssh-keygen', fixups: undefined, bootloader: undefined, host: undefined },
      'grub',
      { sessionId: 1, receiverId: 2 },
    );
    expect(f).toMatchObject({ fixups: CloneStage.Failed, bootloader: CloneStage.NotRun, bootloaderKind: CloneBootloader.Grub, host: '' });
    const n = cloneReportOf({ ...DONE, table: 'unchanged-raw-disk', fixups: undefined, bootloader: { kind: 'none', installed: false } }, 'none', {
      sessionId: 1,
      receiverId: 2,
    });
    expect(n).toMatchObject({ table: CloneTable.FromImage, fixups: CloneStage.None, bootloader: CloneStage.None, bootloaderKind: CloneBootloader.None });
  });

  it('a host name the wire cannot carry loses the characters it cannot carry', () => {
    expect(wireHost('node_07 x')).toBe('node07x');
    expect(wireHost('n'.repeat(80))).toHaveLength(64);
    expect(wireHost(undefined)).toBe('');
  });
});

function reporter(now = 0, giveUpMs = DEFAULT_GIVE_UP_MS): CloneReporter {
  const report: CloneReport = cloneReportOf(DONE, 'extlinux', { sessionId: SESSION, receiverId: ID });
  return new CloneReporter({ report, senderAddress: SENDER, giveUpMs }, now);
}

/** The times (ms) copies go out when nobody acks, driving the core as a driver would. */
function sendTimes(r: CloneReporter): number[] {
  const at: number[] = [];
  for (let now = 0, guard = 0; r.result === undefined && guard < 1000; guard++) {
    r.handleTimeout(now);
    if (r.pollTransmit() !== undefined) at.push(now);
    const t = r.pollTimeout();
    if (t === undefined) break;
    now = t;
  }
  return at;
}

describe('CloneReporter', () => {
  it('sends the report at once, then after 250 ms, 500 ms, 1 s, 2 s and every 4 s, and gives up after giveUpMs', () => {
    const r = reporter();
    expect(sendTimes(r)).toEqual([0, 250, 750, 1750, 3750, 7750, 11750, 15750, 19750]);
    expect(r.result).toBe('unconfirmed');
    expect(r.pollTimeout()).toBeUndefined();
    expect(r.stats.sends).toBe(9);
  });

  it('the copy sent is the CLONE_REPORT of the summary', () => {
    const r = reporter();
    const b = r.pollTransmit()!;
    const m = decodeDatagram(b);
    expect(m.ok && m.value.type === 14 && m.value.msg).toMatchObject({ receiverId: ID, host: 'node07', sessionId: SESSION });
    expect(r.pollTransmit()).toBeUndefined();
  });

  it('stops on the sender ack; the next copy is not sent at its time', () => {
    const r = reporter();
    r.pollTransmit();
    r.handle(SENDER, cloneReportAckBytes(ID), 100);
    expect(r.result).toBe('acked');
    r.handleTimeout(250);
    expect(r.pollTransmit()).toBeUndefined();
    expect(r.pollTimeout()).toBeUndefined();
  });

  it('no resend at 249 ms, one at 250 ms', () => {
    const r = reporter();
    r.pollTransmit();
    r.handleTimeout(249);
    expect(r.pollTransmit()).toBeUndefined();
    r.handleTimeout(250);
    expect(r.pollTransmit()).toBeDefined();
  });

  it('an ack from another address, another session, for another receiver, or a REPORT_ACK is not ours', () => {
    const r = reporter();
    r.handle('198.18.0.99', cloneReportAckBytes(ID), 1);
    r.handle(SENDER, cloneReportAckBytes(ID, OTHER_SESSION), 1);
    r.handle(SENDER, cloneReportAckBytes(ID + 1), 1);
    // A late copy of the transfer's own REPORT_ACK must not pass for the clone's.
    r.handle(SENDER, reportAckBytes(ID), 1);
    r.handle(SENDER, new Uint8Array([1, 2, 3]), 1);
    expect(r.result).toBeUndefined();
    expect(r.stats.drops).toEqual({ ERR_WRONG_SENDER: 1, ERR_WRONG_SESSION: 1, ERR_TRUNCATED: 1 });
  });
});
