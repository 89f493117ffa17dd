#!/usr/bin/env node

// rackcast-clone: images this node's disk from a clone plan (docs/clone-plan.md).
//
//   rackcast-clone --plan FILE [--net-env FILE] [--set FIELD=VALUE ...] [--dry-run]
//                  [--root DIR] [--log-file FILE] [--state-dir DIR] [--no-end-action]
//                  [--partition-devices auto|loop] [--receiver-log FILE] [--report-timeout S]
//
// The boot image's /init runs it (NETBOOT-CONTRACT.md); it also runs by hand on a running
// Linux, e.g. with --dry-run to see the keep/wipe decision for a disk and every command.
// Exit codes: 0 done; 2 the plan or the options are wrong (nothing touched); 10..18 failed
// at a step (clone/steps.ts: disk 10, table 11, partition 12, mkfs 13, mount 14, receive 15,
// fixups 16, bootloader 17, finish 18); 1 an internal error. On failure it writes the plan's
// onFailure word to STATE_DIR/on-failure for /init; on success it performs onSuccess itself
// (reboot -f / poweroff -f) when it runs in an initramfs, and exits 0 otherwise.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { oneLine } from '../common/errors.js';
import { type CloneSummary, runAgent } from './agent.js';
import { CloneLog } from './log.js';
import { readNetEnv } from './net-env.js';
import { type ClonePlan, parsePlan } from './plan.js';
import { EXIT_CODES } from './steps.js';

interface Options {
  plan: string;
  netEnv?: string;
  set: string[];
  dryRun?: boolean;
  root: string;
  logFile: string;
  stateDir: string;
  endAction: boolean;
  receiverLog?: string;
  partitionDevices: 'auto' | 'loop';
  reportTimeout: string;
}

const EXIT_INTERNAL = 1;

/** The running root is an initramfs (rootfs / tmpfs at /): only then may the agent reboot or power off the machine itself. */
export function inInitramfs(): boolean {
  try {
    for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
      const f = line.split(' ');
      const sep = f.indexOf('-');
      if (f[4] === '/' && sep > 0) return f[sep + 1] === 'rootfs' || f[sep + 1] === 'ramfs' || (f[sep + 1] === 'tmpfs' && existsSync('/init'));
    }
  } catch {
    return false;
  }
  return false;
}

function program(): Command {
  return new Command('rackcast-clone')
    .description('Image this node: partition the disk, receive the root by multicast, fix identity, install a bootloader (rackcast).')
    .requiredOption('--plan <file>', 'the clone plan (JSON, docs/clone-plan.md)')
    .option('--net-env <file>', 'network facts from the boot image (IFACE, MAC, IP, HOSTNAME, ...)')
    .option(
      '--set <field=value>',
      'override a scalar field of the plan by its dotted path (repeatable)',
      (v: string, acc: string[]) => [...acc, v],
      [] as string[],
    )
    .option('--dry-run', 'print the keep/wipe decision and every command; change nothing')
    .option('--root <dir>', 'where the target root is mounted', '/run/rackcast/root')
    .option('--log-file <file>', 'the agent log', '/tmp/clone.log')
    .option('--state-dir <dir>', 'where on-failure and result.json go for /init', '/run/rackcast')
    .option('--no-end-action', 'never reboot or power off (tests, manual runs)')
    .option('--receiver-log <file>', 'JSON logs of the in-process receiver (pino)')
    .option('--report-timeout <s>', 'repeat the clone report to the sender (udp-sender --clone-reports) at most this long without its ack, then go on', '20')
    .addOption(
      new Option(
        '--partition-devices <how>',
        "auto: the kernel's partition nodes when they match the table, else loop devices by offset; loop: always loop devices",
      )
        .choices(['auto', 'loop'])
        .default('auto'),
    )
    .helpOption('-h, --help', 'show this help')
    .exitOverride()
    .configureOutput({ writeErr: () => undefined, writeOut: (s) => process.stdout.write(s) });
}

function writeState(dir: string, name: string, text: string): void {
  try {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, name), text);
  } catch {
    // /init falls back to its own default when the file is missing.
  }
}

