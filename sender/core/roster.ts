// The rack's hosts as the operator listed them (--hosts): which receivers belong to which
// host, whether every host has a receiver in the session (a start condition), and which
// hosts never showed up (the final table and the exit code).
//
// What holds: the hosts are fixed at start-up; no two hosts share an address or a MAC (the
// hosts file was checked); a receiver belongs to at most one host, for good; a host may
// have several receivers (a node restarted with --streaming rejoins under a new id, and
// several receivers may run on one machine). Without --hosts the roster is empty and
// every JOIN belongs to no host.

/** One line of the hosts file, resolved. */
export interface RosterHost {
  /** As written: a name, an IPv4 address or a MAC. */
  readonly name: string;
  /** The IPv4 addresses that are this host: a name's, resolved at start-up, or the address itself; none for a MAC. */
  readonly addresses: readonly string[];
  /** aa:bb:cc:dd:ee:ff in lower case, for a MAC line. */
  readonly mac: string | undefined;
}

export class Roster {
  private readonly hostByAddress = new Map<string, number>(); // bounded by the hosts' addresses
  private readonly hostByMac = new Map<string, number>(); // bounded by the hosts
  private readonly members: number[][]; // per host, its receivers' ids; bounded by maxReceivers overall

  constructor(private readonly hosts: readonly RosterHost[]) {
    this.members = hosts.map(() => []);
    hosts.forEach((h, i) => {
      for (const a of h.addresses) this.hostByAddress.set(a, i);
      if (h.mac !== undefined) this.hostByMac.set(h.mac, i);
    });
  }

  /** Hosts were listed: a receiver of no host is refused. */
  get listed(): boolean {
    return this.hosts.length > 0;
  }

  get size(): number {
    return this.hosts.length;
  }

  /** The host a receiver at `address` (whose interface has `mac`, if it said) is; undefined: none. */
  hostOf(address: string, mac: string | undefined): number | undefined {
    if (mac !== undefined) {
      const byMac = this.hostByMac.get(mac);
      if (byMac !== undefined) return byMac;
    }
    return this.hostByAddress.get(address);
  }

  nameOf(host: number): string {
    return this.hosts[host]!.name;
  }

  /** Receiver `receiverId` is host `host`'s. */
  attach(host: number, receiverId: number): void {
    this.members[host]!.push(receiverId);
  }

  /** Hosts with at least one receiver for which `counts` holds (e.g. active). */
  hostsWith(counts: (receiverId: number) => boolean): number {
    let n = 0;
    for (const ids of this.members) if (ids.some(counts)) n++;
    return n;
  }

  /** Every host, in file order, with its receivers in join order. */
  list(): { readonly host: RosterHost; readonly receiverIds: readonly number[] }[] {
    return this.hosts.map((host, i) => ({ host, receiverIds: this.members[i]! }));
  }

  /** The hosts that have no receiver at all, in file order. */
  missing(): RosterHost[] {
    return this.hosts.filter((_, i) => this.members[i]!.length === 0);
  }
}
