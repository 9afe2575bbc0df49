import type { Keyv } from 'keyv';
import { type Entry, isStale } from '../entry/entry.js';
import { DecryptionError, StoreError } from '../errors.js';
import type { OpenedStore } from './adapter.js';
import { AesGcmCipher } from './aes-gcm.js';
import type { StoreCalls, StoreOperation } from './calls.js';
import { CustomCipher, type EncryptionSpec, SALT_KEY, type SaltStore, type ValueCipher } from './cipher.js';
import type { DriverWrite, StoreDriver } from './driver.js';
import { INTERNAL_KEY_PREFIX, type KeyRules } from './keys.js';
import { type Prepared, RecordCodec } from './record.js';

/** One entry of a batch write, prepared. */
export interface StoreWrite<V> {
  k: string;
  prepared: Prepared<V>;
  ttl: number | undefined;
  expires: number | undefined;
}

/** What the tier does to values besides storing them. */
export interface StoreTierOptions {
  /** The cache's namespace, bound to every ciphertext. */
  namespace: string;
  /** Encrypts every value before it reaches the store (option `encryption`). */
  encryption?: EncryptionSpec | undefined;
  /** Most UTF-8 bytes in a serialized value, before encryption (option `maxValueBytes`). */
  maxValueBytes?: number;
  /**
   * Runs `body` alone for canonical key `k` among every add of it (across processes with a Redis bus):
   * how the passphrase salt is written once on a store without a set-if-absent of its own.
   */
  exclusive?: <T>(k: string, body: () => Promise<T>) => Promise<T>;
}

/** A live entry as read, with the size of its stored form. */
export type ReadEntry<V> = Entry<V> & { size: number };

/** What a read gives for a record the store still holds past its `expires` (a store that keeps expired records). */
export const EXPIRED: unique symbol = Symbol('synced-cache: expired record');

const NOT_APPLIED = 'the store adapter reported that the write was not applied';

function undecodable(operation: StoreOperation, k: string, error: unknown): StoreError {
  return new StoreError(
    operation,
    k,
    new Error(`the stored value cannot be decoded: ${(error as Error)?.message ?? error}`, { cause: error }),
  );
}

function driverWrite<V>(w: StoreWrite<V>): DriverWrite {
  return { k: w.k, stored: w.prepared.stored, ttl: w.ttl, expires: w.expires };
}

/** True when two raw records read from the store are the same bytes (or both absent). */
function sameRecord(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === undefined || a === null || b === undefined || b === null) return (a ?? undefined) === (b ?? undefined);
  return typeof a === 'object' && typeof b === 'object' && JSON.stringify(a) === JSON.stringify(b);
}

/** Keys whose call failed (rejected, or answered false), and the first failure. */
function failures(results: readonly PromiseSettledResult<boolean>[], keys: readonly string[]): { keys: string[]; first: unknown } {
  const failed: string[] = [];
  let first: unknown;
  results.forEach((result, i) => {
    if (result.status === 'fulfilled' && result.value) return;
    if (failed.length === 0) first = result.status === 'rejected' ? result.reason : new Error(NOT_APPLIED);
    failed.push(keys[i] as string);
  });
  return { keys: failed, first };
}

/**
 * The persistent tier (L2): a facade over the Keyv store adapter, every call through {@link StoreCalls}.
 *
 * It talks to the adapter directly, in the protocol of its Keyv generation and with Keyv's own record
 * encoding, rather than through Keyv's API, because of what Keyv does behind a caller's back: its reads
 * delete the expired entries they find (unfenced and unannounced, so a write landing between the read
 * and the delete is lost), its batch writes without adapter batch methods reject on the first failure
 * while the other writes are still in flight, and Keyv 6 swallows adapter errors once anybody listens.
 * Here an expired entry is a miss and nothing else, and a batch settles whole before it reports.
 */
export class StoreTier<V> {
  /** A Keyv over the same adapter and namespace. */
  readonly keyv: Keyv;
  readonly #driver: StoreDriver;
  readonly #codec: RecordCodec<V>;
  /** For the library's own records (the salt): never encrypted, never limited. */
  readonly #internal: RecordCodec<string>;
  readonly #keys: KeyRules;
  readonly #calls: StoreCalls;
  readonly #release: () => void;
  readonly #exclusive: NonNullable<StoreTierOptions['exclusive']>;

