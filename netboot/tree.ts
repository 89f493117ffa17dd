// The initramfs as a list of entries before it is written: each path says where its bytes
// come from (a host file, bytes made here, a symlink target, a directory), and which part of
// the image it belongs to, for the manifest. Nothing is copied to a staging directory: the
// archive writer reads the host files in sorted path order (netboot/archive.ts), so the
// image depends on the inputs only, never on the order they were added or on host mtimes.
//
// The image has a merged /usr like Debian 12: bin, sbin, lib and lib64 are symlinks into usr,
// and imagePath() maps a host path such as /lib/x86_64-linux-gnu/libc.so.6 to its place
// under usr, so ldd's answers and the real tools' paths land where the dynamic loader and
// PATH look for them.

import { realpathSync, statSync } from 'node:fs';

/** What part of the image an entry belongs to (the manifest adds sizes up by part). */
export type Part = 'node' | 'libs' | 'rackcast' | 'modules' | 'tools' | 'busybox' | 'init';

export type TreeEntry =
  | { readonly kind: 'dir'; readonly mode: number }
  | { readonly kind: 'file'; readonly source: string; readonly bytes: number; readonly mode: number; readonly part: Part }
  | { readonly kind: 'data'; readonly data: Buffer; readonly mode: number; readonly part: Part }
  | { readonly kind: 'symlink'; readonly target: string; readonly part: Part };

/** Top-level directories that are symlinks into usr (merged /usr). */
export const MERGED_USR_DIRS: readonly string[] = ['bin', 'sbin', 'lib', 'lib64'];

/** Where a host path goes in the image: relative, with /bin, /sbin, /lib, /lib64 under usr. */
export function imagePath(hostPath: string): string {
  const rel = hostPath.replace(/^\/+/, '').replace(/\/+$/, '');
  const top = rel.split('/')[0]!;
  return MERGED_USR_DIRS.includes(top) ? `usr/${rel}` : rel;
}

export interface AddOptions {
  readonly part: Part;
  /** Permission bits; default: the source file's (files), 0o644 (data). */
  readonly mode?: number;
  /** Replace an entry already at this path (a busybox applet link a real tool takes over). */
  readonly replace?: boolean;
}

export class ImageTree {
  // Bounded by the image: one entry per file, link and directory (about 1,000), built once.
  private readonly entries = new Map<string, TreeEntry>();

  constructor() {
    for (const d of MERGED_USR_DIRS) this.addSymlink(d, `usr/${d}`, { part: 'init' });
  }

  has(path: string): boolean {
    return this.entries.has(path);
  }

  get(path: string): TreeEntry | undefined {
    return this.entries.get(path);
  }

  addDir(path: string, mode = 0o755): void {
    this.checkPath(path);
    const parent = parentOf(path);
    if (parent !== '') this.addDir(parent);
    const have = this.entries.get(path);
    if (have === undefined) this.entries.set(path, { kind: 'dir', mode });
    else if (have.kind !== 'dir') throw new Error(`image path ${path} is already a ${have.kind}, not a directory`);
  }

  addFile(path: string, source: string, opt: AddOptions): void {
    const st = statSync(source); // follows symlinks: the image gets the content
    if (!st.isFile()) throw new Error(`${source} is not a regular file`);
    const mode = opt.mode ?? st.mode & 0o7777;
    // By its real path: /lib/x86_64-linux-gnu/libc.so.6 from one ldd and /usr/lib/... from
    // another are the same file, not a conflict.
    this.put(path, { kind: 'file', source: realpathSync(source), bytes: st.size, mode, part: opt.part }, opt.replace === true);
  }

  addData(path: string, data: Buffer | string, opt: AddOptions): void {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    this.put(path, { kind: 'data', data: bytes, mode: opt.mode ?? 0o644, part: opt.part }, opt.replace === true);
  }

  addSymlink(path: string, target: string, opt: AddOptions): void {
    this.put(path, { kind: 'symlink', target, part: opt.part }, opt.replace === true);
  }

  /** Every entry, sorted by path bytes: a parent always comes before what it holds. */
  sorted(): [string, TreeEntry][] {
    return [...this.entries.entries()].sort(([a], [b]) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  }

  private put(path: string, e: TreeEntry, replace: boolean): void {
    this.checkPath(path);
    const parent = parentOf(path);
    if (parent !== '') this.addDir(parent);
    const have = this.entries.get(path);
    if (have !== undefined && !replace && !sameEntry(have, e)) {
      throw new Error(`image path ${path} is added twice (${describe(have)}, then ${describe(e)})`);
    }
    this.entries.set(path, e);
  }

  /** Refuses absolute or dotted paths and paths beneath a symlink (the kernel would not follow it). */
  private checkPath(path: string): void {
    if (path === '' || path.startsWith('/') || path.split('/').some((s) => s === '' || s === '.' || s === '..')) {
      throw new Error(`bad image path ${JSON.stringify(path)}`);
    }
    let p = parentOf(path);
    while (p !== '') {
      if (this.entries.get(p)?.kind === 'symlink') throw new Error(`image path ${path} lies beneath the symlink ${p}`);
      p = parentOf(p);
    }
  }
}

function parentOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? '' : path.slice(0, i);
}

function sameEntry(a: TreeEntry, b: TreeEntry): boolean {
  if (a.kind === 'file' && b.kind === 'file') return a.source === b.source && a.mode === b.mode;
  if (a.kind === 'symlink' && b.kind === 'symlink') return a.target === b.target;
  if (a.kind === 'data' && b.kind === 'data') return a.data.equals(b.data) && a.mode === b.mode;
  return false;
}

function describe(e: TreeEntry): string {
  switch (e.kind) {
    case 'file':
      return `file ${e.source}`;
    case 'symlink':
      return `symlink to ${e.target}`;
    case 'data':
      return `${e.data.length} bytes`;
    case 'dir':
      return 'directory';
  }
}

/** Bytes an entry adds to the unpacked image (its file data; 0 for dirs). */
export function entryBytes(e: TreeEntry): number {
  switch (e.kind) {
    case 'file':
      return e.bytes;
    case 'data':
      return e.data.length;
    case 'symlink':
      return Buffer.byteLength(e.target);
    case 'dir':
      return 0;
  }
}
