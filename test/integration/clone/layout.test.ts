// The partition-table comparison: a table made by sfdisk twice (different label-ids and,
// on GPT, different disk GUIDs and partition UUIDs) matches the plan; a different size,
// type, name or boot flag does not. The sfdisk script follows the plan. Disk rules over a
// made-up /sys/block. (sfdisk runs on sparse files here: no root needed.)

import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { listDisks, pickDisk } from '../../../clone/disk.js';
import { layoutFits, normaliseDump, parseSfdiskJson, sfdiskScript } from '../../../clone/layout.js';
import { type ClonePlan, validatePlan } from '../../../clone/plan.js';
import { haveCommand } from '../../support/host.js';

const HAVE_SFDISK = haveCommand('sfdisk');
if (!HAVE_SFDISK) console.log('clone layout: sfdisk is not installed (apt-get install fdisk): table tests skipped');
const GiB = 1024 ** 3;
const dir = mkdtempSync(join(tmpdir(), 'rackcast-layout-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function plan(table: 'gpt' | 'dos', extra: Record<string, unknown> = {}): ClonePlan {
  const r = validatePlan({
    disk: { path: '/dev/vda' },
    table,
    partitions: [
      { size: '512M', type: 'swap', fs: 'swap', label: 'swap' },
      { size: '30%', fs: 'ext4', label: 'root', mount: '/' },
      { size: 'rest', fs: 'ext4', label: 'data', mount: '/data', keep: true },
    ],
    bootloader: { kind: 'extlinux', kernel: '/vmlinuz' },
    ...extra,
  });
  if (!r.ok) throw new Error(r.errors.join('\n'));
  return r.plan;
}

let n = 0;
/** Applies a script to a fresh sparse file; returns its `sfdisk -d`. */
function apply(script: string, bytes: number): string {
  const f = join(dir, `d${++n}.img`);
  writeFileSync(f, '');
  truncateSync(f, bytes);
  const w = spawnSync('sfdisk', ['-q', '--no-reread', '--no-tell-kernel', f], { input: script });
  if (w.status !== 0) throw new Error(w.stderr.toString());
  return spawnSync('sfdisk', ['-d', f], { encoding: 'utf8' }).stdout;
}

describe('sfdisk script', () => {
  it('sizes in 1 MiB-aligned sectors, percent of the disk, rest last; GPT names and the legacy-boot attribute', () => {
    const s = sfdiskScript(plan('gpt'), 10 * GiB);
    expect(s).toBe(
      'label: gpt\n\n' +
        'size=1048576, type=0657FD6D-A4AB-43C4-84E5-0933C84B4F4F, name="swap"\n' +
        `size=${Math.floor((10 * GiB * 0.3) / 2 ** 20) * 2048}, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name="root", attrs="LegacyBIOSBootable"\n` +
        'type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name="data"\n',
    );
    expect(sfdiskScript(plan('dos'), 10 * GiB)).toMatch(/^label: dos\n\nsize=1048576, type=82\nsize=\d+, type=83, bootable\ntype=83\n$/);
  });

  it('a layout too large for the disk says how much it needs', () => {
    expect(layoutFits(plan('gpt'), 10 * GiB)).toEqual({ ok: true });
    const r = layoutFits(plan('gpt'), 300 << 20);
    expect(r.ok).toBe(false);
  });
});

describe.skipIf(!HAVE_SFDISK)('table comparison', () => {
  for (const table of ['gpt', 'dos'] as const) {
    it(`${table}: made twice, the label-ids (and GPT GUIDs) differ, the normalised tables match`, () => {
      const script = sfdiskScript(plan(table), 4 * GiB);
      const a = apply(script, 4 * GiB);
      const b = apply(script, 4 * GiB);
      const id = (d: string) => /label-id: (\S+)/.exec(d)?.[1];
      expect(id(a)).toBeDefined();
      expect(id(a)).not.toBe(id(b));
      if (table === 'gpt') expect(/uuid=(\S+),/.exec(a)?.[1]).not.toBe(/uuid=(\S+),/.exec(b)?.[1]);
      expect(a).not.toBe(b);
      expect(normaliseDump(a)).toBe(normaliseDump(b));
      expect(normaliseDump(a)).not.toMatch(/label-id|uuid=|device:|last-lba|d\d+\.img/);
    });

    it(`${table}: another size, type, boot flag or disk size does not match`, () => {
      const want = normaliseDump(apply(sfdiskScript(plan(table), 4 * GiB), 4 * GiB));
      const other = (extra: Record<string, unknown>, bytes = 4 * GiB) => normaliseDump(apply(sfdiskScript(plan(table, extra), bytes), bytes));
      const parts = plan(table).partitions;
      const bigger = [
        { size: '1G', type: 'swap', fs: 'swap', label: 'swap' },
        { size: '30%', fs: 'ext4', label: 'root', mount: '/' },
        { size: 'rest', fs: 'ext4', label: 'data', mount: '/data', keep: true },
      ];
      expect(parts).toHaveLength(3);
      expect(other({ partitions: bigger })).not.toBe(want);
      expect(other({ bootloader: { kind: 'none' } })).not.toBe(want);
      expect(other({}, 5 * GiB)).not.toBe(want);
      const lvm = [
        { size: '512M', type: 'swap', fs: 'swap', label: 'swap' },
        { size: '30%', fs: 'ext4', label: 'root', mount: '/' },
        { size: 'rest', type: 'lvm', fs: 'none' },
      ];
      expect(other({ partitions: lvm, fixups: { fstab: 'label' } })).not.toBe(want);
    });
  }

  it('sfdisk -J gives the partitions with byte offsets', () => {
    const f = join(dir, 'j.img');
    writeFileSync(f, '');
    truncateSync(f, 2 * GiB);
    spawnSync('sfdisk', ['-q', f], { input: sfdiskScript(plan('gpt'), 2 * GiB) });
    const j = parseSfdiskJson(spawnSync('sfdisk', ['-J', f], { encoding: 'utf8' }).stdout);
    expect(j.label).toBe('gpt');
    expect(j.extents.map((e) => [e.number, e.startBytes, e.sizeBytes])).toEqual([
      [1, 1 << 20, 512 << 20],
      [2, 513 << 20, Math.floor((2 * GiB * 0.3) / 2 ** 20) * 2 ** 20],
      [3, (513 << 20) + Math.floor((2 * GiB * 0.3) / 2 ** 20) * 2 ** 20, j.extents[2]!.sizeBytes],
    ]);
  });
});

describe('disk rules over /sys/block', () => {
  const sys = join(dir, 'sys-block');
  const disk = (name: string, gib: number, extra: Record<string, string> = {}) => {
    mkdirSync(join(sys, name), { recursive: true });
    writeFileSync(join(sys, name, 'size'), String((gib * GiB) / 512));
    for (const [k, v] of Object.entries({ removable: '0', ro: '0', ...extra })) writeFileSync(join(sys, name, k), v);
  };
  disk('loop0', 100);
  disk('sr0', 1, { removable: '1' });
  disk('sda', 500);
  disk('sdb', 64, { removable: '1' });
  disk('vda', 20);
  disk('vdb', 40);
  disk('nvme0n1', 200);
  disk('nvme1n1', 1000);
  const inUse = (name: string) => (name === 'nvme1n1' ? ['/dev/nvme1n1p2 is mounted at /'] : []);
  const rule = (r: 'largest' | 'first', type: 'virtio' | 'nvme' | 'sata' | 'any', minSizeBytes = 0) => ({ kind: 'rule' as const, rule: r, type, minSizeBytes });

  it('never a virtual, removable or in-use disk; largest/first by type and minimum size', () => {
    const pick = (r: ReturnType<typeof rule>) => pickDisk(listDisks(sys, r, inUse), r)?.name;
    expect(pick(rule('largest', 'any'))).toBe('sda'); // nvme1n1 is larger but holds the running system
    expect(pick(rule('first', 'any'))).toBe('nvme0n1');
    expect(pick(rule('largest', 'virtio'))).toBe('vdb');
    expect(pick(rule('first', 'virtio'))).toBe('vda');
    expect(pick(rule('first', 'virtio', 30 * GiB))).toBe('vdb');
    expect(pick(rule('largest', 'sata'))).toBe('sda');
    expect(pick(rule('largest', 'nvme'))).toBe('nvme0n1');
    expect(pick(rule('largest', 'virtio', 100 * GiB))).toBeUndefined();
    const why = Object.fromEntries(listDisks(sys, rule('largest', 'any'), inUse).map((c) => [c.name, c.skipped]));
    expect(why).toMatchObject({
      loop0: 'virtual device',
      sr0: 'virtual device',
      sdb: 'removable media',
      nvme1n1: 'holds the running system (/dev/nvme1n1p2 is mounted at /)',
    });
  });
});
