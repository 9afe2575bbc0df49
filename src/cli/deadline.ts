// The one time budget of a command.
import { withTimeout } from '../clock.js';
import { TimeoutError } from './errors.js';

/**
 * `--timeout` for the whole command, not for each step: connecting, waiting for the bus, the store call
 * and closing all draw on one budget, so their waits never add up (a frozen Redis once cost a `get` twice
 * `--timeout`: once for the read, once more for the QUIT that closed the store).
 */
export class Deadline {
  readonly timeout: number;
  readonly #end: number;

  constructor(timeout: number) {
    this.timeout = timeout;
    this.#end = performance.now() + timeout;
    // withTimeout's timers do not hold the process open; this one does, until the budget is spent, so a
    // step waiting on nothing that holds the event loop (a promise no socket will settle) still ends in a
    // TimeoutError rather than an exit with an unsettled top-level await. The command's exit clears it.
    setTimeout(() => {}, timeout);
  }

  /** Milliseconds left, 0 once the budget is spent. */
  remaining(): number {
    return Math.max(0, this.#end - performance.now());
  }

  /** Settles as `promise` does, or rejects with a {@link TimeoutError} naming `what` when the budget runs out first. */
  race<T>(promise: Promise<T>, what: string): Promise<T> {
    const timedOut = () => new TimeoutError(`${what} timed out after ${this.timeout} ms`);
    const left = this.remaining();
    if (left <= 0) {
      promise.catch(() => {});
      return Promise.reject(timedOut());
    }
    return withTimeout(promise, left, timedOut);
  }
}
