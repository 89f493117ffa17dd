// binding.gyp asks this at configure time whether libzstd can be linked: prints 1 when the
// header (zstd.h) and the link-time library (libzstd.so, both from Debian's libzstd-dev) are
// in the usual places, else 0. Then native/zstd.cc is built with or without it, so a machine
// without libzstd-dev still gets the other addons (native/zstd.ts says why zstd is missing).

import { existsSync } from 'node:fs';

const includeDirs = ['/usr/include', '/usr/local/include'];
const libDirs = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib', '/usr/local/lib'];
const header = includeDirs.some((d) => existsSync(`${d}/zstd.h`));
const lib = libDirs.some((d) => existsSync(`${d}/libzstd.so`));
process.stdout.write(header && lib ? '1' : '0');
