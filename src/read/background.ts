import { withTimeout } from '../clock.js';

/**
 * Work started and not awaited (a loader that outlived its soft timeout, a refresh ahead): a closed set,
 * drained by close(), whose loaders are told to stop (their signals are aborted) and whose writes are
 * waited for, at most a bounded time. Nothing here keeps the process alive on its own.
 */
export class Background {
  readonly #work = new Set<Promise<unknown>>();
  readonly #controllers = new Set<AbortController>();

  /** Tracks `work` until it settles; its failure is the caller's to report. */
  add(work: Promise<unknown>): void {
    const tracked = work.then(
      () => undefined,
      () => undefined,
    );
    this.#work.add(tracked);
    void tracked.then(() => this.#work.delete(tracked));
  }

  /** An AbortController for a loader, aborted by drain() until `release()`. */
  controller(): { controller: AbortController; release(): void } {
    const controller = new AbortController();
    this.#controllers.add(controller);
    return { controller, release: () => this.#controllers.delete(controller) };
  }

  get size(): number {
    return this.#work.size;
  }

  /** Aborts every loader still running and waits for the work in flight, at most `timeout` ms (0: no limit). */
  async drain(timeout: number, reason: Error): Promise<boolean> {
    for (const controller of this.#controllers) controller.abort(reason);
    this.#controllers.clear();
    const all = Promise.all([...this.#work]).then(() => true);
    return withTimeout(all, timeout, () => new Error('background work still running')).catch(() => false);
  }
}
