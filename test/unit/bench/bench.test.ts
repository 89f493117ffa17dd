import { describe, expect, it } from 'vitest';
import { type FileKind, parseBenchArgs, parseLossList, parseRateList, parseToolList, runTimeoutMs } from '../../../bench/matrix-args.js';
import { plotsOf } from '../../../bench/matrix-plots.js';
import { type ReportMeta, renderMarkdown, sectionsOf, summaryLines, tableRow } from '../../../bench/matrix-report.js';
import { aliasesAt, runOrder } from '../../../bench/matrix-runs.js';
import { median, type PointKey, peerFailures, type RunRecord, ratio, requiredRatio, summarize, verdicts } from '../../../bench/matrix-summary.js';
import { type ConfigId, RACKCAST_BEST_FEC, UDPCAST_FEC } from '../../../bench/peers.js';
import { UsageError } from '../../../common/errors.js';

const MiB = 1024 * 1024;
const IMAGE = 100 * 1e6; // 100 MB: MB/s = 100 / seconds
const imageBytes = (_: FileKind): number => IMAGE;

function key(lossPermille: number, receivers = 2): PointKey {
  return { file: 'random', rate: 'none', lossMode: 'random', receivers, lossPermille };
}

function run(k: PointKey, config: ConfigId, seconds: number | null, ok = true, extra: Partial<RunRecord> = {}): RunRecord {
  return {
    key: k,
    config,
    rep: 1,
    fec: null,
    ok,
    problems: ok ? [] : ['copy 1 differs (SHA-256)'],
    seconds,
    allExitedSeconds: seconds,
    mbPerSecondPerReceiver: ok && seconds !== null ? IMAGE / 1e6 / seconds : 0,
    senderCpuSeconds: 1,
    receiverCpuSeconds: [1, 1],
    senderCpuSecondsPerGB: 10,
    receiverCpuSecondsPerGB: 5,
    senderMaxRssKiB: 1000,
    wireBytes: IMAGE * 1.1,
    wireBytesPerImageByte: 1.1,
    feedbackPackets: 40,
    feedbackBytes: 4000,
    nftDropped: [0, 0],
    verifiedCopies: ok ? 2 : 1,
    detail: {},
    ...extra,
  };
}

