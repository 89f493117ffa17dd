// The shared libraries an ELF file needs, as the host's dynamic loader finds them (ldd), for
// node, the real disk tools and every .node addon (lz4-napi's prebuilt addon needs librt,
// which node itself does not: without it the receiver would quietly run the TS LZ4 path).

import { runTool, ToolError } from './run.js';

/**
 * Parses ldd's output: `libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)` and the
 * loader's own `/lib64/ld-linux-x86-64.so.2 (0x...)`; the vDSO has no file. A library ldd
 * cannot find is an error: the image would fail at run time instead.
 */
export function parseLdd(output: string, what: string): string[] {
  const libs: string[] = [];
  for (const raw of output.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.includes('statically linked') || line.includes('not a dynamic executable')) continue;
    const arrow = /^(\S+)\s+=>\s+(.*)$/.exec(line);
    if (arrow !== null) {
      const target = arrow[2]!.trim();
      if (target.startsWith('not found')) throw new ToolError(`${what} needs ${arrow[1]}, which ldd cannot find on this host`);
      const path = /^(\/\S+)/.exec(target);
      if (path !== null) libs.push(path[1]!);
      continue; // "linux-vdso.so.1 =>  (0x...)" on older glibc
    }
    const bare = /^(\/\S+)\s+\(0x[0-9a-f]+\)$/.exec(line);
    if (bare !== null) libs.push(bare[1]!);
  }
  return libs;
}

/** Every library the given ELF files need, sorted and without duplicates. */
export async function sharedLibraries(elfPaths: readonly string[]): Promise<string[]> {
  const all = new Set<string>(); // bounded by the host's libraries, in practice about 30
  for (const p of elfPaths) {
    const out = await runTool('ldd', [p], { okCodes: [1] });
    for (const lib of parseLdd(out.stdout + out.stderr, p)) all.add(lib);
  }
  return [...all].sort();
}
