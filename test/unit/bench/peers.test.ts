import { describe, expect, it } from 'vitest';
import {
  fecFor,
  formatFecTable,
  missingPackages,
  neededCommands,
  type PlanContext,
  parseFecTable,
  parseTimeReport,
  parseUdpReceiverStderr,
  parseUdpSenderStderr,
  parseUftpStatus,
  planRun,
  RACKCAST_BEST_FEC,
  UDPCAST_DATA_GROUP,
  UDPCAST_FEC,
  UFTP_PRIVATE_GROUP,
  UFTP_PUBLIC_GROUP,
  uftpClientId,
  uftpCopiedTargets,
} from '../../../bench/peers.js';

// Captured from Debian's udpcast 20120424 in the lab (progress lines end in \r, the
// last line in a bell).
const UDP_SENDER_STDERR =
  'Udp-sender 20120424\nUsing full duplex mode\nUDP sender for /tmp/in.bin at 198.18.0.1 on eth0 \n' +
  'Broadcasting control to 198.18.0.255\nNew connection from 198.18.0.12  (#0) 00000009\n' +
  'New connection from 198.18.0.11  (#1) 00000009\nStarting transfer: 00000009\n' +
  'bytes=  8 388 608  re-xmits=0000596 (  5.1%) slice=0112 -   0\r' +
  'bytes= 16 777 216  re-xmits=0002707 ( 23.4%) slice=0112 -   1\r\n' +
  'Transfer complete.\u0007\nDisconnecting #0 (198.18.0.12)\nDisconnecting #1 (198.18.0.11)\n\n';

const UDP_RECEIVER_STDERR =
  'Udp-receiver 20120424\nUDP receiver for /tmp/out0 at 198.18.0.11 on eth0\nreceived message, cap=00000009\n' +
  'Connected as #1 to 198.18.0.1\nListening to multicast on 239.192.68.1\n' +
  'bytes=     163 072  (393.41 Mbps)\rbytes= 16 777 216  (167.37 Mbps)\r\nTransfer complete.\u0007\n';

// uftp 4.10.2 -S status file, two clients.
const UFTP_STATUS = [
  'CONNECT;success;0x00000001',
  'CONNECT;success;0x00000002',
  'RESULT;0x00000001;in.bin;16384KB;copy;46887.52KB/s',
  'RESULT;0x00000002;in.bin;16384KB;copy;46906.85KB/s',
  'HSTATS;target;copy;overwrite;skip;totalMB;time;speedKB/s',
  'STATS;0x00000001;1;0;0;16MB;0.349;46887.52KB/s',
  'STATS;0x00000002;1;0;0;16MB;0.349;46906.85KB/s',
  '',
].join('\n');

const ctx: PlanContext = {
  nodePath: '/usr/bin/node',
  root: '/src/rackcast',
  inputPath: '/tmp/w/random-32MiB.bin',
  outputSuffix: '.bin',
  workDir: '/tmp/w/run1',
  senderAddr: '198.18.0.1',
  receiverAddrs: ['198.18.0.11', '198.18.0.12'],
  lossPermille: 50,
  rackcastFec: RACKCAST_BEST_FEC,
  udpcastFec: UDPCAST_FEC,
};

describe('udpcast output', () => {
  it('reads the last progress line of udp-sender and "Transfer complete." with its bell', () => {
    expect(parseUdpSenderStderr(UDP_SENDER_STDERR)).toEqual({ bytes: 16777216, rexmits: 2707, connections: 2, complete: true });
  });

  it('an interrupted sender is not complete', () => {
    const cut = UDP_SENDER_STDERR.slice(0, UDP_SENDER_STDERR.indexOf('Transfer'));
    expect(parseUdpSenderStderr(cut).complete).toBe(false);
    expect(parseUdpSenderStderr('')).toEqual({ bytes: undefined, rexmits: undefined, connections: 0, complete: false });
  });

  it('reads udp-receiver', () => {
    expect(parseUdpReceiverStderr(UDP_RECEIVER_STDERR)).toEqual({ bytes: 16777216, complete: true });
    expect(parseUdpReceiverStderr('Udp-receiver 20120424\n').complete).toBe(false);
  });
});

