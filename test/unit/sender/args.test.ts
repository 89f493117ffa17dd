import { describe, expect, it } from 'vitest';
import { UsageError } from '../../../common/errors.js';
import { defaultGeometry, LARGE_RACK_RECEIVERS, parseFec, parseSenderArgs, retainSlicesFor } from '../../../sender/args.js';

const base = ['--file', '/dev/null', '--min-receivers', '1'];

describe('--fec', () => {
  it("parses udpcast's <stripes>x<redundancy>/<stripesize>", () => {
    expect(parseFec('8x4/32')).toEqual({ stripes: 8, redundancy: 4, stripeBlocks: 32 });
    const a = parseSenderArgs([...base, '--fec', '8x4/32'], false);
    expect(a.core).toMatchObject({ stripes: 8, redundancy: 4, sliceBlocks: 256, async: false });
  });

  it.each(['8x4', 'x4/32', '8x4/0', '0x4/32', '129x1/8', '1x40/224', '8x4/225', '32x1/200', 'abc'])('refuses %s', (text) => {
    expect(() => parseFec(text)).toThrow(UsageError);
  });

  it('without --fec: 256 blocks a slice in stripes of 32, parity ahead chosen automatically', () => {
    expect(parseSenderArgs(base, false).core).toMatchObject({ stripes: 8, redundancy: 0, sliceBlocks: 256, autoParity: true });
    expect(parseSenderArgs([...base, '--slice-blocks', '100'], false).core).toMatchObject({ stripes: 4, sliceBlocks: 100, autoParity: true });
  });

  it('a rack of LARGE_RACK_RECEIVERS or more named by --min-receivers: 512 blocks a slice in 4 stripes of 128, unless --fec or --slice-blocks chose', () => {
    const rack = (n: number, ...more: string[]) => parseSenderArgs(['--file', '/dev/null', '--min-receivers', String(n), ...more], false);
    expect(LARGE_RACK_RECEIVERS).toBe(100);
    expect(rack(99).core).toMatchObject({ stripes: 8, sliceBlocks: 256, autoParity: true });
    expect(rack(99).geometryFixed).toBe(false);
    const large = rack(100);
    expect(large.core).toMatchObject({ stripes: 4, sliceBlocks: 512, autoParity: true, retainSlices: retainSlicesFor(512, large.core.blockBytes) });
    expect(large.geometryFixed).toBe(false);
    expect(rack(1000, '--fec', '8x4/32').core).toMatchObject({ stripes: 8, sliceBlocks: 256, redundancy: 4 });
    expect(rack(1000, '--fec', '8x4/32').geometryFixed).toBe(true);
    expect(rack(1000, '--slice-blocks', '256').core).toMatchObject({ stripes: 8, sliceBlocks: 256 });
    expect(rack(1000, '--slice-blocks', '256').geometryFixed).toBe(true);
    // --hosts: the CLI counts the hosts once it has read the file (sender/cli.ts).
    expect(defaultGeometry(0)).toEqual({ sliceBlocks: 256, stripes: 8 });
    expect(defaultGeometry(250)).toEqual({ sliceBlocks: 512, stripes: 4 });
  });

  it('--fec keeps its fixed parity: no automatic parity, also with 0 redundancy', () => {
    expect(parseSenderArgs([...base, '--fec', '8x0/32'], false).core).toMatchObject({ stripes: 8, redundancy: 0, autoParity: false });
    expect(parseSenderArgs([...base, '--fec', '8x4/32'], false).core).toMatchObject({ stripes: 8, redundancy: 4, autoParity: false });
  });
});

describe('--async', () => {
  it('needs --fec with redundancy and --max-bitrate, each with its own message', () => {
    expect(() => parseSenderArgs([...base, '--async', '--max-bitrate', '100m'], false)).toThrow(/--async needs --fec/);
    expect(() => parseSenderArgs([...base, '--async', '--fec', '8x0/32', '--max-bitrate', '100m'], false)).toThrow(/--async needs --fec/);
    expect(() => parseSenderArgs([...base, '--async', '--fec', '8x4/32'], false)).toThrow(/--async needs --max-bitrate/);
  });

  it('needs no start condition (nobody joins)', () => {
    const a = parseSenderArgs(['--file', '/dev/null', '--async', '--fec', '8x4/32', '--max-bitrate', '100m'], false);
    expect(a.core).toMatchObject({ async: true, maxBitrateBps: 100e6 });
  });
});

describe('--streaming', () => {
  it('is off by default and on with the flag', () => {
    expect(parseSenderArgs(base, false).core.streaming).toBe(false);
    expect(parseSenderArgs([...base, '--streaming'], false).core.streaming).toBe(true);
  });

  it.each([
    [['--min-receivers', '1', '--streaming'], /--streaming needs --file/],
    [[...base, '--streaming', '--pipe', 'gzip -c'], /--streaming needs --file .*without --pipe or --compress/],
    [[...base, '--streaming', '--compress', 'lz4'], /--streaming needs --file/],
    [['--pack', '/tmp', '--min-receivers', '1', '--streaming'], /--streaming needs --file/],
    [['--file', '/dev/null', '--streaming', '--async', '--fec', '8x4/32', '--max-bitrate', '100m'], /--streaming needs a return channel/],
  ])('refuses %j with a usage error', (argv, message) => {
    expect(() => parseSenderArgs(argv, false)).toThrow(UsageError);
    expect(() => parseSenderArgs(argv, false)).toThrow(message);
  });
});

