// Waiting in integration tests for something other processes or sockets make true.

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `cond` every `pollMs` until it holds (true) or `timeoutMs` has passed (false). */
export async function waitFor(cond: () => boolean, timeoutMs: number, pollMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) return false;
    await sleep(pollMs);
  }
  return true;
}
