// The clone plan's validator: the documented example is valid; every mistake is refused
// with an error that names its field by its dotted path (all errors at once); --set
// overrides scalar fields and is validated like the file.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { applySets, parsePlan, parseSize, validatePlan } from '../../../clone/plan.js';

const EXAMPLE = readFileSync(new URL('../../../docs/clone-plan.example.json', import.meta.url), 'utf8');

/** A small valid plan to break one field at a time. */
function base(): Record<string, unknown> {
  return {
    disk: { path: '/dev/vda' },
    table: 'gpt',
    partitions: [
      { size: '512M', type: 'swap', fs: 'swap', label: 'swap' },
      { size: '40%', fs: 'ext4', label: 'root', mount: '/' },
      { size: 'rest', fs: 'ext4', label: 'data', mount: '/data', keep: true },
    ],
    image: { kind: 'unpack', into: '/' },
    bootloader: { kind: 'extlinux', kernel: '/vmlinuz' },
  };
}

// biome-ignore lint/suspicious/noExplicitAny: the cases write any shape into a plan on purpose, to see the validator refuse it
type AnyPlan = Record<string, any>;

function errorsOf(mutate: (p: AnyPlan) => void): readonly string[] {
  const p = base() as AnyPlan;
  mutate(p);
  const r = validatePlan(p);
  return r.ok ? [] : r.errors;
}

