// What this machine offers the tests that need more than Node: root, and commands on the
// PATH. Tests that need them skip without, and print in one line why.

import { spawnSync } from 'node:child_process';

export const IS_ROOT = process.geteuid?.() === 0;

export function haveCommand(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}
