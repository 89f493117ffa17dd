// pino in the drivers and CLIs only (docs/ARCHITECTURE.md, principle 7): --log FILE gets JSON records; without
// it logs are off (the CLI prints its own one-line messages).
//
// pino (and what it pulls in) is loaded only for --log: loading it costs about 20 ms of CPU
// at every start, which is a tenth of a receiver's CPU for a 128 MiB image.

import type { Logger } from 'pino';

export async function makeLogger(file: string | undefined, role: 'sender' | 'receiver', level = 'info'): Promise<Logger> {
  if (file === undefined) return silentLogger();
  const { default: pino } = await import('pino');
  const dest = pino.destination({ dest: file, sync: true, mkdir: true });
  return pino({ level: process.env.RACKCAST_LOG_LEVEL ?? level, base: { role, pid: process.pid } }, dest);
}

/** What pino({ level: 'silent' }) does, without loading pino: every record is dropped. */
export function silentLogger(): Logger {
  const noop = (): void => undefined;
  const log = {
    level: 'silent',
    fatal: noop,
    error: noop,
    warn: noop,
    info: noop,
    debug: noop,
    trace: noop,
    silent: noop,
    flush: noop,
    isLevelEnabled: () => false,
    bindings: () => ({}),
    setBindings: noop,
    child: () => log,
  };
  // The methods the drivers and CLIs call (and a child of it); a cast, as pino's Logger type
  // also declares its event-emitter and serializer surface, which nothing here uses.
  return log as unknown as Logger;
}