describe('uftp status file', () => {
  it('parses CONNECT, RESULT and STATS lines and skips the HSTATS header', () => {
    const s = parseUftpStatus(UFTP_STATUS);
    expect(s.connects).toEqual([
      { target: '0x00000001', ok: true },
      { target: '0x00000002', ok: true },
    ]);
    expect(s.results[1]).toEqual({ target: '0x00000002', file: 'in.bin', sizeKB: 16384, status: 'copy', speedKBps: 46906.85 });
    expect(s.stats).toEqual([
      { target: '0x00000001', copied: 1, seconds: 0.349, speedKBps: 46887.52 },
      { target: '0x00000002', copied: 1, seconds: 0.349, speedKBps: 46906.85 },
    ]);
    expect([...uftpCopiedTargets(s)].sort()).toEqual(['0x00000001', '0x00000002']);
  });

  it('a client that failed or was rejected has no copy', () => {
    const s = parseUftpStatus('CONNECT;failed;0x00000002\nRESULT;0x00000001;in.bin;16384KB;rejected;0KB/s\ngarbage;;\n');
    expect(s.connects).toEqual([{ target: '0x00000002', ok: false }]);
    expect(uftpCopiedTargets(s).size).toBe(0);
  });
});

describe('GNU time report', () => {
  it('parses the bench format', () => {
    expect(parseTimeReport('RCBENCH_TIME 2.28 0.01 0.23 8248 0\n')).toEqual({
      wallSeconds: 2.28,
      userSeconds: 0.01,
      systemSeconds: 0.23,
      maxRssKiB: 8248,
      exitStatus: 0,
    });
  });

  it('notes a program killed by a signal', () => {
    const u = parseTimeReport('Command terminated by signal 15\nRCBENCH_TIME 5.10 0.30 1.20 9000 0\n');
    expect(u?.terminatedBySignal).toBe(15);
    expect(u?.userSeconds).toBe(0.3);
  });

  it('is undefined without the line', () => {
    expect(parseTimeReport('')).toBeUndefined();
    expect(parseTimeReport('RCBENCH_TIME 1 2 3\n')).toBeUndefined();
  });
});

describe('FEC tables', () => {
  it('the entry with the largest loss not above the point applies', () => {
    expect(fecFor(RACKCAST_BEST_FEC, 0)).toBeUndefined();
    expect(fecFor(RACKCAST_BEST_FEC, 10)).toBe('8x4/32');
    expect(fecFor(RACKCAST_BEST_FEC, 50)).toBe('8x4/32');
    expect(fecFor(RACKCAST_BEST_FEC, 100)).toBe('8x8/32');
    expect(fecFor(RACKCAST_BEST_FEC, 300)).toBe('8x8/32');
    expect(fecFor([{ fromLossPermille: 10, spec: '8x4/32' }], 5)).toBeUndefined();
  });

  it('parses and formats LOSS%=SPEC lists', () => {
    const t = parseFecTable('10=8x8/32, 0=none,1=8x4/32,2.5%=8x6/32');
    expect(t).toEqual([
      { fromLossPermille: 0, spec: undefined },
      { fromLossPermille: 10, spec: '8x4/32' },
      { fromLossPermille: 25, spec: '8x6/32' },
      { fromLossPermille: 100, spec: '8x8/32' },
    ]);
    expect(formatFecTable(t)).toBe('0=none,1=8x4/32,2.5=8x6/32,10=8x8/32');
    expect(parseFecTable(formatFecTable(UDPCAST_FEC))).toEqual(UDPCAST_FEC);
  });

  it.each(['', '5', '5=', 'x=8x4/32', '5=8x4/32,5=none', '101=none', '5=fast'])('refuses "%s"', (text) => {
    expect(() => parseFecTable(text)).toThrow(RangeError);
  });
});

