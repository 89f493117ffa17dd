// Shared by the cpio and pipeline tests: a source tree with every entry type this
// machine lets us make (mkfifo, and mknod as root), GNU cpio run on it, our unpacker fed
// in chunks, and a tree walk that compares two trees (names, types, modes, owners, sizes,
// contents, link targets, device numbers, mtimes, hard-link groups).

import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  closeSync,
  ftruncateSync,
  lchownSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { type CpioEvent, CpioReader } from '../../receiver/cpio/reader.js';
import { INCOMPLETE_MARKER } from '../../receiver/cpio/unpack.js';
import { openSink } from '../../receiver/sink.js';
import type { Sink } from '../../receiver/sink-types.js';
import { IS_ROOT } from './host.js';

const B = (s: string | number[]): Buffer => (typeof s === 'string' ? Buffer.from(s) : Buffer.from(s));

function p(root: string, ...parts: (string | Buffer)[]): Buffer {
  return Buffer.concat([B(root), ...parts.flatMap((x) => [B('/'), typeof x === 'string' ? B(x) : x])]);
}

export interface TreeOptions {
  /** Bytes of the sparse file (data at its start, middle and end). */
  readonly sparseBytes: number;
}

/**
 * Every entry type: directories (nested, read-only, setgid), files (empty, small, odd
 * sizes, random, setuid, read-only), unicode, long and non-UTF-8 names, symlinks
 * (relative, absolute, dangling, to a directory), hard links (3 names; an empty file
 * with 2), a sparse file and, as root, devices and owners; a fifo. mtimes fixed.
 */
export function makeTree(root: string, opts: TreeOptions): void {
  mkdirSync(root, { recursive: true });
  const dirs = ['a', 'a/b', 'a/b/c', 'ro', 'sg', 'links', 'links/x', '日本語', 'deep'];
  for (const d of dirs) mkdirSync(join(root, d), { recursive: true });
  writeFileSync(join(root, 'empty'), '');
  writeFileSync(join(root, 'a/small.txt'), 'hello, rack\n');
  writeFileSync(join(root, 'a/b/odd.bin'), randomBytes(4097));
  writeFileSync(join(root, 'a/b/c/rand.bin'), randomBytes(300_000));
  writeFileSync(join(root, 'a/one-byte'), 'x');
  writeFileSync(join(root, 'ro/readonly.txt'), 'do not write\n');
  chmodSync(join(root, 'ro/readonly.txt'), 0o444);
  writeFileSync(join(root, 'a/suid'), '#!/bin/sh\n');
  chmodSync(join(root, 'a/suid'), 0o4755);
  writeFileSync(join(root, 'a/private'), 'secret');
  chmodSync(join(root, 'a/private'), 0o600);
  writeFileSync(join(root, '日本語/ファイル.txt'), 'こんにちは\n');
  writeFileSync(join(root, 'héllo wörld.txt'), 'spaces and accents\n');
  writeFileSync(join(root, '🚀.bin'), randomBytes(10));
  // A long name (255 bytes) and a deep path (> 1000 bytes).
  writeFileSync(join(root, 'L'.repeat(250) + '.long'), 'long name\n');
  let deep = join(root, 'deep');
  for (let i = 0; i < 8; i++) {
    deep = join(deep, `${'d'.repeat(120)}${i}`);
    mkdirSync(deep);
  }
  writeFileSync(join(deep, 'bottom.txt'), 'bottom\n');
  // A name that is not UTF-8.
  writeFileSync(p(root, B([0x6e, 0x6f, 0x74, 0x2d, 0xff, 0xfe, 0x2d, 0x75, 0x74, 0x66, 0x38])), 'latin-1 bytes\n');
  // Symlinks.
  symlinkSync('small.txt', join(root, 'a/rel-link'));
  symlinkSync('/etc/passwd', join(root, 'a/abs-link'));
  symlinkSync('does/not/exist', join(root, 'a/dangling'));
  symlinkSync('a/b', join(root, 'dir-link'));
  // Hard links: three names in different directories, and an empty file with two.
  writeFileSync(join(root, 'links/h1'), randomBytes(5000));
  linkSync(join(root, 'links/h1'), join(root, 'links/x/h2'));
  linkSync(join(root, 'links/h1'), join(root, 'a/h3'));
  writeFileSync(join(root, 'links/e1'), '');
  linkSync(join(root, 'links/e1'), join(root, 'links/e2'));
  // A sparse file: data at the start, in the middle and at the end.
  const fd = openSync(join(root, 'sparse.img'), 'w');
  writeSync(fd, B('start'), 0, 5, 0);
  writeSync(fd, randomBytes(8192), 0, 8192, Math.floor(opts.sparseBytes / 2));
  ftruncateSync(fd, opts.sparseBytes);
  writeSync(fd, B('end!'), 0, 4, opts.sparseBytes - 4);
  closeSync(fd);
  execFileSync('mkfifo', [join(root, 'a/fifo')]);
  if (IS_ROOT) {
    execFileSync('mknod', [join(root, 'a/null'), 'c', '1', '3']);
    execFileSync('mknod', [join(root, 'a/blk'), 'b', '7', '200']);
    chownSync(join(root, 'a/small.txt'), 1234, 5678);
    lchownSync(join(root, 'a/rel-link'), 4321, 8765);
    chownSync(join(root, 'a/b'), 1000, 1000);
  }
  chmodSync(join(root, 'sg'), 0o2775);
  // Fixed mtimes, distinct per entry kind (directories last: making entries changes them).
  const t = (s: string) => new Date(s).getTime() / 1000;
  utimesSync(join(root, 'a/small.txt'), t('2001-09-09T01:46:40Z'), t('2001-09-09T01:46:40Z'));
  utimesSync(join(root, 'links/h1'), t('2010-01-01T00:00:00Z'), t('2010-01-01T00:00:00Z'));
  lutimesSync(join(root, 'a/rel-link'), t('1999-12-31T23:59:59Z'), t('1999-12-31T23:59:59Z'));
  for (const d of ['a/b/c', 'a/b', 'ro', 'a']) utimesSync(join(root, d), t('2005-05-05T05:05:05Z'), t('2005-05-05T05:05:05Z'));
  chmodSync(join(root, 'ro'), 0o555);
}

