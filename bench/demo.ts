// `npm run demo`: the main job on an embedded default. Makes a sample disk image,
// sends it with udp-sender to three udp-receivers on this machine (loopback
// multicast), and prints each copy's verification and a summary table.

import { spawn } from 'node:child_process';
import { createHash, randomBytes, randomInt } from 'node:crypto';
import { createReadStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const RECEIVERS = 3;
const IMAGE_MIB = 48;
const here = dirname(fileURLToPath(import.meta.url));
const senderCli = join(here, '..', 'sender', 'cli.js');
const receiverCli = join(here, '..', 'receiver', 'cli.js');

/** A disk-like image: stretches of random data (files), text (configs) and zeros (free space). */
function sampleImage(bytes: number): Buffer {
  const out = Buffer.alloc(bytes);
  let off = 0;
  while (off < bytes) {
    const n = Math.min(bytes - off, randomInt(64, 2048) * 1024);
    const kind = randomInt(0, 3);
    if (kind === 0) randomBytes(n).copy(out, off);
    else if (kind === 1) out.fill('rackcast demo: /etc/hosts 198.18.0.1 node01\n', off, off + n);
    off += n;
  }
  return out;
}

function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(path)
      .on('data', (c) => h.update(c))
      .on('end', () => resolve(h.digest('hex')))
      .on('error', reject);
  });
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(cli: string, args: string[]): { done: Promise<Run>; pid: number | undefined } {
  const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const done = new Promise<Run>((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
  return { done, pid: child.pid };
}

async function main(): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'rackcast-demo-'));
  try {
    const image = join(dir, 'node.img');
    writeFileSync(image, sampleImage(IMAGE_MIB * 1024 * 1024));
    const want = await sha256File(image);
    // A random port and group pair, so the demo never meets another transfer.
    const portbase = 2 * randomInt(15000, 30000);
    const group = randomInt(1, 250);
    const net = ['--interface', '127.0.0.1', '--portbase', String(portbase), '--mcast-rdv-address', `239.192.${group}.2`];
    console.log(`rackcast demo: sending a ${IMAGE_MIB} MiB sample image to ${RECEIVERS} receivers on loopback multicast`);
    console.log(`  image ${image}  sha256 ${want}`);
    const receivers = Array.from({ length: RECEIVERS }, (_, i) =>
      run(receiverCli, [...net, '--file', join(dir, `node${i + 1}.img`), '--json', '--receive-timeout', '20']),
    );
    await new Promise((r) => setTimeout(r, 500));
    const sender = run(senderCli, [
      ...net,
      '--mcast-data-address',
      `239.192.${group}.1`,
      '--file',
      image,
      '--min-receivers',
      String(RECEIVERS),
      '--max-wait',
      '10',
      '--json',
    ]);
    const s = await sender.done;
    const rs = await Promise.all(receivers.map((r) => r.done));
    process.stderr.write(s.stderr);
    const report = JSON.parse(s.stdout.trim().split('\n').pop() || '{}') as {
      ok?: boolean;
      seconds?: number;
      bytes?: number;
      stats?: { dataPackets: number; repairPackets: number };
    };
    console.log('\n  copy        exit  sha256 matches  MB/s');
    let allOk = s.code === 0;
    for (let i = 0; i < RECEIVERS; i++) {
      const out = join(dir, `node${i + 1}.img`);
      const got = await sha256File(out).catch(() => '(no file)');
      const j = JSON.parse(rs[i]!.stdout.trim() || '{}') as { bytes?: number; seconds?: number };
      const rate = j.seconds ? (j.bytes! / 1e6 / j.seconds).toFixed(1) : '-';
      const ok = rs[i]!.code === 0 && got === want;
      allOk &&= ok;
      console.log(`  node${i + 1}.img   ${String(rs[i]!.code).padEnd(4)}  ${(got === want ? 'yes' : 'NO').padEnd(14)}  ${rate}`);
      if (rs[i]!.code !== 0) process.stderr.write(rs[i]!.stderr);
    }
    console.log(
      `\n  sender exit ${s.code}, ${report.seconds?.toFixed(2)} s, ${report.stats?.dataPackets} datagrams ` + `(${report.stats?.repairPackets} repair)`,
    );
    console.log(allOk ? '\nrackcast demo: every copy verified.' : '\nrackcast demo: FAILED (see above).');
    return allOk ? 0 : 1;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(`rackcast demo: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  },
);