describe('plans', () => {
  it('rackcast: the built CLIs, --json, --fec from the table at this loss', () => {
    const p = planRun('rackcast-fec', ctx);
    expect(p.fec).toBe('8x4/32');
    expect(p.sender).toEqual([
      '/usr/bin/node',
      '/src/rackcast/dist/sender/cli.js',
      '--file',
      '/tmp/w/random-32MiB.bin',
      '--nokbd',
      '--min-receivers',
      '2',
      '--interface',
      '198.18.0.1',
      '--json',
      '--fec',
      '8x4/32',
    ]);
    expect(p.receivers[1]).toEqual([
      '/usr/bin/node',
      '/src/rackcast/dist/receiver/cli.js',
      '--file',
      '/tmp/w/run1/copy-2.bin',
      '--interface',
      '198.18.0.12',
      '--json',
    ]);
    expect(p.receiversAreDaemons).toBe(false);
    expect(planRun('rackcast', ctx).sender).not.toContain('--fec');
    expect(planRun('rackcast-fec', { ...ctx, lossPermille: 0 }).sender).not.toContain('--fec');
  });

  it('udpcast: data group in 239/8, eth0, --min-receivers, --fec only in its fec config', () => {
    const p = planRun('udpcast', ctx);
    expect(p.sender).toEqual([
      'udp-sender',
      '--file',
      '/tmp/w/random-32MiB.bin',
      '--nokbd',
      '--min-receivers',
      '2',
      '--interface',
      'eth0',
      '--mcast-data-address',
      UDPCAST_DATA_GROUP,
    ]);
    expect(UDPCAST_DATA_GROUP.startsWith('239.')).toBe(true);
    expect(p.receivers[0]).toEqual(['udp-receiver', '--file', '/tmp/w/run1/copy-1.bin', '--nokbd', '--interface', 'eth0']);
    expect(planRun('udpcast-fec', ctx).sender.slice(-2)).toEqual(['--fec', '8x8/128']);
  });

  it('uftp: closed group of fixed client ids, 239/8 groups, line rate or TFMCC, copies under each -D', () => {
    const p = planRun('uftp', ctx);
    expect(p.sender).toEqual([
      'uftp',
      '-I',
      'eth0',
      '-M',
      UFTP_PUBLIC_GROUP,
      '-P',
      UFTP_PRIVATE_GROUP,
      '-H',
      '0x00000001,0x00000002',
      '-R',
      '-1',
      '-S',
      '/tmp/w/run1/uftp-status.txt',
      '/tmp/w/random-32MiB.bin',
    ]);
    expect(p.receivers[1]).toEqual(['uftpd', '-d', '-q', '-I', 'eth0', '-M', UFTP_PUBLIC_GROUP, '-U', '0x00000002', '-D', '/tmp/w/run1/uftpd-2']);
    expect(p.outputs).toEqual(['/tmp/w/run1/uftpd-1/random-32MiB.bin', '/tmp/w/run1/uftpd-2/random-32MiB.bin']);
    expect(p.dirs).toEqual(['/tmp/w/run1/uftpd-1', '/tmp/w/run1/uftpd-2']);
    expect(p.receiversAreDaemons).toBe(true);
    const t = planRun('uftp-tfmcc', ctx).sender;
    expect(t).toContain('tfmcc');
    expect(t).not.toContain('-R');
    for (const g of [UFTP_PUBLIC_GROUP, UFTP_PRIVATE_GROUP]) expect(g.startsWith('239.')).toBe(true);
  });

  it('client ids are 8 hex digits', () => {
    expect(uftpClientId(0)).toBe('0x00000001');
    expect(uftpClientId(15)).toBe('0x00000010');
  });
});

describe('peer packages', () => {
  it('names the Debian packages of what is missing, once each', () => {
    const cmds = neededCommands(['rackcast', 'udpcast', 'uftp'], true);
    expect(cmds).toEqual(expect.arrayContaining(['/usr/bin/time', 'setpriv', 'udp-sender', 'udp-receiver', 'uftp', 'uftpd', 'cpio', 'gzip']));
    expect(missingPackages(cmds, (c) => !['udp-sender', 'udp-receiver', 'uftpd', '/usr/bin/time'].includes(c))).toEqual(['time', 'udpcast', 'uftp']);
    expect(missingPackages(cmds, () => true)).toEqual([]);
    expect(neededCommands(['rackcast'], false)).toEqual(['/usr/bin/time', 'setpriv']);
  });
});