describe('clone plan', () => {
  it('the documented example is valid, with its defaults filled in', () => {
    const r = parsePlan(EXAMPLE);
    expect(r.ok, r.ok ? '' : r.errors.join('\n')).toBe(true);
    if (!r.ok) return;
    expect(r.plan.disk).toEqual({ kind: 'rule', rule: 'largest', type: 'any', minSizeBytes: 16 * 1024 ** 3 });
    expect(r.plan.partitions.map((p) => [p.number, p.size.text, p.type, p.fs, p.keep])).toEqual([
      [1, '4G', 'swap', 'swap', false],
      [2, '20G', 'linux', 'ext4', false],
      [3, 'rest', 'linux', 'ext4', true],
    ]);
    expect(r.plan.fixups.hostname.map((h) => h.from)).toEqual(['dhcp', 'mac-map', 'fixed']);
    expect(r.plan.receiver).toMatchObject({ portbase: 9000, keyFile: '/etc/rackcast/rack.key', startTimeoutS: 600, receiveTimeoutS: 30, encrypt: false });
    expect(Object.isFrozen(r.plan) && Object.isFrozen(r.plan.partitions[0])).toBe(true);
  });

  it('a small plan gets the defaults: reboot on success, retry on failure, fixups all on, fstab by label', () => {
    const r = validatePlan(base());
    expect(r.ok, r.ok ? '' : r.errors.join('\n')).toBe(true);
    if (!r.ok) return;
    expect(r.plan.onSuccess).toBe('reboot');
    expect(r.plan.onFailure).toBe('retry');
    expect(r.plan.onTableMismatch).toBe('wipe');
    expect(r.plan.fixups).toMatchObject({ machineId: 'reset', udevNetRules: 'remove', sshHostKeys: 'regenerate', fstab: 'label' });
    expect(r.plan.bootloader).toEqual({ kind: 'extlinux', kernel: '/vmlinuz', initrd: undefined, append: 'ro' });
  });

  it('sizes: absolute, percent, rest; anything else is not a size', () => {
    expect(parseSize('512M')).toMatchObject({ kind: 'bytes', bytes: 512 << 20 });
    expect(parseSize('1.5G')).toMatchObject({ kind: 'bytes', bytes: 1.5 * 1024 ** 3 });
    expect(parseSize('20GiB')).toMatchObject({ kind: 'bytes', bytes: 20 * 1024 ** 3 });
    expect(parseSize('40%')).toMatchObject({ kind: 'percent', percent: 40 });
    expect(parseSize('rest')).toMatchObject({ kind: 'rest' });
    for (const bad of ['12Q', '', 'G', '-1G', 'lots']) expect(parseSize(bad), bad).toBeUndefined();
  });

  // Each case: what is wrong, and the error it must give (the field's path first).
  const cases: [string, (p: AnyPlan) => void, string | RegExp][] = [
    ['a size that is not one', (p) => (p.partitions[1].size = '12Q'), 'partitions[1].size: "12Q" is not a size (e.g. 512M, 20G, 40%, rest)'],
    ['two rest partitions', (p) => (p.partitions[1].size = 'rest'), /^partitions\[2\]\.size: only one partition can be "rest" \(partitions\[1\] is already\)$/],
    [
      'rest not last',
      (p) => {
        p.partitions[2].size = '1G';
        p.partitions[0].size = 'rest';
      },
      'partitions[0].size: "rest" must be the last partition (the ones after it would get no space)',
    ],
    [
      'sizes over 100%',
      (p) => {
        p.partitions[0].size = '70%';
        p.partitions[2].size = '31%';
      },
      'partitions: sizes add up to 141% of the disk (over 100%)',
    ],
    ['a percentage over 100', (p) => (p.partitions[1].size = '120%'), 'partitions[1].size: "120%" is not a share of the disk in (0%, 100%]'],
    ['keep without a file system', (p) => (p.partitions[0].keep = true), 'partitions[0].keep: needs a file system to check and keep (fs is swap)'],
    [
      'keep on the partition the image is unpacked into',
      (p) => (p.partitions[1].keep = true),
      /^partitions\[1\]\.keep: the image is unpacked into this partition/,
    ],
    [
      'a raw image into a swap partition',
      (p) => (p.image = { kind: 'raw', partition: 1 }),
      'image.partition: partitions[0] is swap: a raw image cannot go there',
    ],
    [
      'a raw image into a partition that does not exist',
      (p) => (p.image = { kind: 'raw', partition: 9 }),
      'image.partition: there is no partition 9 (the plan has 3)',
    ],
    ['a raw image without a target', (p) => (p.image = { kind: 'raw' }), 'image: a raw image needs "partition": N (1-based) or "disk": true'],
    [
      'a whole-disk image with a kept partition',
      (p) => (p.image = { kind: 'raw', disk: true }),
      'image.disk: a whole-disk image overwrites every partition: none can be kept',
    ],
    ['an unknown key at the top', (p) => (p.bootlaoder = {}), /^bootlaoder: unknown key \(known: version, disk, table/],
    ['an unknown key in a partition', (p) => (p.partitions[2].labl = 'x'), /^partitions\[2\]\.labl: unknown key \(known: size, type, fs, label, mount, keep/],
    ['an unknown key in the receiver', (p) => (p.receiver = { port: 9000 }), /^receiver\.port: unknown key/],
    ['an unknown file system', (p) => (p.partitions[1].fs = 'btrfs'), 'partitions[1].fs: "btrfs" is not one of ext4, ext3, ext2, xfs, vfat, swap, none'],
    ['an unknown partition type', (p) => (p.partitions[1].type = 'windows'), /^partitions\[1\]\.type: "windows" is not one of linux, swap, efi/],
    ['ext4 on a swap partition', (p) => (p.partitions[0].fs = 'ext4'), 'partitions[0].fs: "ext4" on a swap partition (use swap or none)'],
    [
      'bios-boot on a dos table',
      (p) => {
        p.table = 'dos';
        p.partitions[0] = { size: '1M', type: 'bios-boot', fs: 'none' };
      },
      'partitions[0].type: bios-boot exists on gpt tables only',
    ],
    [
      'five partitions on dos',
      (p) => {
        p.table = 'dos';
        p.partitions.unshift({ size: '1G', fs: 'none' }, { size: '1G', fs: 'none' });
      },
      'partitions: 5 partitions: a dos table holds at most 4 here (primary partitions only)',
    ],
    [
      'a label too long for ext4',
      (p) => (p.partitions[1].label = 'a-label-far-too-long'),
      /^partitions\[1\]\.label: "a-label-far-too-long" is not a label for ext4 \(1\.\.16 characters/,
    ],
    ['the same label twice', (p) => (p.partitions[2].label = 'root'), 'partitions[2].label: "root" is also the label of partitions[1]'],
    ['the same mount point twice', (p) => (p.partitions[2].mount = '/'), /^partitions\[2\]\.mount: "\/" is also the mount point of partitions\[1\]/],
    ['a relative mount point', (p) => (p.partitions[2].mount = 'data'), 'partitions[2].mount: "data" is not an absolute path (without "..")'],
    ['a mount point on swap', (p) => (p.partitions[0].mount = '/swap'), 'partitions[0].mount: a swap partition has nothing to mount'],
    [
      'no root partition',
      (p) => {
        p.image = { kind: 'unpack', into: '/data' };
        p.partitions[2].keep = false;
        delete p.partitions[1].mount;
      },
      'partitions: no partition is mounted at "/" (the root the image is unpacked into)',
    ],
    [
      'fstab by label without a label',
      (p) => delete p.partitions[2].label,
      'partitions[2].label: missing: fixups.fstab is "label" and fstab lists this partition',
    ],
    ['a bad pinned UUID', (p) => (p.partitions[1].uuid = '1234'), 'partitions[1].uuid: "1234" is not a UUID (8-4-4-4-12 hex digits)'],
    [
      'features on xfs',
      (p) => {
        p.partitions[2].fs = 'xfs';
        p.partitions[2].features = '^64bit';
      },
      'partitions[2].features: mke2fs features apply to ext2/3/4, not xfs',
    ],
    ['disk path and rule together', (p) => (p.disk = { path: '/dev/vda', rule: 'largest' }), 'disk.rule: not with disk.path (a path or a rule, not both)'],
    ['an unknown disk rule', (p) => (p.disk = { rule: 'fastest' }), 'disk.rule: "fastest" is not one of largest, first'],
    ['a bad minimum size', (p) => (p.disk = { rule: 'largest', minSize: '40%' }), 'disk.minSize: "40%" is not a size (e.g. 8G, 512M)'],
    ['a bad port', (p) => (p.receiver = { portbase: 70000 }), 'receiver.portbase: 70000 is not a whole number in 1..65534'],
    [
      'a unicast rendezvous address',
      (p) => (p.receiver = { rdvAddress: '10.0.0.1' }),
      'receiver.rdvAddress: "10.0.0.1" is not an IPv4 multicast address (224.0.0.0-239.255.255.255)',
    ],
    ['encrypt without a key', (p) => (p.receiver = { encrypt: true }), 'receiver.encrypt: needs receiver.keyFile'],
    [
      'a bad MAC in the map',
      (p) => (p.fixups = { hostname: [{ macMap: { 'not-a-mac': 'n1' } }] }),
      'fixups.hostname[0].macMap.not-a-mac: is not a MAC address (aa:bb:cc:dd:ee:ff)',
    ],
    [
      'a bad host name',
      (p) => (p.fixups = { hostname: [{ fixed: 'no_underscores' }] }),
      'fixups.hostname[0].fixed: "no_underscores" is not a host name (letters, digits, "-", labels split by ".")',
    ],
    ['an unknown hostname source', (p) => (p.fixups = { hostname: ['ldap'] }), /^fixups\.hostname\[0\]: "ldap" is not a source/],
    ['an unknown ssh setting', (p) => (p.fixups = { sshHostKeys: 'rotate' }), 'fixups.sshHostKeys: "rotate" is not one of regenerate, keep'],
    ['extlinux without a kernel', (p) => (p.bootloader = { kind: 'extlinux' }), 'bootloader.kernel: missing (a string)'],
    ['an unknown bootloader', (p) => (p.bootloader = { kind: 'lilo' }), 'bootloader.kind: "lilo" is not one of none, extlinux, grub'],
    [
      'a bootloader with a whole-disk image',
      (p) => {
        p.image = { kind: 'raw', disk: true };
        p.partitions[2].keep = false;
      },
      'bootloader.kind: "extlinux" with a whole-disk image (it carries its own boot code): use none',
    ],
    ['an unknown end action', (p) => (p.onSuccess = 'halt'), 'onSuccess: "halt" is not one of reboot, poweroff, shell'],
    ['an unknown failure action', (p) => (p.onFailure = 'cry'), 'onFailure: "cry" is not one of retry, poweroff, reboot, shell'],
    ['a keep with onTableMismatch spelled wrong', (p) => (p.onTableMismatch = 'keep'), 'onTableMismatch: "keep" is not one of wipe, fail'],
    ['a number where a string belongs', (p) => (p.partitions[1].size = 20), 'partitions[1].size: 20 is not a string'],
  ];

  it.each(cases)('refuses %s, naming the field', (_name, mutate, want) => {
    const errors = errorsOf(mutate);
    expect(errors.length, `no error for this plan`).toBeGreaterThan(0);
    if (typeof want === 'string') expect(errors).toContain(want);
    else
      expect(
        errors.some((e) => want.test(e)),
        errors.join('\n'),
      ).toBe(true);
  });

  it('reports every mistake at once, not only the first', () => {
    const errors = errorsOf((p) => {
      p.partitions[0].size = '12Q';
      p.partitions[1].fs = 'btrfs';
      p.receiver = { portbase: 0 };
    });
    expect(errors).toContain('partitions[0].size: "12Q" is not a size (e.g. 512M, 20G, 40%, rest)');
    expect(errors).toContain('partitions[1].fs: "btrfs" is not one of ext4, ext3, ext2, xfs, vfat, swap, none');
    expect(errors).toContain('receiver.portbase: 0 is not a whole number in 1..65534');
  });

  it('text that is not JSON, or not an object, is one error', () => {
    const r = parsePlan('{ "disk": ');
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors[0]).toMatch(/^plan: not JSON: /);
    const a = validatePlan([1, 2]);
    expect(a.ok ? '' : a.errors[0]).toBe('plan: [1,2] is not a JSON object');
  });

  it('--set overrides scalars by dotted path; disk.path replaces a rule; the result is validated', () => {
    const r = parsePlan(EXAMPLE, ['disk.path=/dev/vdb', 'receiver.portbase=9002', 'partitions[1].size=30G', 'onSuccess=shell']);
    expect(r.ok, r.ok ? '' : r.errors.join('\n')).toBe(true);
    if (!r.ok) return;
    expect(r.plan.disk).toEqual({ kind: 'path', path: '/dev/vdb' });
    expect(r.plan.receiver.portbase).toBe(9002);
    expect(r.plan.partitions[1]!.size).toMatchObject({ kind: 'bytes', bytes: 30 * 1024 ** 3 });
    expect(r.plan.onSuccess).toBe('shell');
    const bad = parsePlan(EXAMPLE, ['partitions[1].size=12Q']);
    expect(bad.ok ? [] : bad.errors).toContain('partitions[1].size: "12Q" is not a size (e.g. 512M, 20G, 40%, rest)');
    const notScalar = applySets(JSON.parse(EXAMPLE), ['partitions=3']);
    expect(notScalar.ok ? [] : notScalar.errors[0]).toMatch(/partitions is not a single value/);
    const noSuch = applySets(JSON.parse(EXAMPLE), ['partitions[7].size=1G']);
    expect(noSuch.ok ? [] : noSuch.errors[0]).toMatch(/partitions\[7\]\.size does not lead to a field of the plan/);
    const syntax = applySets(JSON.parse(EXAMPLE), ['nonsense']);
    expect(syntax.ok ? [] : syntax.errors[0]).toMatch(/expected FIELD=VALUE/);
    // A key that does not exist is added, then refused by the validator as unknown.
    const typo = parsePlan(EXAMPLE, ['receiver.prt=1']);
    expect(typo.ok ? [] : typo.errors).toContain(
      'receiver.prt: unknown key (known: portbase, rdvAddress, interface, keyFile, encrypt, startTimeout, receiveTimeout)',
    );
  });
});
