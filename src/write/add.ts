import { withTimeout } from '../clock.js';
import { BusError } from '../errors.js';
import type { KeyLock } from '../read/lock.js';

/** How long an add waits to take a key's add lock, and how long it holds it at most. */
const ADD_LOCK = { wait: 5_000, ttl: 10_000, poll: 10 } as const;

/**
 * Makes a check-then-write atomic where the store itself cannot (it has no set-if-absent): across
 * processes with a short lock per key on the bus's Redis, else within this process only. Every `add`
 * of a key takes the same lock, so of two adds at the same moment exactly one writes; a plain `set`
 * takes no lock and may land between another's check and write.
 */
export class AddGuard {
  readonly #lock: KeyLock | undefined;
  readonly #namespace: string;
  /** Within this process, adds of one key run one after the other. */
  readonly #local = new Map<string, Promise<unknown>>();

  constructor(lock: KeyLock | undefined, namespace: string) {
    this.#lock = lock;
    this.#namespace = namespace;
  }

  /** True when adds are atomic across processes (a Redis bus), not only within this one. */
  get acrossProcesses(): boolean {
    return this.#lock !== undefined;
  }

  run<T>(k: string, body: () => Promise<T>): Promise<T> {
    const previous = this.#local.get(k) ?? Promise.resolve();
    const turn = previous.then(
      () => this.#acrossProcesses(k, body),
      () => this.#acrossProcesses(k, body),
    );
    this.#local.set(k, turn);
    const release = () => {
      if (this.#local.get(k) === turn) this.#local.delete(k);
    };
    turn.then(release, release);
    return turn;
  }

  async #acrossProcesses<T>(k: string, body: () => Promise<T>): Promise<T> {
    const lock = this.#lock;
    if (lock === undefined) return body();
    const name = `synced-cache:add:${this.#namespace}:${k}`;
    const deadline = performance.now() + ADD_LOCK.wait;
    for (;;) {
      let token: string | undefined;
      try {
        const left = Math.max(1, deadline - performance.now());
        token = await withTimeout(lock.acquire(name, ADD_LOCK.ttl), left, () => new Error(`no answer within ${Math.round(left)} ms`));
      } catch (error) {
        throw new BusError(`add: cannot take the lock of key ${JSON.stringify(k)} on the bus's Redis`, { cause: error });
      }
      if (token !== undefined) {
        try {
          return await body();
        } finally {
          lock.release(name, token).catch(() => {});
        }
      }
      if (performance.now() > deadline) {
        throw new BusError(`add: the lock of key ${JSON.stringify(k)} is held elsewhere for more than ${ADD_LOCK.wait} ms`);
      }
      await new Promise((resolve) => setTimeout(resolve, ADD_LOCK.poll));
    }
  }
}
