// The builder's readers of host tool output (ldd, modprobe --show-depends, apt-cache show)
// and its option parsing, on fixed text.

import { describe, expect, it } from 'vitest';
import { parseNetbootArgs, sourceDateEpoch } from '../../../netboot/args.js';
import { parseMetaDepends } from '../../../netboot/kernel.js';
import { parseLdd } from '../../../netboot/ldd.js';
import { moduleName, parseShowDepends } from '../../../netboot/modules.js';

describe('parseLdd', () => {
  it('takes the resolved paths and the loader, not the vDSO', () => {
    const out = [
      '\tlinux-vdso.so.1 (0x00007ffd1b5f2000)',
      '\tlibdl.so.2 => /lib/x86_64-linux-gnu/libdl.so.2 (0x00007f79d9b66000)',
      '\tlibrt.so.1 => /lib/x86_64-linux-gnu/librt.so.1 (0x00007f9cb588f000)',
      '\t/lib64/ld-linux-x86-64.so.2 (0x00007f79d9b7f000)',
    ].join('\n');
    expect(parseLdd(out, 'x')).toEqual(['/lib/x86_64-linux-gnu/libdl.so.2', '/lib/x86_64-linux-gnu/librt.so.1', '/lib64/ld-linux-x86-64.so.2']);
  });
  it('a static binary needs nothing; a library ldd cannot find fails', () => {
    expect(parseLdd('\tstatically linked\n', 'busybox')).toEqual([]);
    expect(parseLdd('\tnot a dynamic executable\n', 'busybox')).toEqual([]);
    expect(() => parseLdd('\tlibfoo.so.1 => not found\n', '/usr/bin/x')).toThrow(/\/usr\/bin\/x needs libfoo.so.1/);
  });
});

describe('parseShowDepends', () => {
  it('keeps load order, paths relative to the modules dir, builtins apart', () => {
    const dir = '/c/lib/modules/6.1.0-57-amd64';
    const out = [`insmod ${dir}/kernel/arch/x86/crypto/crc32c-intel.ko `, `insmod ${dir}/kernel/fs/ext4/ext4.ko `, 'builtin af_packet'].join('\n');
    expect(parseShowDepends(out, dir)).toEqual({ files: ['kernel/arch/x86/crypto/crc32c-intel.ko', 'kernel/fs/ext4/ext4.ko'], builtin: ['af_packet'] });
    expect(() => parseShowDepends('insmod /elsewhere/x.ko', dir)).toThrow(/outside/);
    expect(moduleName('kernel/arch/x86/crypto/crc32c-intel.ko')).toBe('crc32c-intel');
    expect(moduleName('kernel/fs/xfs/xfs.ko.xz')).toBe('xfs');
  });
});

describe('parseMetaDepends', () => {
  it('finds the versioned image package of linux-image-amd64', () => {
    const show = 'Package: linux-image-amd64\nVersion: 6.1.192-3\nDepends: linux-image-6.1.0-57-amd64 (= 6.1.192-3)\n';
    expect(parseMetaDepends(show)).toEqual({ name: 'linux-image-6.1.0-57-amd64', version: '6.1.192-3' });
    expect(parseMetaDepends('Package: x\n')).toBeUndefined();
  });
});

describe('rackcast-netboot options', () => {
  it('takes plans, modules, compression and a kernel source', () => {
    const a = parseNetbootArgs([
      '--out',
      '/srv/tftp',
      '--plan',
      'a/rack1.json',
      '--plan',
      'b/db.json',
      '--modules',
      'i40e,tg3',
      '--modules',
      'bnxt_en',
      '--compress',
      'zstd',
      '--kernel-deb',
      'k.deb',
    ]);
    expect(a.plans.map((p) => p.name)).toEqual(['rack1', 'db']);
    expect(a.extraModules).toEqual(['i40e', 'tg3', 'bnxt_en']);
    expect(a.compression).toBe('zstd');
    expect(a.kernel.kind).toBe('deb');
    expect(parseNetbootArgs(['--out', 'o', '--plan', 'p.json']).compression).toBe('xz');
  });
  it('refuses what it cannot build, in one line', () => {
    expect(() => parseNetbootArgs(['--plan', 'p.json'])).toThrow(/--out DIR is required/);
    expect(() => parseNetbootArgs(['--out', 'o'])).toThrow(/--plan FILE is required/);
    expect(() => parseNetbootArgs(['--out', 'o', '--plan', 'a/x.json', '--plan', 'b/x.json'])).toThrow(/two plans are named "x"/);
    expect(() => parseNetbootArgs(['--out', 'o', '--plan', 'p.json', '--kernel-deb', 'k', '--kernel-dir', 'd'])).toThrow(/exclude each other/);
    expect(() => parseNetbootArgs(['--out', 'o', '--plan', 'p.json', '--modules', 'a b'])).toThrow(/bad module name/);
    expect(() => parseNetbootArgs(['--out', 'o', '--plan', 'p.json', '--compress', 'lz4'])).toThrow();
    expect(() => parseNetbootArgs(['--out', 'o', '--plan', 'p.json', '--cmdline', 'a="b"'])).toThrow(/quotes/);
  });
  it('reads SOURCE_DATE_EPOCH', () => {
    expect(sourceDateEpoch({})).toBe(0);
    expect(sourceDateEpoch({ SOURCE_DATE_EPOCH: '1700000000' })).toBe(1_700_000_000);
    expect(() => sourceDateEpoch({ SOURCE_DATE_EPOCH: 'yesterday' })).toThrow(/SOURCE_DATE_EPOCH/);
  });
});

describe('plans', () => {
  it('takes a plan the agent accepts and refuses one it does not, naming the file and every error', async () => {
    const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { fileURLToPath } = await import('node:url');
    const { loadPlans } = await import('../../../netboot/plans.js');
    const good = fileURLToPath(new URL('../../fixtures/netboot/vm-plan.json', import.meta.url));
    const ok = await loadPlans([{ name: 'vm', file: good }]);
    expect(ok.map((p) => p.name)).toEqual(['vm']);
    const dir = mkdtempSync(join(tmpdir(), 'rackcast-plans-'));
    try {
      const bad = join(dir, 'bad.json');
      writeFileSync(bad, '{"version": 1, "no": "such plan"}');
      await expect(loadPlans([{ name: 'bad', file: bad }])).rejects.toThrow(/--plan .*bad\.json: 2 error\(s\): no: unknown key .*; disk: missing/);
      await expect(loadPlans([{ name: 'x', file: join(dir, 'missing.json') }])).rejects.toThrow(/--plan .*missing\.json: .*ENOENT/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
