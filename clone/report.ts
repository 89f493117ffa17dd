// The clone, reported to the sender (CLONE_REPORT, protocol/messages/clone-report.ts): what
// the agent's summary says, in the wire's words, sent from this process on a socket of its
// own once the outcome is known — after the last step, or at the failing step when the
// image had verified (before that the sender knows already: the receiver's REPORT or LEAVE),
// and only to a sender whose HELLO asked for it (CAP_CLONE_REPORTS, udp-sender
// --clone-reports): another would not acknowledge it, and the node would wait in vain.
// The sockets are set up from the receiver's own options (parsed by receiver/args.ts from
// the same argv, sealed with the same --key-file), so the report travels the way the
// transfer's own feedback did. clone/report-core.ts decides what to
// send and when.

import { performance } from 'node:perf_hooks';
import { sealedUdpFactory } from '../common/auth/sealed-socket.js';
import { oneLine } from '../common/errors.js';
import { udpFactory } from '../common/udp/select.js';
import type { UdpSocket } from '../common/udp/socket.js';
import {
  CLONE_STEP_NAMES,
  CloneBootloader,
  CloneOutcome,
  type CloneReport,
  CloneStage,
  type CloneStepName,
  CloneTable,
  isWireHost,
  MAX_HOST_BYTES,
} from '../protocol/messages/clone-report.js';
import { parseReceiverArgs } from '../receiver/args.js';
import type { CloneLog } from './log.js';
import type { BootloaderPlan } from './plan.js';
import { CloneReporter, type ReporterOutcome } from './report-core.js';
import type { Step } from './steps.js';

/** What the report is made of: the agent's summary (clone/agent.ts CloneSummary has these). */
export interface ReportedSummary {
  readonly ok: boolean;
  readonly failedStep?: Step;
  readonly detail?: string;
  readonly host?: string;
  readonly table?: 'kept' | 'written' | 'unchanged-raw-disk';
  readonly partitions: readonly { readonly action: 'kept' | 'formatted' | 'raw-image' | 'left-empty' }[];
  readonly fixups?: unknown;
  readonly bootloader?: { readonly kind: string; readonly installed: boolean };
  readonly seconds: number;
}

/** The transfer the report belongs to: what the in-process receiver learned and was given. */
export interface ReportSession {
  readonly sessionId: number;
  readonly receiverId: number;
  readonly senderAddress: string;
  /** The udp-receiver arguments the image was received with (clone/receive.ts). */
  readonly receiverArgv: readonly string[];
}

const TABLE: Readonly<Record<NonNullable<ReportedSummary['table']>, CloneTable>> = {
  written: CloneTable.Written,
  kept: CloneTable.Kept,
  'unchanged-raw-disk': CloneTable.FromImage,
};

const BOOTLOADER: Readonly<Record<BootloaderPlan['kind'], CloneBootloader>> = {
  none: CloneBootloader.None,
  extlinux: CloneBootloader.Extlinux,
  grub: CloneBootloader.Grub,
};

/** A host name as the wire carries it: other characters dropped, at most 64. */
export function wireHost(host: string | undefined): string {
  if (host === undefined) return '';
  return isWireHost(host) ? host : host.replace(/[^A-Za-z0-9.-]/g, '').slice(0, MAX_HOST_BYTES);
}

