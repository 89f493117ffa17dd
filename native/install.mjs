// `npm install` hook: builds the native addons with node-gyp (offline: the machine's C++
// compiler and the Node headers npm points node-gyp at with `nodedir`): the Reed-Solomon
// kernels (rackcast_rs.node), the UDP I/O path (rackcast_udp.node), zstd through Debian's
// libzstd (rackcast_zstd.node, built without it when libzstd-dev is missing) and syncfs(2)
// (rackcast_sys.node).
//
// A failed build is not fatal: rackcast then runs the pure-TS coder and node:dgram, and says
// why once at start (common/fec.ts loadErasureCoder, common/udp/select.ts udpFactory). Set
// RACKCAST_REQUIRE_NATIVE=1 to make it fatal instead.
//
// node-gyp always builds into ./build; the repository's .gitignore only lists native/build/, so
// a build/.gitignore containing `*` keeps every built file out of git.

import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const required = process.env.RACKCAST_REQUIRE_NATIVE === '1';

// npm runs lifecycle scripts with its bundled node-gyp on PATH and its path in npm_config_node_gyp.
const gypJs = process.env.npm_config_node_gyp;
const [cmd, args] = gypJs ? [process.execPath, [gypJs, 'rebuild']] : ['node-gyp', ['rebuild']];
const run = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });

mkdirSync(join(root, 'build'), { recursive: true });
writeFileSync(join(root, 'build', '.gitignore'), '# Built by native/install.mjs (node-gyp); never commit.\n*\n');

if (run.status !== 0) {
  const why = run.error ? run.error.message : `node-gyp exited with ${run.status ?? run.signal}`;
  console.warn(`rackcast: the native addons (Reed-Solomon, UDP I/O, zstd, syncfs) were not built (${why}).`);
  console.warn('rackcast: FEC falls back to the pure-TypeScript coder and UDP I/O to node:dgram (correct, slower); zstd is unavailable; syncs run `sync -f`.');
  if (required) {
    console.error('rackcast: RACKCAST_REQUIRE_NATIVE=1, failing the install.');
    process.exit(1);
  }
}
