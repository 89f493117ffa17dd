// Where a datagram came from, as the drivers report it to the cores. Pure data: the cores
// compare and echo it, never open it.

export interface Endpoint {
  readonly address: string;
  readonly port: number;
}