/** The summary in the wire's words. */
export function cloneReportOf(s: ReportedSummary, bootloader: BootloaderPlan['kind'], session: Pick<ReportSession, 'sessionId' | 'receiverId'>): CloneReport {
  const failed = s.failedStep;
  const past = (step: CloneStepName): boolean => s.ok || (failed !== undefined && CLONE_STEP_NAMES.indexOf(failed) > CLONE_STEP_NAMES.indexOf(step));
  const fixups = s.fixups !== undefined ? CloneStage.Ok : failed === 'fixups' ? CloneStage.Failed : past('fixups') ? CloneStage.None : CloneStage.NotRun;
  const boot =
    s.bootloader?.installed === true
      ? CloneStage.Ok
      : s.bootloader?.kind === 'none'
        ? CloneStage.None
        : failed === 'bootloader'
          ? CloneStage.Failed
          : CloneStage.NotRun;
  return {
    sessionId: session.sessionId,
    receiverId: session.receiverId,
    outcome: s.ok ? CloneOutcome.Done : CloneOutcome.Failed,
    failedStep: s.ok || failed === undefined ? 0 : CLONE_STEP_NAMES.indexOf(failed),
    table: s.table === undefined ? CloneTable.NotReached : TABLE[s.table],
    fixups,
    bootloader: boot,
    bootloaderKind: boot === CloneStage.None ? CloneBootloader.None : BOOTLOADER[bootloader],
    partitionsFormatted: Math.min(255, s.partitions.filter((p) => p.action === 'formatted' || p.action === 'raw-image').length),
    partitionsKept: Math.min(255, s.partitions.filter((p) => p.action === 'kept').length),
    elapsedMs: Math.round(s.seconds * 1000),
    host: wireHost(s.host),
    detail: s.ok ? '' : (s.detail ?? ''),
  };
}

/**
 * Sends the report until the sender acknowledges it or `giveUpMs` passed; never throws (a
 * socket that cannot be opened is logged: the clone itself is done either way).
 */
export async function sendCloneReport(o: {
  report: CloneReport;
  session: ReportSession;
  log: CloneLog;
  giveUpMs: number;
}): Promise<ReporterOutcome | 'not-sent'> {
  const { log } = o;
  let args;
  try {
    args = parseReceiverArgs([...o.session.receiverArgv]);
  } catch (e) {
    log.line('report', `cannot report to the sender: ${oneLine(e)}`);
    return 'not-sent';
  }
  const net = args.net;
  let udp = udpFactory(net.io);
  // Two sockets: the report goes out from one of its own (an ephemeral port, where an ack
  // sent back to the report's source arrives), and the rendezvous group's, where an ack
  // sent to the group arrives; either ack counts.
  const sockets: UdpSocket[] = []; // bounded: two
  try {
    if (args.auth !== undefined) ({ udp } = await sealedUdpFactory(udp, args.auth));
    const group = udp.create({ reuseAddr: true });
    sockets.push(group);
    await group.bind(net.portbase + 1, net.rdvGroup);
    group.addMembership(net.rdvGroup, net.interfaceAddress);
    const out = udp.create({});
    sockets.push(out);
    await out.bind(0, net.interfaceAddress);
    if (net.interfaceAddress !== undefined) out.setMulticastInterface(net.interfaceAddress);
    out.setMulticastTTL(net.ttl);
    out.setMulticastLoopback(true);
  } catch (e) {
    log.line('report', `cannot report to the sender: ${oneLine(e)}`);
    for (const s of sockets) await s.close().catch(() => undefined);
    return 'not-sent';
  }
  const s = sockets[1]!;
  const now = (): number => performance.now();
  const core = new CloneReporter({ report: o.report, senderAddress: o.session.senderAddress, giveUpMs: o.giveUpMs }, now());
  const outcome = await new Promise<ReporterOutcome>((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    const turn = (): void => {
      core.handleTimeout(now());
      for (let b = core.pollTransmit(); b !== undefined; b = core.pollTransmit()) s.send([b], net.portbase + 1, net.rdvGroup);
      s.flush();
      if (core.result !== undefined) {
        if (timer !== undefined) clearTimeout(timer);
        resolve(core.result);
        return;
      }
      const at = core.pollTimeout();
      if (timer !== undefined) clearTimeout(timer);
      if (at !== undefined) timer = setTimeout(turn, Math.max(0, at - now()));
    };
    for (const sock of sockets) {
      sock.onMessage((bytes, address) => {
        core.handle(address, bytes, now());
        turn();
      });
      // A send error (no route yet) is not the end: the next copy may go.
      sock.onError(() => undefined);
    }
    turn();
  });
  for (const sock of sockets) await sock.close().catch(() => undefined);
  const sends = core.stats.sends;
  if (outcome === 'acked') log.line('report', `the sender confirmed the clone report (${sends} send${sends === 1 ? '' : 's'})`);
  else log.line('report', `the sender did not confirm the clone report (${sends} sends in ${(o.giveUpMs / 1000).toFixed(0)} s); going on`);
  return outcome;
}
