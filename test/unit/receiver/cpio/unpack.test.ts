// --unpack on hand-made archives: the refusals (absolute names, "..", writing through a
// symlink), corrupt and truncated archives (one-line error naming the entry, marker
// left), and the marker's life cycle. The comparison with GNU cpio on a tree of every
// entry type is in test/integration/receiver/cpio/unpack.test.ts.

import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IoError } from '../../../../common/errors.js';
import { addBytes } from '../../../../receiver/cpio/reader.js';
import { INCOMPLETE_MARKER } from '../../../../receiver/cpio/unpack.js';
import { openSink } from '../../../../receiver/sink.js';
import { encodeNewcHeader, encodeTrailer, type NewcFields } from '../../../../sender/pack.js';
import { ourUnpack } from '../../../support/cpio-tree.js';

function fields(over: Partial<NewcFields>): NewcFields {
  return {
    ino: 1,
    mode: 0o100644,
    uid: 0,
    gid: 0,
    nlink: 1,
    mtime: 1_000_000_000,
    fileBytes: 0,
    devMajor: 0,
    devMinor: 0,
    rdevMajor: 0,
    rdevMinor: 0,
    check: 0,
    ...over,
  };
}

/** A crc archive of these entries (name, mode, data). */
function archiveOf(entries: readonly { name: string; mode: number; data?: string }[]): Buffer {
  const parts: Buffer[] = [];
  entries.forEach((e, i) => {
    const data = Buffer.from(e.data ?? '');
    parts.push(
      encodeNewcHeader(
        'crc',
        fields({ ino: i + 1, mode: e.mode, fileBytes: data.byteLength, check: (e.mode & 0o170000) === 0o100000 ? addBytes(0, data) : 0 }),
        Buffer.from(e.name),
      ),
    );
    parts.push(data, Buffer.alloc((4 - (data.byteLength % 4)) % 4));
  });
  const body = Buffer.concat(parts);
  return Buffer.concat([body, encodeTrailer('crc', body.byteLength)]);
}

async function unpackError(data: Buffer, dir: string): Promise<Error> {
  try {
    await ourUnpack(data, dir, [13, 64]);
  } catch (e) {
    return e as Error;
  }
  throw new Error('unpack succeeded');
}