export interface Node {
  readonly type: string;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly size: number;
  readonly mtime: number;
  readonly sha256?: string;
  readonly target?: string;
  readonly rdev?: number;
  /** Other names of the same inode (sorted), for hard links. */
  readonly links?: string;
}

function typeOf(mode: number): string {
  switch (mode & 0o170000) {
    case 0o040000:
      return 'dir';
    case 0o100000:
      return 'file';
    case 0o120000:
      return 'symlink';
    case 0o020000:
      return 'chr';
    case 0o060000:
      return 'blk';
    case 0o010000:
      return 'fifo';
    case 0o140000:
      return 'sock';
    default:
      return `?${mode.toString(8)}`;
  }
}

/** rel path (latin1 of its bytes; "." for the root) → what it is. The unpack marker is left out. */
export function snapshot(root: string, opts: { ignoreRootMtime?: boolean } = {}): Map<string, Node> {
  const out = new Map<string, Node>();
  const inodes = new Map<string, string[]>();
  const walk = (abs: Buffer, rel: Buffer | undefined): void => {
    const st = lstatSync(abs);
    const key = rel === undefined ? '.' : rel.toString('latin1');
    const type = typeOf(st.mode);
    const n: {
      -readonly [K in keyof Node]: Node[K];
    } = {
      type,
      mode: st.mode,
      uid: st.uid,
      gid: st.gid,
      size: type === 'dir' ? 0 : st.size,
      mtime: rel === undefined && opts.ignoreRootMtime === true ? 0 : Math.floor(st.mtimeMs / 1000),
    };
    if (type === 'file') {
      n.sha256 = createHash('sha256').update(readFileSync(abs)).digest('hex');
      if (st.nlink > 1) {
        const ik = `${st.dev}:${st.ino}`;
        inodes.set(ik, [...(inodes.get(ik) ?? []), key]);
        (n as { inode?: string }).inode = ik;
      }
    }
    if (type === 'symlink') n.target = (readlinkSync(abs, { encoding: 'buffer' }) as Buffer).toString('latin1');
    if (type === 'chr' || type === 'blk') n.rdev = st.rdev;
    out.set(key, n);
    if (type === 'dir') {
      for (const name of (readdirSync(abs, { encoding: 'buffer' }) as Buffer[]).sort(Buffer.compare)) {
        if (rel === undefined && name.toString() === INCOMPLETE_MARKER) continue;
        walk(Buffer.concat([abs, B('/'), name]), rel === undefined ? name : Buffer.concat([rel, B('/'), name]));
      }
    }
  };
  walk(B(root), undefined);
  // Replace inode ids by the group of names, which is comparable across trees.
  for (const [k, n] of out) {
    const ik = (n as { inode?: string }).inode;
    if (ik === undefined) continue;
    const { inode: _drop, ...rest } = n as Node & { inode?: string };
    out.set(k, { ...rest, links: (inodes.get(ik) ?? []).sort().join('|') });
  }
  return out;
}