async function main(): Promise<number> {
  let o: Options;
  try {
    const cmd = program();
    cmd.parse(process.argv.slice(2), { from: 'user' });
    o = cmd.opts<Options>();
  } catch (e) {
    const ce = e as { exitCode?: number; message?: string };
    if (ce.exitCode === 0) return 0;
    process.stdout.write(`rackcast-clone: failed at plan: ${(ce.message ?? String(e)).replace(/^error: /, '')}\n`);
    return EXIT_CODES.plan;
  }
  const log = new CloneLog(o.logFile);
  let plan: ClonePlan;
  let text: string;
  try {
    text = readFileSync(o.plan, 'utf8');
  } catch (e) {
    log.bare(`rackcast-clone: failed at plan: cannot read ${o.plan}: ${oneLine(e)}`);
    writeState(o.stateDir, 'on-failure', 'shell\n');
    return EXIT_CODES.plan;
  }
  const r = parsePlan(text, o.set);
  if (!r.ok) {
    for (const err of r.errors) log.line('plan', err);
    log.bare(`rackcast-clone: failed at plan: ${r.errors.length} error(s) in ${o.plan}, e.g. ${r.errors[0]}`);
    writeState(o.stateDir, 'on-failure', 'shell\n');
    return EXIT_CODES.plan;
  }
  plan = r.plan;
  log.line('plan', `${o.plan}: valid${o.set.length > 0 ? ` (with ${o.set.join(' ')})` : ''}${o.dryRun === true ? '; dry run: nothing will be changed' : ''}`);
  let env;
  try {
    env = readNetEnv(o.netEnv);
  } catch (e) {
    log.bare(`rackcast-clone: failed at plan: cannot read --net-env ${o.netEnv}: ${oneLine(e)}`);
    writeState(o.stateDir, 'on-failure', `${plan.onFailure}\n`);
    return EXIT_CODES.plan;
  }
  const reportTimeoutS = Number(o.reportTimeout);
  if (!/^\d+(\.\d+)?$/.test(o.reportTimeout) || reportTimeoutS > 3600) {
    log.bare(`rackcast-clone: failed at plan: --report-timeout: not a number of seconds (0..3600): "${o.reportTimeout}"`);
    return EXIT_CODES.plan;
  }
  const summary: CloneSummary = await runAgent({
    plan,
    env,
    dryRun: o.dryRun === true,
    log,
    rootDir: o.root,
    receiverLogFile: o.receiverLog,
    partitionDevices: o.partitionDevices,
    reportGiveUpMs: reportTimeoutS * 1000,
  });
  const json = JSON.stringify(summary);
  log.line('summary', json);
  if (o.dryRun !== true) writeState(o.stateDir, 'result.json', `${json}\n`);
  if (!summary.ok) {
    if (o.dryRun !== true) writeState(o.stateDir, 'on-failure', `${plan.onFailure}\n`);
    log.bare(`rackcast-clone: failed at ${summary.failedStep}: ${summary.detail}`);
    return EXIT_CODES[summary.failedStep ?? 'finish'];
  }
  if (o.dryRun === true) log.line('finish', 'dry run: nothing was changed');
  const act = o.dryRun !== true && plan.onSuccess !== 'shell' && o.endAction && inInitramfs();
  if (o.dryRun !== true && plan.onSuccess !== 'shell' && !act) {
    log.line('finish', `end action ${plan.onSuccess} not performed (${!o.endAction ? '--no-end-action' : 'not running in an initramfs'})`);
  }
  log.bare('rackcast-clone: done');
  if (act) {
    spawnSync('sync');
    // busybox's reboot/poweroff; -f: no init to ask, this is the initramfs.
    const r2 = spawnSync(plan.onSuccess, ['-f'], { stdio: 'inherit' });
    if (r2.status !== 0) process.stdout.write(`rackcast-clone: ${plan.onSuccess} -f failed (${r2.error?.message ?? `exit ${r2.status}`})\n`);
  }
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
    setImmediate(() => process.exit(code));
  },
  (e: unknown) => {
    process.stdout.write(`rackcast-clone: failed at finish: internal error: ${oneLine(e)}\n`);
    process.exit(EXIT_INTERNAL);
  },
);
