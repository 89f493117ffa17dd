// --hosts FILE: the rack's hosts, one per line, as a name, an IPv4 address or a MAC;
// `#` starts a comment; blank lines are skipped. Read and checked once at start-up: a line
// that is none of the three, a host listed twice, or a name that does not resolve is
// refused with its line number (exit 2). Names are resolved here, with the system's
// resolver (/etc/hosts, DNS), to the IPv4 addresses the sender core matches JOINs by.

import { lookup } from 'node:dns/promises';
import { readFile } from 'node:fs/promises';
import { oneLine, UsageError } from '../common/errors.js';
import type { RosterHost } from './core/roster.js';

/** One line of the file, as written: what it is, not yet resolved. */
export interface HostLine {
  readonly line: number;
  readonly kind: 'name' | 'address' | 'mac';
  /** A name as written; an address as written; a MAC normalised to lower-case aa:bb:cc:dd:ee:ff. */
  readonly value: string;
}

/** At most this many hosts (the sender takes at most 1024 receivers). */
export const MAX_HOSTS = 1024;

const MAC = /^[0-9a-f]{2}([:-])[0-9a-f]{2}(?:\1[0-9a-f]{2}){4}$/i;
const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/i;

/** Parses the text of a hosts file; throws UsageError naming the file and the first bad line. */
export function parseHosts(text: string, file: string): HostLine[] {
  const out: HostLine[] = [];
  const seen = new Map<string, number>(); // bounded by MAX_HOSTS
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const bad = (why: string): never => {
      throw new UsageError(`--hosts ${file}: line ${lineNo}: ${why}`);
    };
    const content = lines[i]!.replace(/#.*$/, '').trim();
    if (content === '') continue;
    if (/\s/.test(content)) bad(`one host per line, got "${content}"`);
    const h = classify(content);
    if (typeof h === 'string') bad(h);
    const host = h as Omit<HostLine, 'line'>;
    const key = host.kind === 'name' ? host.value.toLowerCase() : host.value;
    const first = seen.get(key);
    if (first !== undefined) bad(`${content} is already on line ${first}`);
    seen.set(key, lineNo);
    if (out.length >= MAX_HOSTS) bad(`more than ${MAX_HOSTS} hosts`);
    out.push({ line: lineNo, ...host });
  }
  if (out.length === 0) throw new UsageError(`--hosts ${file}: lists no hosts`);
  return out;
}

function classify(token: string): Omit<HostLine, 'line'> | string {
  if (MAC.test(token)) return { kind: 'mac', value: token.toLowerCase().replace(/-/g, ':') };
  const ip = IPV4.exec(token);
  if (ip !== null) {
    const octets = ip.slice(1).map(Number);
    if (octets.some((o) => o > 255)) return `not an IPv4 address: "${token}"`;
    if (octets[0] === 0 || octets[0]! >= 224) return `not a host's address: "${token}" (0.x, multicast or reserved)`;
    return { kind: 'address', value: octets.join('.') };
  }
  if (token.length <= 253 && !/^[\d.]+$/.test(token) && token.split('.').every((l) => LABEL.test(l))) {
    return { kind: 'name', value: token };
  }
  return `not a host name, IPv4 address or MAC: "${token}"`;
}

/** Reads, checks and resolves a hosts file. Throws UsageError (bad file or name) with the line number. */
export async function loadHosts(file: string, resolve: (name: string) => Promise<string[]> = resolveIpv4): Promise<RosterHost[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new UsageError(`--hosts ${file}: ${oneLine(e)}`);
  }
  const lines = parseHosts(text, file);
  const owner = new Map<string, HostLine>(); // address → the line that has it; bounded by the hosts' addresses
  const hosts: RosterHost[] = [];
  for (const l of lines) {
    let addresses: string[] = [];
    if (l.kind === 'address') addresses = [l.value];
    if (l.kind === 'name') {
      try {
        addresses = await resolve(l.value);
      } catch (e) {
        throw new UsageError(`--hosts ${file}: line ${l.line}: cannot resolve ${l.value}: ${oneLine(e)}`);
      }
      if (addresses.length === 0) throw new UsageError(`--hosts ${file}: line ${l.line}: ${l.value} has no IPv4 address`);
    }
    for (const a of addresses) {
      const other = owner.get(a);
      // A receiver is matched by its address: two lines with one address could not be told apart.
      if (other !== undefined) {
        throw new UsageError(`--hosts ${file}: line ${l.line}: ${l.value} is ${a}, as is line ${other.line} (${other.value})`);
      }
      owner.set(a, l);
    }
    hosts.push({ name: l.value, addresses, mac: l.kind === 'mac' ? l.value : undefined });
  }
  return hosts;
}

async function resolveIpv4(name: string): Promise<string[]> {
  const r = await lookup(name, { family: 4, all: true });
  return [...new Set(r.map((x) => x.address))];
}
