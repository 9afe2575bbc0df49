/**
 * One call at a time per key: callers arriving while a call for their key runs share its promise. A
 * finished call releases its key by its own promise, never a newer call's.
 */
export class SingleFlight<T> {
  readonly #running = new Map<string, Promise<T>>();

  run(key: string, start: () => Promise<T>): Promise<T> {
    const running = this.#running.get(key);
    if (running !== undefined) return running;
    const call = start();
    this.#running.set(key, call);
    const release = () => {
      if (this.#running.get(key) === call) this.#running.delete(key);
    };
    call.then(release, release);
    return call;
  }

  /** True while a call for `key` runs. */
  running(key: string): boolean {
    return this.#running.has(key);
  }

  /** Keys with a call running; for tests and diagnostics. */
  get size(): number {
    return this.#running.size;
  }
}
