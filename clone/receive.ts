// The image, received in this process with the receiver's own code (receiver/driver.ts and
// its sinks): the plan's receiver options become udp-receiver arguments and go through the
// receiver's own parser (receiver/args.ts), so the agent and `udp-receiver` take the same
// options the same way and stay in step when they change. --unpack into the mounted root,
// or --file onto a partition or the whole disk, with the same verification as the CLI (the
// cpio unpacker's .rackcast-incomplete marker stays unless everything verified).
// In-process rather than spawning the CLI: one Node start less on a slow node, and the
// outcome (verified, digest, bytes, failure reason) arrives as an object, not as text.

import { sealedUdpFactory } from '../common/auth/sealed-socket.js';
import { oneLine } from '../common/errors.js';
import { loadErasureCoder } from '../common/fec.js';
import { kernelCountersLine, readKernelCounters } from '../common/kernel-counters.js';
import { makeLogger } from '../common/log.js';
import { udpFactory } from '../common/udp/select.js';
import { reasonName } from '../protocol/reasons.js';
import { parseReceiverArgs } from '../receiver/args.js';
import { ReceiverDriver, type ReceiverOutcome } from '../receiver/driver.js';
import { openSink } from '../receiver/sink.js';
import type { CloneLog } from './log.js';
import type { ReceiverPlan } from './plan.js';
import { StepError } from './steps.js';

export interface ReceiveSummary {
  verified: boolean;
  /** The session and the id this node joined it with (0 in a dry run): what its clone report names. */
  sessionId: number;
  receiverId: number;
  /** The sender's HELLO asked for a clone report (udp-sender --clone-reports). */
  cloneReports: boolean;
  bytes: number;
  digest: string;
  sender: string;
  seconds: number;
  format?: string;
  outBytes?: number;
}

/** The udp-receiver arguments the plan's receiver options stand for. */
export function receiverArgv(r: ReceiverPlan, iface: string | undefined, target: { unpack: string } | { file: string }): string[] {
  const a = ['--portbase', String(r.portbase), '--mcast-rdv-address', r.rdvAddress, '--receive-timeout', String(r.receiveTimeoutS)];
  const i = r.interface ?? iface;
  if (i !== undefined && i !== '') a.push('--interface', i);
  if (r.startTimeoutS !== undefined) a.push('--start-timeout', String(r.startTimeoutS));
  if (r.keyFile !== undefined) a.push('--key-file', r.keyFile);
  if (r.encrypt) a.push('--encrypt');
  if ('unpack' in target) a.push('--unpack', target.unpack);
  else a.push('--file', target.file);
  return a;
}

export async function receiveImage(opts: { argv: string[]; log: CloneLog; logFile?: string }): Promise<ReceiveSummary> {
  const { log } = opts;
  let args;
  try {
    args = parseReceiverArgs(opts.argv);
  } catch (e) {
    throw new StepError('receive', `receiver options: ${oneLine(e)}`);
  }
  let udp = udpFactory(args.net.io);
  if (args.auth !== undefined) {
    try {
      ({ udp } = await sealedUdpFactory(udp, args.auth));
    } catch (e) {
      throw new StepError('receive', oneLine(e));
    }
  }
  const fec = loadErasureCoder();
  const plog = await makeLogger(opts.logFile, 'receiver');
  let warnings = 0;
  const sink = await openSink({ file: args.file, pipe: undefined, unpack: args.unpack, decompress: args.decompress, warn: () => warnings++ }).catch(
    (e: unknown) => {
      throw new StepError('receive', oneLine(e));
    },
  );
  log.line('receive', `waiting for the sender on port ${args.net.portbase} (group ${args.net.rdvGroup}, ${udp.description}) into ${sink.description}`);
  let sessionId = 0;
  let cloneReports = false;
  const driver = new ReceiverDriver({ ...args.core, coder: fec.coder }, args.net, udp, sink, plog, (ev) => {
    if (ev.kind === 'session') ({ sessionId, cloneReports } = ev);
    if (ev.kind === 'session') log.line('receive', `session from ${ev.sender}${ev.imageBytes >= 0 ? `, ${ev.imageBytes} bytes` : ''}`);
    if (ev.kind === 'started') log.line('receive', 'transfer started');
    if (ev.kind === 'dataSilent')
      log.line('receive', `no DATA for ${(ev.silentMs / 1000).toFixed(1)} s while the sender asks about DATA we never saw: joining the data group again`);
  });
  const kernelBefore = readKernelCounters();
  let out;
  try {
    out = await driver.run();
  } catch (e) {
    await sink.discard();
    throw new StepError('receive', oneLine(e));
  }
  const rep = sink.report();
  // What the receiver saw, in the log either way: when a node stalls, the first question is
  // whether its data socket heard anything at all.
  log.line('receive', receiverCounters(out));
  // And what the kernel dropped before the receiver could read it (a full socket buffer, a
  // bad checksum) or what never reached the NIC at all.
  const kernel = kernelCountersLine(kernelBefore, readKernelCounters());
  if (kernel !== '') log.line('receive', kernel);
  if (!out.ok) throw new StepError('receive', `the image did not verify: ${out.detail || reasonName(out.reason)}`);
  if (warnings > 0) log.line('receive', `${warnings} warning(s) while unpacking (entries skipped)`);
  return {
    verified: true,
    sessionId,
    receiverId: out.receiverId,
    cloneReports,
    bytes: out.bytes,
    digest: out.digest,
    sender: out.sender,
    seconds: out.seconds,
    format: rep.decompress?.format,
    outBytes: rep.decompress?.outBytes,
  };
}

/** One line of the receiver's counters: what its data socket read, what the core took and sent, what it dropped and why. */
export function receiverCounters(out: Pick<ReceiverOutcome, 'stats' | 'io'>): string {
  const s = out.stats;
  const drops = Object.entries(s.drops)
    .filter(([, n]) => (n ?? 0) > 0)
    .map(([code, n]) => `${code} ${n}`);
  return (
    `receiver counters: the data socket read ${out.io.data.datagramsReceived} datagrams (${out.io.placed} placed); ` +
    `${s.dataPackets} DATA and ${s.parityPackets} parity taken, ${s.duplicates} duplicates, ${s.decodedBlocks + s.resentBlocks} blocks repaired; ` +
    `sent ${s.naksSent} NAKs, ${s.statusSent} STATUS, ${s.heartbeatsSent} heartbeats; heard ${s.naksHeard} NAKs and ${s.othersFeedback} other feedback of other receivers; ` +
    `${s.beforeAccept} let by before our ACCEPT; dropped ${drops.length > 0 ? drops.join(', ') : 'nothing'}`
  );
}
