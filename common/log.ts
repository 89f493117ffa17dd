// pino in the drivers and CLIs only (docs/ARCHITECTURE.md, principle 7): --log FILE gets JSON records; without
// it logs are off (the CLI prints its own one-line messages).

import pino, { type Logger } from 'pino';

export function makeLogger(file: string | undefined, role: 'sender' | 'receiver', level = 'info'): Logger {
  if (file === undefined) return pino({ level: 'silent' });
  const dest = pino.destination({ dest: file, sync: true, mkdir: true });
  return pino({ level: process.env.RACKCAST_LOG_LEVEL ?? level, base: { role, pid: process.pid } }, dest);
}
