import { describe, expect, it } from 'vitest';
import { parseLinkStatsJson } from '../../../bench/lab.js';

describe('parseLinkStatsJson', () => {
  it('reads stats64 from `ip -s -j link show dev IF`', () => {
    const text =
      '[{"ifindex":2,"ifname":"eth0","mtu":1500,"stats64":{"rx":{"bytes":1000,"packets":10,"errors":0,"dropped":2,"over_errors":0,"multicast":3},' +
      '"tx":{"bytes":35000000,"packets":24000,"errors":0,"dropped":0,"carrier_errors":0,"collisions":0}}}]';
    expect(parseLinkStatsJson(text)).toEqual({
      rxBytes: 1000,
      rxPackets: 10,
      txBytes: 35000000,
      txPackets: 24000,
      rxDropped: 2,
      txDropped: 0,
    });
  });

  it.each(['', 'not json', '[]', '[{}]', '[{"stats64":{"rx":{"bytes":1}}}]', '{"stats64":{}}', '[null]'])('undefined for %s', (text) => {
    expect(parseLinkStatsJson(text)).toBeUndefined();
  });
});
