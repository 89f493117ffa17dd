// The streaming cpio reader on archives made by GNU cpio (crc, newc, odc): the same
// events whatever the chunking (split at every byte boundary, byte by byte, random
// chunks); every truncated prefix fails at end(); corrupt data, headers and names fail
// with a stable code naming the entry.

import { spawnSync } from 'node:child_process';
import { linkSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CpioError, NEWC_HEADER_BYTES } from '../../../../receiver/cpio/reader.js';
import { gnuPack, readCpio as read } from '../../../support/cpio-tree.js';
import { haveCommand } from '../../../support/host.js';
import { mulberry32 } from '../../../support/prng.js';

const HAVE_CPIO = haveCommand('cpio');
if (!HAVE_CPIO) console.log('cpio/reader.test.ts: GNU cpio is not installed (apt-get install cpio; bench/lab-deps.sh does it as root): archive tests skipped');

function splitAt(b: Uint8Array, ...cuts: number[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const c of [...cuts, b.byteLength]) {
    out.push(b.subarray(prev, c));
    prev = c;
  }
  return out;
}

/** Where the trailer's name (and padding) ends: prefixes at least this long are complete archives. */
function trailerEnd(b: Buffer, format: string): number {
  const at = b.indexOf('TRAILER!!!');
  const end = at + 'TRAILER!!!'.length + 1;
  return format === 'odc' ? end : Math.ceil(end / 4) * 4;
}

describe.skipIf(!HAVE_CPIO)('cpio reader on GNU cpio archives', () => {
  let dir = '';
  const archives = new Map<string, Buffer>();

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'rackcast-cpio-reader-'));
    const src = join(dir, 'src');
    mkdirSync(join(src, 'd'), { recursive: true });
    writeFileSync(join(src, 'd/empty'), '');
    writeFileSync(join(src, 'd/one'), 'x');
    writeFileSync(join(src, 'd/five'), 'hello');
    writeFileSync(join(src, 'seven.txt'), 'rackcast');
    linkSync(join(src, 'seven.txt'), join(src, 'd/seven-link'));
    symlinkSync('d/five', join(src, 'sym'));
    for (const f of ['crc', 'newc', 'odc'] as const) {
      gnuPack(src, f, join(dir, `${f}.cpio`));
      archives.set(f, readFileSync(join(dir, `${f}.cpio`)));
    }
  });

  afterAll(() => {
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  for (const format of ['crc', 'newc', 'odc']) {
    describe(format, () => {
      it('reads every entry, with data, symlink target and hard links as GNU cpio wrote them', () => {
        const { recs, trailer } = read([archives.get(format)!]);
        expect(trailer).toBe(true);
        const byName = new Map(recs.map((r) => [r.name, r]));
        expect([...byName.keys()].sort()).toEqual(['.', 'd', 'd/empty', 'd/five', 'd/one', 'd/seven-link', 'seven.txt', 'sym']);
        expect(Buffer.from(byName.get('d/five')!.data, 'hex').toString()).toBe('hello');
        expect(byName.get('sym')!.target).toBe('d/five');
        expect(byName.get('sym')!.data).toBe('');
        expect(byName.get('d/empty')!.fileBytes).toBe(0);
        const links = [byName.get('seven.txt')!, byName.get('d/seven-link')!];
        expect(links[0]!.ino).toBe(links[1]!.ino);
        expect(links.every((l) => l.nlink === 2)).toBe(true);
        const withData = links.filter((l) => l.data !== '');
        // newc/crc: the data travels once, with the last link; odc: with every link.
        expect(withData).toHaveLength(format === 'odc' ? 2 : 1);
        expect(Buffer.from(withData[0]!.data, 'hex').toString()).toBe('rackcast');
        if (format !== 'odc') expect(recs.indexOf(withData[0]!)).toBeGreaterThan(recs.indexOf(links.find((l) => l.data === '')!));
      });

      it('gives the same events split at every byte boundary, byte by byte and in random chunks', () => {
        const a = archives.get(format)!;
        const whole = read([a]);
        for (let i = 1; i < a.byteLength; i++) expect(read(splitAt(a, i)), `split at ${i}`).toEqual(whole);
        expect(read([...a].map((b) => Uint8Array.of(b)))).toEqual(whole);
        for (let seed = 1; seed <= 50; seed++) {
          const rnd = mulberry32(seed);
          const cuts: number[] = [];
          for (let at = Math.floor(rnd() * 40); at < a.byteLength; at += 1 + Math.floor(rnd() * 200)) cuts.push(at);
          expect(read(splitAt(a, ...cuts.filter((c) => c > 0))), `seed ${seed}`).toEqual(whole);
        }
      });

      it('fails at end() for every prefix that stops before the trailer', () => {
        const a = archives.get(format)!;
        const end = trailerEnd(a, format);
        for (let n = 0; n < end; n++) {
          let err: unknown;
          try {
            read([a.subarray(0, n)]);
          } catch (e) {
            err = e;
          }
          expect(err, `prefix of ${n} bytes`).toBeInstanceOf(CpioError);
        }
        // After the trailer only GNU cpio's zero padding follows: any cut there is complete.
        for (let n = end; n <= a.byteLength; n++) expect(read([a.subarray(0, n)]).trailer).toBe(true);
      });

      it('a truncated archive names the entry it stopped in', () => {
        const a = archives.get(format)!;
        const at = a.indexOf('hello') + 2;
        expect(() => read([a.subarray(0, at)])).toThrow(/archive truncated in entry d\/five/);
      });
    });
  }

  it('crc: a flipped data byte is a checksum mismatch naming the entry', () => {
    const a = Buffer.from(archives.get('crc')!);
    a[a.indexOf('hello')]! ^= 0x20;
    let err: CpioError | undefined;
    try {
      read([a]);
    } catch (e) {
      err = e as CpioError;
    }
    expect(err?.code).toBe('ERR_CPIO_CHECKSUM');
    expect(err?.message).toMatch(/entry d\/five: checksum mismatch/);
    expect(err?.entry).toBe('d/five');
  });

  it('newc: the same flip goes unnoticed (newc has no checksum)', () => {
    const a = Buffer.from(archives.get('newc')!);
    a[a.indexOf('hello')]! ^= 0x20;
    expect(read([a]).trailer).toBe(true);
  });

  it('a bad magic, a bad hex digit, a bad octal digit are refused', () => {
    const crc = Buffer.from(archives.get('crc')!);
    crc[0] = 0x31;
    expect(() => read([crc])).toThrow(expect.objectContaining({ code: 'ERR_CPIO_BAD_MAGIC' }));
    const hex = Buffer.from(archives.get('newc')!);
    hex[NEWC_HEADER_BYTES + 4 + 20] = 0x67; // 'g' inside the second header's mode field
    expect(() => read([hex])).toThrow(expect.objectContaining({ code: 'ERR_CPIO_BAD_HEADER' }));
    const odc = Buffer.from(archives.get('odc')!);
    odc[20] = 0x39; // '9' inside the first header's mode field
    expect(() => read([odc])).toThrow(expect.objectContaining({ code: 'ERR_CPIO_BAD_HEADER' }));
  });
});

// Kept apart so a missing cpio does not hide the reason.
it.skipIf(HAVE_CPIO)('GNU cpio archive tests need cpio', () => {
  expect(spawnSync('sh', ['-c', 'command -v cpio']).status).not.toBe(0);
});