describe('unpack refuses what would escape the directory', () => {
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'rackcast-unpack-evil-'));
  });
  afterAll(() => {
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  const cases: [string, { name: string; mode: number; data?: string }[], RegExp][] = [
    ['an absolute name', [{ name: '/tmp/rackcast-evil', mode: 0o100644, data: 'x' }], /entry \/tmp\/rackcast-evil: absolute path refused/],
    ['a ".." component', [{ name: 'a/../../rackcast-evil', mode: 0o100644, data: 'x' }], /entry a\/\.\.\/\.\.\/rackcast-evil: "\.\." in the path refused/],
    [
      'a file written through a symlink made earlier in the archive',
      [
        { name: 'l', mode: 0o120777, data: '/tmp' },
        { name: 'l/rackcast-evil', mode: 0o100644, data: 'x' },
      ],
      /entry l\/rackcast-evil: refusing to write through the symlink l/,
    ],
    [
      'a directory made through a relative symlink pointing out',
      [
        { name: 'up', mode: 0o120777, data: '..' },
        { name: 'up/rackcast-evil-dir', mode: 0o040755 },
      ],
      /entry up\/rackcast-evil-dir: refusing to write through the symlink up/,
    ],
    ['the marker name itself', [{ name: INCOMPLETE_MARKER, mode: 0o100644, data: 'x' }], /rackcast's own marker name/],
  ];
  it.each(cases)('%s', async (_label, entries, message) => {
    const target = join(dir, `t${Math.random().toString(16).slice(2)}`);
    const e = await unpackError(archiveOf(entries), target);
    expect(e).toBeInstanceOf(IoError);
    expect(e.message).toMatch(message);
    expect(e.message).not.toMatch(/\n/);
    expect(existsSync('/tmp/rackcast-evil')).toBe(false);
    expect(existsSync(join(target, INCOMPLETE_MARKER))).toBe(true);
  });

  it('a symlink already in DIR is not written through either', async () => {
    const target = join(dir, 'pre');
    const outside = join(dir, 'outside');
    await ourUnpack(archiveOf([{ name: 'x', mode: 0o040755 }]), outside);
    await ourUnpack(archiveOf([{ name: 'link', mode: 0o120777, data: outside }]), target);
    const e = await unpackError(archiveOf([{ name: 'link/file', mode: 0o100644, data: 'x' }]), target);
    expect(e.message).toMatch(/refusing to write through the symlink link/);
    expect(existsSync(join(outside, 'file'))).toBe(false);
  });

  it('an entry replacing a symlink replaces the link, not its target', async () => {
    const target = join(dir, 'replace');
    const victim = join(dir, 'victim.txt');
    writeFileSync(victim, 'untouched');
    const a = archiveOf([
      { name: 'f', mode: 0o120777, data: victim },
      { name: 'f', mode: 0o100644, data: 'new content' },
    ]);
    await ourUnpack(a, target);
    expect(readFileSync(victim, 'utf8')).toBe('untouched');
    expect(readFileSync(join(target, 'f'), 'utf8')).toBe('new content');
  });
});

describe('corrupt and truncated archives', () => {
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'rackcast-unpack-bad-'));
  });
  afterAll(() => {
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });
  const good = archiveOf([
    { name: 'd', mode: 0o040755 },
    { name: 'd/first', mode: 0o100644, data: 'first file' },
    { name: 'd/second', mode: 0o100644, data: 'second file, a bit longer' },
  ]);

  it('crc mismatch: one-line error naming the entry, marker left, nothing after it written', async () => {
    const bad = Buffer.from(good);
    bad[bad.indexOf('first file') + 3]! ^= 1;
    const target = join(dir, 'crc');
    const e = await unpackError(bad, target);
    expect(e.message).toMatch(/^cpio: entry d\/first: checksum mismatch \(header 0x[0-9a-f]{8}, data 0x[0-9a-f]{8}\)$/);
    expect(existsSync(join(target, INCOMPLETE_MARKER))).toBe(true);
    expect(existsSync(join(target, 'd/second'))).toBe(false);
  });

  it('truncated inside an entry: names it; truncated between entries: says after how many', async () => {
    const t1 = join(dir, 'trunc1');
    const e1 = await unpackError(good.subarray(0, good.indexOf('second file') + 4), t1);
    expect(e1.message).toMatch(/^cpio: archive truncated in entry d\/second \(at byte \d+, no TRAILER!!!\)$/);
    expect(existsSync(join(t1, INCOMPLETE_MARKER))).toBe(true);
    const t2 = join(dir, 'trunc2');
    const e2 = await unpackError(good.subarray(0, good.indexOf('TRAILER!!!') - 110), t2);
    expect(e2.message).toMatch(/archive truncated after 3 entries/);
  });

  it('the marker exists while unpacking and goes only at commit(); a discard leaves it', async () => {
    const target = join(dir, 'life');
    const sink = await openSink({ file: undefined, pipe: undefined, unpack: target, decompress: 'none' });
    expect(readFileSync(join(target, INCOMPLETE_MARKER), 'utf8')).toMatch(/incomplete/);
    await sink.write(good);
    await sink.finish();
    expect(existsSync(join(target, INCOMPLETE_MARKER))).toBe(true);
    await sink.commit();
    expect(existsSync(join(target, INCOMPLETE_MARKER))).toBe(false);

    const failed = join(dir, 'failed');
    const s2 = await openSink({ file: undefined, pipe: undefined, unpack: failed, decompress: 'none' });
    await s2.write(good);
    await s2.finish();
    await s2.discard(); // e.g. the transfer's digest did not match
    expect(existsSync(join(failed, INCOMPLETE_MARKER))).toBe(true);
    expect(readFileSync(join(failed, 'd/first'), 'utf8')).toBe('first file');
  });
});