/**
 * GNU cpio 2.13 `-idm` restores the mtimes of files, devices and fifos but not of
 * directories (it sets them before filling them) nor of symlinks: compare with it
 * without those (our unpack restores them; the tests compare those with the source).
 */
export const GNU_CPIO_MTIMES = { skipMtime: (n: Node): boolean => n.type === 'dir' || n.type === 'symlink' };

/** Differences between two snapshots, one line each (empty when identical). */
export function diffTrees(a: Map<string, Node>, b: Map<string, Node>, opts: { skipMtime?: (n: Node) => boolean } = {}): string[] {
  const d: string[] = [];
  for (const [k, na] of a) {
    const nb = b.get(k);
    const name = Buffer.from(k, 'latin1').toString('utf8');
    if (nb === undefined) {
      d.push(`only in first: ${name}`);
      continue;
    }
    for (const f of Object.keys({ ...na, ...nb }) as (keyof Node)[]) {
      if (f === 'mtime' && opts.skipMtime?.(na) === true) continue;
      if (na[f] !== nb[f]) d.push(`${name}: ${f} ${String(na[f])} != ${String(nb[f])}`);
    }
  }
  for (const k of b.keys()) if (!a.has(k)) d.push(`only in second: ${Buffer.from(k, 'latin1').toString('utf8')}`);
  return d;
}

/** `cd dir && find . | cpio -o --format=FORMAT > out` (GNU cpio). */
export function gnuPack(dir: string, format: 'crc' | 'newc' | 'odc', out: string): void {
  const r = spawnSync('sh', ['-c', `find . | cpio -o --quiet --format=${format} > '${out}'`], { cwd: dir, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cpio -o failed: ${r.stderr}`);
}

/** `cd dir && cpio -idm < archive` (GNU cpio); returns its stderr. */
export function gnuUnpack(archive: string, dir: string): string {
  mkdirSync(dir, { recursive: true });
  const r = spawnSync('sh', ['-c', `cpio -idm --quiet < '${archive}'`], { cwd: dir, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cpio -idm failed (${r.status}): ${r.stderr}`);
  return r.stderr;
}

/** Our unpacker fed `data` in chunks whose sizes cycle through `chunkSizes`; finish + commit. */
export async function ourUnpack(
  data: Uint8Array,
  dir: string,
  chunkSizes: readonly number[] = [65536],
  opts: { asRoot?: boolean; sparse?: boolean; decompress?: 'auto' | 'none' } = {},
): Promise<{ sink: Sink; warnings: string[] }> {
  const warnings: string[] = [];
  const sink = await openSink({
    file: undefined,
    pipe: undefined,
    unpack: dir,
    decompress: opts.decompress ?? 'none',
    asRoot: opts.asRoot,
    sparse: opts.sparse,
    warn: (m) => warnings.push(m),
  });
  try {
    let i = 0;
    for (let off = 0; off < data.byteLength; i++) {
      const n = chunkSizes[i % chunkSizes.length]!;
      await sink.write(data.subarray(off, off + n));
      off += n;
    }
    await sink.finish();
    await sink.commit();
  } catch (e) {
    await sink.discard();
    throw e;
  }
  return { sink, warnings };
}

/** One entry as the cpio reader reports it (data as hex). */
export interface CpioRec {
  name: string;
  mode: number;
  nlink: number;
  mtime: number;
  fileBytes: number;
  ino: number;
  uid: number;
  target?: string;
  data: string;
}

/** Everything the cpio reader says about an archive when fed in these pieces. */
export function readCpio(pieces: readonly Uint8Array[]): { recs: CpioRec[]; trailer: boolean } {
  const r = new CpioReader();
  const recs: CpioRec[] = [];
  let trailer = false;
  let cur: CpioRec | undefined;
  let data: Buffer[] = [];
  const on = (ev: CpioEvent): void => {
    switch (ev.kind) {
      case 'entry': {
        const h = ev.header;
        cur = { name: h.name.toString('latin1'), mode: h.mode, nlink: h.nlink, mtime: h.mtime, fileBytes: h.fileBytes, ino: h.ino, uid: h.uid, data: '' };
        if (ev.symlinkTarget !== undefined) cur.target = ev.symlinkTarget.toString('latin1');
        data = [];
        break;
      }
      case 'data':
        data.push(Buffer.from(ev.bytes));
        break;
      case 'entryEnd':
        cur!.data = Buffer.concat(data).toString('hex');
        recs.push(cur!);
        cur = undefined;
        break;
      case 'trailer':
        trailer = true;
        break;
    }
  };
  for (const piece of pieces) {
    r.feed(piece);
    for (let ev = r.poll(); ev !== undefined; ev = r.poll()) on(ev);
  }
  r.end();
  return { recs, trailer };
}
