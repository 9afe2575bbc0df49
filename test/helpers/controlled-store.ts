import { EventEmitter } from 'node:events';
import type { KeyvStoreAdapter, StoredData } from 'keyv';
import { deferred } from './wait.js';

/** `iterate`: the start of a listing (Keyv 6's clear lists the namespace before deleting it). */
type Op = 'get' | 'set' | 'delete' | 'clear' | 'has' | 'iterate';

/** A call the test is holding: the underlying store has already answered (for reads) or not yet been written (for writes). */
export interface HeldCall {
  op: Op;
  key: string | undefined;
  release(): void;
}

/**
 * A Keyv store adapter over a Map (or another adapter) whose calls the test can hold and release, and make fail.
 * Reads are held after the underlying read, so a held read returns what the store held when it was read;
 * writes are held before they reach the underlying store, so the write lands when released.
 */
export class ControlledStore extends EventEmitter implements KeyvStoreAdapter {
  // Keyv 5 reads opts.url of any adapter that has iterator(), and throws when it is missing.
  opts: Record<string, unknown> = { url: 'controlled://test' };
  namespace?: string | undefined;
  readonly inner: Map<string, unknown>;
  readonly #holds = new Map<Op, number>();
  readonly #holdsAfter = new Map<Op, number>();
  readonly held: HeldCall[] = [];
  readonly #failures = new Map<Op, Error>();
  readonly #keyFailures = new Map<string, Error>();
  calls: Record<Op, number> = { get: 0, set: 0, delete: 0, clear: 0, has: 0, iterate: 0 };

  constructor(inner = new Map<string, unknown>()) {
    super();
    this.inner = inner;
  }

  /** Holds the next `count` calls of `op` until released. */
  hold(op: Op, count = 1): void {
    this.#holds.set(op, (this.#holds.get(op) ?? 0) + count);
  }

  /** Holds the answer of the next `count` writes of `op` after they have reached the store (a slow reply). */
  holdReply(op: Op, count = 1): void {
    this.#holdsAfter.set(op, (this.#holdsAfter.get(op) ?? 0) + count);
  }

  /** Makes every call of `op` throw `error` until `heal(op)`. */
  fail(op: Op, error = new Error(`injected ${op} failure`)): void {
    this.#failures.set(op, error);
  }

  heal(op: Op): void {
    this.#failures.delete(op);
  }

  /** Makes every call about `key` (as the adapter is given it: see `adapterKey()`) throw `error`. */
  failKey(key: string, error = new Error(`injected failure for ${key}`)): void {
    this.#keyFailures.set(key, error);
  }

  /** Resolves when a call of `op` is being held. */
  async whenHeld(op: Op): Promise<HeldCall> {
    for (;;) {
      const call = this.held.find((c) => c.op === op);
      if (call) {
        this.held.splice(this.held.indexOf(call), 1);
        return call;
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  async #gate(op: Op, key: string | undefined, holds = this.#holds): Promise<void> {
    if (holds === this.#holds) {
      this.calls[op]++;
      const failure = this.#failures.get(op) ?? (key === undefined ? undefined : this.#keyFailures.get(key));
      if (failure) throw failure;
    }
    const count = holds.get(op) ?? 0;
    if (count === 0) return;
    holds.set(op, count - 1);
    const gate = deferred();
    this.held.push({ op, key, release: () => gate.resolve() });
    await gate.promise;
  }

  async get<Value>(key: string): Promise<StoredData<Value>> {
    const failure = this.#failures.get('get');
    if (failure) {
      this.calls.get++;
      throw failure;
    }
    const value = this.inner.get(key);
    await this.#gate('get', key);
    return value as StoredData<Value>;
  }

  async set(key: string, value: unknown): Promise<boolean> {
    await this.#gate('set', key);
    this.inner.set(key, value);
    await this.#gate('set', key, this.#holdsAfter);
    return true;
  }

  async delete(key: string): Promise<boolean> {
    await this.#gate('delete', key);
    return this.inner.delete(key);
  }

  async clear(): Promise<void> {
    await this.#gate('clear', undefined);
    this.inner.clear();
  }

  async has(key: string): Promise<boolean> {
    await this.#gate('has', key);
    return this.inner.has(key);
  }

  /** The entries of `namespace` (keys that begin with it and a colon), as Keyv adapters' iterators yield them. */
  async *iterator<Value>(namespace?: string): AsyncGenerator<Array<string | Awaited<Value> | undefined>, void> {
    await this.#gate('iterate', namespace);
    for (const [key, value] of [...this.inner]) {
      if (namespace === undefined || key.startsWith(`${namespace}:`)) yield [key, value as Awaited<Value>];
    }
  }
}
