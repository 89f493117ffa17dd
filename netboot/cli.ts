#!/usr/bin/env node
// rackcast-netboot: builds the kernel + initramfs that PXE-boots a node into the clone agent,
// and the files a TFTP/HTTP server needs. Flow: commander → parse → validate → frozen config
// → buildImage (build.ts) → manifest table (or JSON).
//
// Exit codes: 0 built; 2 wrong options, a plan the agent refuses or an unusable key file;
// 3 the environment failed (a tool or package missing, the kernel download, a write).

import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CommanderError } from 'commander';
import { loadKeyFile } from '../common/auth/keys.js';
import { EXIT_IO, EXIT_OK, EXIT_USAGE, oneLine, UsageError } from '../common/errors.js';
import { type NetbootArgs, parseNetbootArgs, sourceDateEpoch } from './args.js';
import { type BuildConfig, buildImage } from './build.js';
import { formatManifest } from './manifest-format.js';
import { loadPlans } from './plans.js';

/** The installed rackcast: this file is dist/netboot/cli.js. */
const PKG_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

async function main(): Promise<number> {
  let args: NetbootArgs;
  let cfg: BuildConfig;
  try {
    args = parseNetbootArgs(process.argv.slice(2));
    const plans = await loadPlans(args.plans);
    if (args.keyFile !== undefined) await loadKeyFile(args.keyFile);
    cfg = Object.freeze({
      outDir: args.outDir,
      pkgRoot: PKG_ROOT,
      plans,
      keyFile: args.keyFile,
      compression: args.compression,
      extraModules: args.extraModules,
      kernel: args.kernel,
      cacheDir: args.cacheDir,
      cmdline: args.cmdline,
      mtimeSec: sourceDateEpoch(process.env),
      nodeBinary: process.execPath,
    });
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.exitCode === 0) return EXIT_OK; // --help
      process.stderr.write(`rackcast-netboot: ${e.message.replace(/^error: /, '')}\n`);
      return EXIT_USAGE;
    }
    process.stderr.write(`rackcast-netboot: ${oneLine(e)}\n`);
    return e instanceof UsageError ? EXIT_USAGE : EXIT_IO;
  }
  try {
    const quiet = args.json;
    const m = await buildImage(cfg, (line) => {
      if (!quiet) process.stderr.write(`rackcast-netboot: ${line}\n`);
    });
    process.stdout.write(args.json ? `${JSON.stringify(m, null, 2)}\n` : `${formatManifest(m, args.outDir)}\n`);
    return EXIT_OK;
  } catch (e) {
    process.stderr.write(`rackcast-netboot: ${oneLine(e)}\n`);
    return EXIT_IO;
  }
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`rackcast-netboot: ${oneLine(e)}\n`);
    process.exit(EXIT_IO);
  },
);