describe('arguments', () => {
  it('full matrix by default', () => {
    const c = parseBenchArgs([]);
    expect(c).toMatchObject({
      quick: false,
      receivers: [1, 4, 8],
      lossPermilles: [0, 10, 50, 100],
      lossModes: ['random'],
      rates: ['none', '1gbit'],
      configs: ['rackcast', 'rackcast-fec', 'udpcast', 'udpcast-fec', 'uftp', 'uftp-tfmcc'],
      files: ['random', 'cpio'],
      reps: 3,
      sizeMiB: 256,
      install: true,
      keep: false,
    });
    expect(c.rackcastFec).toBe(RACKCAST_BEST_FEC);
    expect(c.udpcastFec).toBe(UDPCAST_FEC);
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('--quick: N=2, loss 0 and 5%, 32 MiB random, one rep, one config per tool', () => {
    expect(parseBenchArgs(['--quick'])).toMatchObject({
      quick: true,
      receivers: [2],
      lossPermilles: [0, 50],
      rates: ['none'],
      configs: ['rackcast', 'udpcast', 'uftp'],
      files: ['random'],
      reps: 1,
      sizeMiB: 32,
    });
  });

  it('options override --quick and choose subsets', () => {
    const c = parseBenchArgs([
      '--quick',
      '--receivers',
      '4,1,4',
      '--loss',
      '5,0,0.5',
      '--rate',
      'none,1gbit',
      '--tools',
      'rackcast,udpcast',
      '--file',
      'random',
      '--reps',
      '3',
      '--size',
      '256',
      '--loss-mode',
      'random,burst',
      '--burst-packets',
      '4',
      '--rackcast-fec',
      '0=none,5=8x6/32',
      '--timeout',
      '90',
      '--no-install',
      '--keep',
    ]);
    expect(c).toMatchObject({
      quick: true,
      receivers: [1, 4],
      lossPermilles: [0, 5, 50],
      rates: ['none', '1gbit'],
      configs: ['rackcast', 'rackcast-fec', 'udpcast', 'udpcast-fec'],
      files: ['random'],
      reps: 3,
      sizeMiB: 256,
      lossModes: ['random', 'burst'],
      burstPackets: 4,
      timeoutS: 90,
      install: false,
      keep: true,
    });
    expect(c.rackcastFec).toEqual([
      { fromLossPermille: 0, spec: undefined },
      { fromLossPermille: 50, spec: '8x6/32' },
    ]);
  });

  it('tools: a tool name is all its configs; single configs by name', () => {
    expect(parseToolList('uftp')).toEqual(['uftp', 'uftp-tfmcc']);
    expect(parseToolList('rackcast-default,uftp-line,udpcast-fec')).toEqual(['rackcast', 'udpcast-fec', 'uftp']);
    expect(parseToolList('all')).toHaveLength(6);
    expect(() => parseToolList('norm')).toThrow(UsageError);
  });

  it('loss in percent becomes per mille; rates are none or tc rates', () => {
    expect(parseLossList('10,1,5%,0')).toEqual([0, 10, 50, 100]);
    expect(() => parseLossList('100')).toThrow(UsageError);
    expect(() => parseLossList('-1')).toThrow(UsageError);
    expect(() => parseLossList('0.25')).toThrow(UsageError);
    expect(parseRateList('none,1gbit,600Mbit')).toEqual(['none', '1gbit', '600mbit']);
    expect(() => parseRateList('fast')).toThrow(UsageError);
  });

  it.each([
    ['--receivers', '0'],
    ['--receivers', 'two'],
    ['--reps', '0'],
    ['--size', '1.5'],
    ['--file', 'iso'],
    ['--loss-mode', 'gilbert'],
    ['--rackcast-fec', '5=fast'],
    ['--bogus'],
    ['positional'],
  ])('refuses %s %s', (...argv) => {
    expect(() => parseBenchArgs(argv)).toThrow(UsageError);
  });

  it('timeout: 60 s + 1 s per MiB, 20 s base in quick mode, or --timeout', () => {
    expect(runTimeoutMs({ quick: false, timeoutS: undefined }, 256 * MiB)).toBe(316_000);
    expect(runTimeoutMs({ quick: true, timeoutS: undefined }, 32 * MiB)).toBe(52_000);
    expect(runTimeoutMs({ quick: false, timeoutS: 10 }, 256 * MiB)).toBe(10_000);
    expect(runTimeoutMs({ quick: false, timeoutS: undefined }, 1.5 * MiB)).toBe(62_000);
  });
});

describe('statistics', () => {
  it('median of odd and even counts, Infinity sorting last', () => {
    expect(median([])).toBeNull();
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([1, Infinity, 2])).toBe(2);
    expect(median([1, Infinity])).toBe(Infinity);
    expect(median([Infinity, Infinity])).toBe(Infinity);
  });

  it('ratio is null without a peer or against 0', () => {
    expect(ratio(30, 20)).toBe(1.5);
    expect(ratio(30, null)).toBeNull();
    expect(ratio(30, 0)).toBeNull();
  });

  it('needs 1x below 5% loss and 1.5x from 5%', () => {
    expect(requiredRatio(0)).toBe(1);
    expect(requiredRatio(49)).toBe(1);
    expect(requiredRatio(50)).toBe(1.5);
    expect(requiredRatio(100)).toBe(1.5);
  });

  it('summarizes per point and config; a failed run counts as infinitely slow', () => {
    const k = key(10);
    const rows = summarize(
      [
        run(k, 'rackcast', 2),
        run(k, 'rackcast', 4),
        run(k, 'rackcast', 3),
        run(k, 'udpcast', 5),
        run(k, 'udpcast', 1, false),
        run(k, 'udpcast', 5),
        run(k, 'uftp', 4, false),
        run(k, 'uftp', null, false),
        run(k, 'uftp', 2.5),
      ],
      imageBytes,
    );
    expect(rows.map((r) => r.config)).toEqual(['rackcast', 'udpcast', 'uftp']);
    const [rc, udp, uftp] = rows;
    expect(rc).toMatchObject({ runs: 3, verifiedRuns: 3, medianSeconds: 3, mbPerSecondPerReceiver: 100 / 3 });
    expect(udp).toMatchObject({ runs: 3, verifiedRuns: 2, medianSeconds: 5, mbPerSecondPerReceiver: 20 });
    expect(uftp).toMatchObject({ runs: 3, verifiedRuns: 1, medianSeconds: null, mbPerSecondPerReceiver: 0 });
    // Best peer is udpcast at 20 MB/s (uftp failed twice out of three).
    expect(rc!.ratioToBestPeer).toBeCloseTo(100 / 3 / 20, 10);
    expect(udp!.ratioToBestPeer).toBe(1);
    expect(uftp!.ratioToBestPeer).toBe(0);
    expect(rc!.senderCpuSecondsPerGB).toBe(10);
    expect(uftp!.feedbackPackets).toBe(40);
  });

  it('a config that shared another one’s runs gets a copy of its row', () => {
    const k = key(0);
    const aliases = new Map([
      [`random/none/random/n2/0`, aliasesAt(['rackcast', 'rackcast-fec', 'uftp'], { rackcastFec: RACKCAST_BEST_FEC, udpcastFec: UDPCAST_FEC }, 0)],
    ]);
    const rows = summarize([run(k, 'rackcast', 2), run(k, 'uftp', 4)], imageBytes, aliases);
    expect(rows.map((r) => r.config)).toEqual(['rackcast', 'rackcast-fec', 'uftp']);
    expect(rows[1]).toMatchObject({ sameAs: 'rackcast', mbPerSecondPerReceiver: 50, ratioToBestPeer: 2 });
    expect(tableRow(rows[1]!)).toContain('rackcast --fec (= rackcast)');
  });

  it('aliases only where the table says no FEC and the plain config runs too', () => {
    const fec = { rackcastFec: RACKCAST_BEST_FEC, udpcastFec: UDPCAST_FEC };
    expect([...aliasesAt(['rackcast', 'rackcast-fec'], fec, 0)]).toEqual([['rackcast-fec', 'rackcast']]);
    expect(aliasesAt(['rackcast', 'rackcast-fec'], fec, 50).size).toBe(0);
    expect(aliasesAt(['rackcast-fec'], fec, 0).size).toBe(0);
    expect(aliasesAt(['udpcast', 'udpcast-fec'], fec, 0).size).toBe(0);
  });
});

describe('the bar', () => {
  it('passes at >= 1x below 5% and fails under 1.5x at 5%', () => {
    const low = key(10);
    const high = key(50);
    const rows = summarize(
      [
        run(low, 'rackcast', 4), // 25 MB/s
        run(low, 'uftp', 4), // 25 MB/s: exactly 1x
        run(high, 'rackcast', 4), // 25 MB/s
        run(high, 'rackcast-fec', 3), // 33.3 MB/s, the better rackcast
        run(high, 'uftp', 4), // 25: 1.33x < 1.5x
      ],
      imageBytes,
    );
    const vs = verdicts(rows);
    expect(vs.map((v) => v.pass)).toEqual([true, false]);
    expect(vs[1]).toMatchObject({ requiredRatio: 1.5, rackcastConfig: 'rackcast-fec', peerConfig: 'uftp' });
    expect(vs[1]!.ratio).toBeCloseTo(4 / 3, 10);
    const lines = summaryLines(vs, []);
    expect(lines).toEqual([
      'FAIL random rate=none N=2 loss=5%: rackcast --fec 33.3 MB/s vs uftp -R -1 25.0 MB/s: 1.33x, needs >= 1.5x',
      'bar missed at 1 of 2 points',
    ]);
  });

  it('a rackcast copy that does not verify fails the point even when fast', () => {
    const k = key(0);
    const vs = verdicts(summarize([run(k, 'rackcast', 1), run(k, 'rackcast', 1, false), run(k, 'rackcast', 1), run(k, 'udpcast', 10)], imageBytes));
    expect(vs[0]!.pass).toBe(false);
    expect(vs[0]!.failures).toEqual(['rackcast: 1 of 3 runs did not verify']);
  });

  it('without peers only verification counts; failed peers are noted, not blamed on rackcast', () => {
    const k = key(100);
    const rows = summarize([run(k, 'rackcast', 2), run(k, 'udpcast', null, false)], imageBytes);
    expect(verdicts(rows)[0]!.pass).toBe(true);
    expect(peerFailures(rows)).toEqual(['random rate=none N=2 loss=10%: udpcast: 1 of 1 runs failed or did not verify']);
    expect(verdicts(summarize([run(k, 'rackcast', 2)], imageBytes))[0]).toMatchObject({ pass: true, ratio: null });
  });
});

describe('report', () => {
  const meta: ReportMeta = {
    startedAt: '2026-11-22T00:00:00.000Z',
    commit: 'abc1234',
    dirty: false,
    node: 'v20.20.2',
    cpuModel: 'Test CPU',
    cores: 2,
    kernel: '6.1.0',
    peers: { udpcast: '20120424-2+b1', uftp: '4.10.2-1.1+b2' },
    files: { random: { name: 'random-32MiB.bin', bytes: 32 * MiB, sha256: 'ab'.repeat(32), note: '(crypto-random)' } },
  };

  it('one table row per summary row, with every measure', () => {
    const rows = summarize([run(key(50), 'rackcast', 2, true, { fec: '8x4/32' }), run(key(50), 'udpcast', 5)], imageBytes);
    expect(tableRow(rows[0]!)).toBe('| 2 | 5% | rackcast | 8x4/32 | 2.00 | 50.0 | 2.50x | 10.00 | 5.00 | 1.100 | 40 | 1/1 |');
    const failed = summarize([run(key(50), 'uftp', null, false)], imageBytes)[0]!;
    expect(tableRow(failed)).toBe('| 2 | 5% | uftp -R -1 | — | failed | 0.0 | — | — | — | — | — | 0/1 **BAD** |');
  });

  it('Markdown: machine facts, the bar with a FAIL line per failing point, a table per section, plots', () => {
    const runs = [
      run(key(0), 'rackcast', 2),
      run(key(0), 'uftp', 4),
      run(key(50), 'rackcast', 4),
      run(key(50), 'uftp', 4),
      run({ ...key(0), rate: '1gbit' }, 'rackcast', 2),
    ];
    const rows = summarize(runs, imageBytes);
    const vs = verdicts(rows);
    const md = renderMarkdown({
      meta,
      cfg: parseBenchArgs(['--quick']),
      rows,
      verdicts: vs,
      peerNotes: [],
      plots: [{ file: 'x.svg', title: 'random' }],
    });
    expect(md).toContain('commit abc1234 · Node v20.20.2 · Test CPU × 2 cores');
    expect(md).toContain('udpcast 20120424-2+b1, uftp 4.10.2-1.1+b2');
    expect(md).toContain('- FAIL random rate=none N=2 loss=5%: rackcast 25.0 MB/s vs uftp -R -1 25.0 MB/s: 1.00x, needs >= 1.5x');
    expect(md).toContain('## random image, rate cap none, random loss');
    expect(md).toContain('## random image, rate cap 1gbit, random loss');
    expect(md).toContain('![random](x.svg)');
    expect(md.match(/^\| 2 \|/gm)).toHaveLength(5);
  });

  it('sections and plots: one per file, rate and loss mode', () => {
    const rows = summarize(
      [run(key(0), 'rackcast', 2), run(key(50), 'rackcast', 3), run(key(0, 4), 'uftp', 2), run({ ...key(0), lossMode: 'burst' }, 'rackcast', 2)],
      imageBytes,
    );
    expect(sectionsOf(rows).map((s) => s.title)).toEqual(['random image, rate cap none, random loss', 'random image, rate cap none, burst loss']);
    const plots = plotsOf(rows, meta);
    expect(plots.map((p) => p.name)).toEqual(['random-rate-none', 'random-rate-none-burst']);
    expect(plots[0]!.svg).toContain('rackcast, N=2');
    expect(plots[0]!.svg).toContain('uftp -R -1, N=4');
  });
});

describe('run order', () => {
  it('alternates tools, and each rep starts one further along', () => {
    const all: ConfigId[] = ['rackcast', 'rackcast-fec', 'udpcast', 'udpcast-fec', 'uftp', 'uftp-tfmcc'];
    expect(runOrder(all, 1)).toEqual(['rackcast', 'udpcast', 'uftp', 'rackcast-fec', 'udpcast-fec', 'uftp-tfmcc']);
    expect(runOrder(all, 2)).toEqual(['udpcast', 'uftp', 'rackcast-fec', 'udpcast-fec', 'uftp-tfmcc', 'rackcast']);
    expect(runOrder(['rackcast', 'uftp'], 3)).toEqual(['rackcast', 'uftp']);
    expect(runOrder([], 1)).toEqual([]);
  });
});