describe('--async start and --carousel', () => {
  const asyncArgs = ['--file', '/dev/null', '--async', '--fec', '8x4/32', '--max-bitrate', '100m'];

  it('announces 2 s by default, so receivers already waiting are in the data group before the first slice', () => {
    expect(parseSenderArgs(asyncArgs, false).core.minWaitMs).toBe(2000);
    expect(parseSenderArgs([...asyncArgs, '--min-wait', '0.5'], false).core.minWaitMs).toBe(500);
    expect(parseSenderArgs(base, false).core.minWaitMs).toBe(0);
  });

  it('--carousel N: passes as given; left to the CLI when not given', () => {
    expect(parseSenderArgs([...asyncArgs, '--carousel', '3'], false).core.carouselPasses).toBe(3);
    expect(parseSenderArgs(asyncArgs, false).carousel).toBeUndefined();
    expect(parseSenderArgs(asyncArgs, false).core.carouselPasses).toBe(1);
  });

  it('--carousel needs --async, and a file to read again', () => {
    expect(() => parseSenderArgs([...base, '--carousel', '2'], false)).toThrow(/--carousel needs --async/);
    expect(() => parseSenderArgs(['--async', '--fec', '8x4/32', '--max-bitrate', '100m', '--carousel', '2'], false)).toThrow(/--carousel needs --file/);
    expect(() => parseSenderArgs([...asyncArgs, '--compress', 'lz4', '--carousel', '2'], false)).toThrow(/--carousel needs --file/);
    expect(() => parseSenderArgs([...asyncArgs, '--carousel', '0'], false)).toThrow(/--carousel: must be between 1 and 1000/);
    expect(parseSenderArgs(['--async', '--fec', '8x4/32', '--max-bitrate', '100m', '--carousel', '1'], false).core.carouselPasses).toBe(1);
  });
});

describe('the catch-up pass', () => {
  it('is on by default, off with --no-catch-up and with --async (no return channel)', () => {
    expect(parseSenderArgs(base, false).core).toMatchObject({ catchUp: true, minRateBytesPerSec: undefined });
    expect(parseSenderArgs([...base, '--no-catch-up'], false).core.catchUp).toBe(false);
    const a = parseSenderArgs(['--file', '/dev/null', '--async', '--fec', '8x4/32', '--max-bitrate', '100m'], false);
    expect(a.core.catchUp).toBe(false);
  });

  it('--min-rate is a bit rate like --max-bitrate, kept in bytes per second', () => {
    expect(parseSenderArgs([...base, '--min-rate', '80m'], false).core.minRateBytesPerSec).toBe(10e6);
  });

  it('--min-rate needs the catch-up pass: refused with --no-catch-up and with --async, naming which', () => {
    expect(() => parseSenderArgs([...base, '--min-rate', '80m', '--no-catch-up'], false)).toThrow(
      /--min-rate needs the catch-up pass: it cannot go with --no-catch-up/,
    );
    expect(() => parseSenderArgs(['--file', '/dev/null', '--async', '--fec', '8x4/32', '--max-bitrate', '100m', '--min-rate', '80m'], false)).toThrow(
      /--min-rate needs the catch-up pass: it cannot go with --async/,
    );
  });
});

describe('--key-file and pacing', () => {
  it('the seal trailer is counted by the pacer (sealBytes), and taken off the block size', () => {
    const plain = parseSenderArgs([...base, '--max-bitrate', '100m'], false).core;
    const sealed = parseSenderArgs([...base, '--max-bitrate', '100m', '--key-file', '/nonexistent/key'], false).core;
    expect(plain.sealBytes).toBe(0);
    expect(sealed.sealBytes).toBe(28);
    expect(sealed.blockBytes).toBe(plain.blockBytes - 28);
  });
});

describe('the keyboard (Enter starts the transfer)', () => {
  it('is read when stdin is a terminal and the image comes from --file', () => {
    expect(parseSenderArgs(base, true).keyboard).toBe(true);
    expect(parseSenderArgs(base, false).keyboard).toBe(false);
  });

  it('--nokbd turns it off on a terminal (FOG and Clonezilla pass it)', () => {
    const a = parseSenderArgs([...base, '--nokbd'], true);
    expect(a.keyboard).toBe(false);
    expect(a.core.waitForKey).toBe(false);
  });

  it('--nokbd with no other start condition is refused, naming what would start it', () => {
    expect(() => parseSenderArgs(['--file', '/dev/null', '--nokbd'], true)).toThrow(/nothing would start the transfer/);
  });
});
