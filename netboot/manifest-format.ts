// The manifest as rackcast-netboot prints it: sizes, what takes the space, the files to serve.

import { formatBytes } from '../common/units.js';
import type { Manifest } from './build.js';

export function formatManifest(m: Manifest, outDir: string): string {
  const mb = (n: number): string => `${(n / 1e6).toFixed(1)} MB`;
  const raw = m.initrd.rawBytes;
  const lines = [
    `kernel     ${m.kernel.version} (${m.kernel.origin}), ${m.modules.length} modules`,
    `initramfs  ${mb(raw)} raw, ${m.initrd.entries} entries; ${m.initrd.compression}: ${mb(m.initrd.compressedBytes)} (${formatBytes(m.initrd.compressedBytes)}) in ${(m.initrd.writeMs / 1000).toFixed(1)} s`,
    `           sha256 ${m.initrd.sha256}`,
    'what takes the space (unpacked):',
  ];
  const parts = Object.entries(m.parts).sort((a, b) => b[1] - a[1]);
  for (const [part, bytes] of parts) lines.push(`  ${part.padEnd(9)} ${mb(bytes).padStart(9)}  ${((100 * bytes) / raw).toFixed(1).padStart(5)}%`);
  lines.push('largest entries:');
  for (const t of m.top.slice(0, 10)) lines.push(`  ${mb(t.bytes).padStart(9)}  ${t.part.padEnd(9)} ${t.path}`);
  lines.push(`files in ${outDir}:`);
  for (const f of m.files) lines.push(`  ${f.name.padEnd(22)} ${String(f.bytes).padStart(10)}  ${f.sha256.slice(0, 16)}`);
  lines.push(
    `  manifest.json (this, as JSON); plans: ${m.plans.join(', ')}; key embedded: ${m.keyEmbedded ? 'yes' : 'no'}; built in ${(m.buildMs / 1000).toFixed(1)} s`,
  );
  return lines.join('\n');
}