  constructor(opened: OpenedStore, calls: StoreCalls, options: StoreTierOptions = { namespace: '' }) {
    this.keyv = opened.keyv;
    this.#driver = opened.driver;
    this.#keys = opened.keys;
    this.#calls = calls;
    this.#release = opened.release;
    this.#exclusive = options.exclusive ?? ((_k, body) => body());
    const spec = options.encryption;
    let cipher: ValueCipher | undefined;
    if (spec?.kind === 'custom') cipher = new CustomCipher(spec.encrypter, spec.keys, options.namespace);
    else if (spec !== undefined) cipher = new AesGcmCipher(spec.keys, options.namespace, this.#saltStore());
    this.#codec = new RecordCodec<V>(opened.format, { cipher, maxValueBytes: options.maxValueBytes });
    this.#internal = new RecordCodec<string>(opened.format);
  }

  /** True when the store can list its keys (`keys()`, `entries()`). */
  get canList(): boolean {
    return this.#driver.canList;
  }

  /** The Keyv generation whose adapter protocol and encoding are in use. */
  get generation(): 5 | 6 {
    return this.#driver.generation;
  }

  /**
   * Encodes `value` for the store (encrypted, with `encryption`) and gives back what every process will
   * read; throws a TypeError naming `key`, or a RangeError past `maxValueBytes`.
   */
  prepare(key: string, value: V, expires: number | undefined, fresh?: number): Promise<Prepared<V>> {
    return this.#codec.prepare(key, this.#keys.canon(key), value, expires, fresh);
  }

  /**
   * The entry of canonical key `k` while it lives (fresh, or stale within its grace); {@link EXPIRED} for a
   * record past its life that the store still keeps; undefined when absent or not a value.
   */
  async get(k: string): Promise<ReadEntry<V> | typeof EXPIRED | undefined> {
    const raw = await this.#calls.run('get', k, () => this.#driver.get(k));
    return this.#live('get', k, raw, Date.now());
  }

  /** The live entries of `ks`, aligned; one adapter call when the adapter has `getMany`. */
  async getMany(ks: readonly string[]): Promise<(ReadEntry<V> | typeof EXPIRED | undefined)[]> {
    const rows = await this.#calls.run('getMany', ks, () => this.#driver.getMany(ks));
    const now = Date.now();
    return Promise.all(ks.map((k, i) => this.#live('getMany', k, rows[i], now)));
  }

  async #live(operation: StoreOperation, k: string, raw: unknown, now: number): Promise<ReadEntry<V> | typeof EXPIRED | undefined> {
    let record: Entry<unknown> | undefined;
    try {
      record = await this.#codec.read(raw);
    } catch (error) {
      throw undecodable(operation, k, error);
    }
    if (record === undefined) return undefined;
    // Expiry is judged before decrypting: a record past its life is a miss, whatever its value holds.
    if (record.expires !== undefined && record.expires <= now) return EXPIRED;
    let entry: Entry<V>;
    try {
      entry = await this.#codec.open(k, record);
    } catch (error) {
      if (error instanceof DecryptionError) throw error;
      throw undecodable(operation, k, error);
    }
    return { ...entry, size: typeof raw === 'string' ? raw.length : 1 };
  }

  /** The salt of the namespace's passphrase, kept under an internal key as a plain record, through the call chain. */
  #saltStore(): SaltStore {
    const read = async (): Promise<string | undefined> => {
      const raw = await this.#calls.run('get', SALT_KEY, () => this.#driver.get(SALT_KEY));
      const entry = await this.#internal.decode(raw, SALT_KEY).catch(() => undefined);
      return typeof entry?.value === 'string' ? entry.value : undefined;
    };
    return {
      read,
      writeIfAbsent: async (salt) => {
        const prepared = await this.#internal.prepare(SALT_KEY, SALT_KEY, salt, undefined);
        const write: DriverWrite = { k: SALT_KEY, stored: prepared.stored, ttl: undefined, expires: undefined };
        const setIfAbsent = this.#driver.setIfAbsent;
        if (setIfAbsent !== undefined) return this.#calls.run('set', SALT_KEY, () => setIfAbsent(write));
        return this.#exclusive(SALT_KEY, async () => {
          if ((await read()) !== undefined) return false;
          const applied = await this.#calls.run('set', SALT_KEY, () => this.#driver.set(write));
          if (!applied) throw new StoreError('set', SALT_KEY, new Error(NOT_APPLIED));
          return true;
        });
      },
    };
  }

  /** True when `k` holds a fresh entry (an expired record the store still keeps, or one in its grace, is not one). */
  async has(k: string): Promise<boolean> {
    const raw = await this.#calls.run('has', k, () => this.#driver.get(k));
    const now = Date.now();
    const entry = await this.#live('has', k, raw, now);
    return entry !== undefined && entry !== EXPIRED && !isStale(entry, now);
  }

  async set(k: string, prepared: Prepared<V>, ttl: number | undefined, expires: number | undefined): Promise<void> {
    const applied = await this.#calls.run('set', k, () => this.#driver.set({ k, stored: prepared.stored, ttl, expires }));
    if (!applied) throw new StoreError('set', k, new Error(NOT_APPLIED));
  }

  /**
   * Writes every entry: in one call when the adapter writes batches, else one call per entry, all
   * settled before this settles (so that the announcement that follows comes after the last write that
   * may land).
   */
  async setMany(writes: readonly StoreWrite<V>[]): Promise<void> {
    const ks = writes.map((w) => w.k);
    if (this.#driver.batchWrites) {
      const results = await this.#calls.run('setMany', ks, () => this.#driver.setMany(writes.map(driverWrite)));
      const failed = ks.filter((_, i) => results[i] === false);
      if (failed.length > 0)
        throw new StoreError('setMany', failed, new Error(`the store adapter reported ${failed.length} write(s) not applied`));
      return;
    }
    const results = await Promise.allSettled(writes.map((w) => this.#calls.run('set', w.k, () => this.#driver.set(driverWrite(w)))));
    const failed = failures(results, ks);
    if (failed.keys.length > 0) throw new StoreError('setMany', failed.keys, failed.first);
  }

  /** True when the store writes a key only if it is absent, atomically (Redis: SET NX). */
  get setsIfAbsent(): boolean {
    return this.#driver.setIfAbsent !== undefined;
  }

  /** Writes `k` only if the store holds no entry for it, atomically; resolves whether it wrote. Only when {@link setsIfAbsent}. */
  setIfAbsent(k: string, prepared: Prepared<V>, ttl: number | undefined, expires: number | undefined): Promise<boolean> {
    const write = this.#driver.setIfAbsent;
    if (write === undefined) throw new TypeError('synced-cache: this store has no atomic set-if-absent');
    return this.#calls.run('set', k, () => write({ k, stored: prepared.stored, ttl, expires }));
  }

  /**
   * The fresh entry of `k` (or undefined) and the raw record it came from, as a compare-and-set needs it:
   * `raw` is undefined when the store holds nothing at all for `k`.
   */
  async read(k: string): Promise<{ raw: unknown; entry: ReadEntry<V> | undefined }> {
    const raw = await this.#calls.run('get', k, () => this.#driver.get(k));
    const now = Date.now();
    const entry = await this.#live('get', k, raw, now);
    const fresh = entry === undefined || entry === EXPIRED || isStale(entry, now) ? undefined : entry;
    return { raw: raw === null ? undefined : raw, entry: fresh };
  }

  /** True when the store can compare and set atomically (Redis). */
  get comparesAndSets(): boolean {
    return this.#driver.compareAndSet !== undefined;
  }

  /**
   * Writes `k` only if the store still holds exactly `expected` (a raw record from {@link read}; undefined:
   * absent): atomically where the store can ({@link comparesAndSets}), else by reading again and comparing,
   * which the caller must guard. Resolves whether it wrote.
   */
  async compareAndSet(
    k: string,
    expected: unknown,
    prepared: Prepared<V>,
    ttl: number | undefined,
    expires: number | undefined,
  ): Promise<boolean> {
    const native = this.#driver.compareAndSet;
    if (native !== undefined) return this.#calls.run('set', k, () => native({ k, stored: prepared.stored, ttl, expires }, expected));
    const { raw } = await this.read(k);
    if (!sameRecord(raw, expected)) return false;
    await this.set(k, prepared, ttl, expires);
    return true;
  }

  /** Deletes `k`; resolves to whether the store held it. */
  delete(k: string): Promise<boolean> {
    return this.#calls.run('delete', k, () => this.#driver.delete(k));
  }

  /** Deletes `ks`, all settled before this settles; resolves to true when every key existed (as Keyv does). */
  async deleteMany(ks: readonly string[]): Promise<boolean> {
    if (this.#driver.batchDeletes) return this.#calls.run('deleteMany', ks, () => this.#driver.deleteMany(ks));
    const results = await Promise.allSettled(ks.map((k) => this.#calls.run('delete', k, () => this.#driver.delete(k))));
    const failed = failures(
      results.map((r) => (r.status === 'fulfilled' ? { status: 'fulfilled', value: true } : r)),
      ks,
    );
    if (failed.keys.length > 0) throw new StoreError('deleteMany', failed.keys, failed.first);
    return results.every((r) => r.status === 'fulfilled' && r.value);
  }

  /** Empties the namespace; fails when the adapter reports a failure in any way it has. */
  clear(): Promise<void> {
    return this.#calls.run('clear', undefined, () => this.#driver.clear());
  }

  /**
   * The fresh entries of the namespace, as `[canonical key, entry]`, straight from the adapter (Keyv's own
   * iterator deletes the expired entries it meets). Every step goes through the call chain.
   */
  async *entries(): AsyncGenerator<[string, Entry<V>], void> {
    const source = this.#driver.iterate();
    for (;;) {
      const step = await this.#calls.run('iterate', undefined, () => source.next());
      if (step.done === true) return;
      const [k, raw] = step.value;
      // Never decoded: the library's own records (the salt) are neither values nor encrypted.
      if (k.startsWith(INTERNAL_KEY_PREFIX)) continue;
      const now = Date.now();
      const entry = await this.#live('iterate', k, raw, now);
      if (entry !== undefined && entry !== EXPIRED && !isStale(entry, now)) yield [k, { value: entry.value, expires: entry.expires }];
    }
  }

  /** Gives the adapter up, so that another namespace may use it. */
  release(): void {
    this.#release();
  }
}
