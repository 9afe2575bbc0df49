// Child side helpers: send an unsolicited event to the parent, and small timing utilities.
import { setImmediate as immediate } from 'node:timers/promises';

/** Sends `{ event, data }` to the parent; a no-op when not forked. */
export function emit(event, data) {
  if (typeof process.send === 'function') process.send({ type: 'event', event, data });
}

/** Yields to the event loop (timers, I/O) once. */
export function yieldLoop() {
  return immediate();
}

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` (sync or async) until it returns truthy or `timeoutMs` passes. */
export async function waitFor(check, timeoutMs, what, intervalMs = 10) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}
