// The initramfs writer: exact header bytes, and GNU cpio reads back what it wrote (names,
// types, modes, the fixed mtime, uid/gid 0, contents, link targets), in sorted order
// whatever order the entries were added in, byte-identical both times.

import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstatSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { writeNewcArchive } from '../../../netboot/archive.js';
import { encodeNewcHeader, encodeTrailer, NEWC_HEADER_BYTES } from '../../../netboot/cpio-newc.js';
import { ImageTree, imagePath } from '../../../netboot/tree.js';

const HAVE_CPIO = spawnSync('cpio', ['--version']).status === 0;
if (!HAVE_CPIO) console.log('cpio-newc: GNU cpio is not installed (bench/lab-deps.sh installs it as root): read-back tests skipped');

const dir = mkdtempSync(join(tmpdir(), 'rackcast-newc-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function archive(tree: ImageTree, mtimeSec: number): Promise<Buffer> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (b: Buffer) => chunks.push(b));
  await writeNewcArchive(tree, mtimeSec, out);
  out.end();
  return Buffer.concat(chunks);
}

function sampleTree(order: 'forward' | 'reverse'): ImageTree {
  const src = join(dir, 'src.bin');
  writeFileSync(src, Buffer.from('abcdefg'), { mode: 0o751 });
  const adds: ((t: ImageTree) => void)[] = [
    (t) => t.addFile('usr/bin/tool', src, { part: 'tools' }),
    (t) => t.addData('etc/rackcast/plans/default.json', '{"x":1}\n', { part: 'init' }),
    (t) => t.addSymlink('usr/sbin/modprobe', '/usr/bin/busybox', { part: 'busybox' }),
    (t) => t.addData('init', '#!/bin/sh\n', { part: 'init', mode: 0o755 }),
    (t) => t.addDir('proc'),
  ];
  const t = new ImageTree();
  for (const f of order === 'forward' ? adds : [...adds].reverse()) f(t);
  return t;
}

describe('netboot newc writer', () => {
  it('writes the header fields at their offsets (golden bytes)', () => {
    const h = encodeNewcHeader({ name: 'init', ino: 3, mode: 0o100755, nlink: 1, mtimeSec: 0x5f5e1000, fileBytes: 10 });
    expect(h.subarray(0, NEWC_HEADER_BYTES).toString('latin1')).toBe(
      '070701' + '00000003' + '000081ed' + '00000000' + '00000000' + '00000001' + '5f5e1000' + '0000000a' + '00000000'.repeat(4) + '00000005' + '00000000',
    );
    expect(h.length % 4).toBe(0);
    expect(h.subarray(NEWC_HEADER_BYTES).toString('latin1')).toBe('init\0\0'); // 110 + 5 padded to 116
    expect(
      encodeTrailer()
        .subarray(NEWC_HEADER_BYTES, NEWC_HEADER_BYTES + 11)
        .toString('latin1'),
    ).toBe('TRAILER!!!\0');
  });

  it('refuses values a header cannot hold', () => {
    expect(() => encodeNewcHeader({ name: 'x', ino: 2 ** 32, mode: 0, nlink: 1, mtimeSec: 0, fileBytes: 0 })).toThrow(RangeError);
    expect(() => encodeNewcHeader({ name: '', ino: 1, mode: 0, nlink: 1, mtimeSec: 0, fileBytes: 0 })).toThrow(RangeError);
  });

  it('gives the same bytes whatever order entries were added in', async () => {
    const a = await archive(sampleTree('forward'), 1_700_000_000);
    const b = await archive(sampleTree('reverse'), 1_700_000_000);
    expect(createHash('sha256').update(a).digest('hex')).toBe(createHash('sha256').update(b).digest('hex'));
    expect(a.length % 4).toBe(0);
  });

  it.skipIf(!HAVE_CPIO)('GNU cpio lists and extracts it: names, modes, mtime, owner, data, links', async () => {
    const bytes = await archive(sampleTree('forward'), 1_700_000_000);
    const list = spawnSync('cpio', ['-t', '--quiet'], { input: bytes });
    expect(list.status).toBe(0);
    const names = list.stdout.toString().trim().split('\n');
    expect(names).toEqual([...names].sort());
    expect(names).toContain('usr/sbin/modprobe');
    const out = mkdtempSync(join(dir, 'x-'));
    const ext = spawnSync('cpio', ['-i', '-d', '-m', '--quiet', '--no-absolute-filenames'], { input: bytes, cwd: out });
    expect(ext.status, ext.stderr.toString()).toBe(0);
    expect(readFileSync(join(out, 'usr/bin/tool'), 'utf8')).toBe('abcdefg');
    expect(lstatSync(join(out, 'usr/bin/tool')).mode & 0o7777).toBe(0o751);
    expect(lstatSync(join(out, 'init')).mode & 0o7777).toBe(0o755);
    expect(lstatSync(join(out, 'init')).mtimeMs).toBe(1_700_000_000_000);
    expect(readlinkSync(join(out, 'usr/sbin/modprobe'))).toBe('/usr/bin/busybox');
    expect(readlinkSync(join(out, 'bin'))).toBe('usr/bin');
    const verbose = spawnSync('cpio', ['-t', '-v', '--quiet', '--numeric-uid-gid'], { input: bytes }).stdout.toString();
    for (const line of verbose.trim().split('\n')) expect(line.split(/\s+/).slice(2, 4)).toEqual(['0', '0']);
  });
});

describe('netboot image tree', () => {
  it('maps host paths into the merged /usr', () => {
    expect(imagePath('/lib/x86_64-linux-gnu/libc.so.6')).toBe('usr/lib/x86_64-linux-gnu/libc.so.6');
    expect(imagePath('/lib64/ld-linux-x86-64.so.2')).toBe('usr/lib64/ld-linux-x86-64.so.2');
    expect(imagePath('/sbin/mkfs.ext4')).toBe('usr/sbin/mkfs.ext4');
    expect(imagePath('/usr/bin/node')).toBe('usr/bin/node');
    expect(imagePath('/etc/mke2fs.conf')).toBe('etc/mke2fs.conf');
  });

  it('refuses a path added twice with different content, beneath a symlink, or not relative', () => {
    const t = new ImageTree();
    t.addData('etc/a', 'one', { part: 'init' });
    t.addData('etc/a', 'one', { part: 'init' });
    expect(() => t.addData('etc/a', 'two', { part: 'init' })).toThrow(/added twice/);
    t.addData('etc/a', 'two', { part: 'init', replace: true });
    expect(() => t.addData('bin/x', 'x', { part: 'init' })).toThrow(/beneath the symlink bin/);
    expect(() => t.addData('/etc/b', 'x', { part: 'init' })).toThrow(/bad image path/);
    expect(() => t.addData('etc/../b', 'x', { part: 'init' })).toThrow(/bad image path/);
  });
});
