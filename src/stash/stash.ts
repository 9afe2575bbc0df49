import { KeyExistsError, type StashEvent, StoreError, SyncedCache, type SyncedCacheOptions } from 'synced-cache';
import { checkDuration, checkKey, checkKnownKeys, describe, fail, isObject } from '../check.js';
import { globMatcher } from './glob.js';
import { isPushId, pushIds } from './ids.js';

const SCOPE = 'synced-cache: stash';

/** Options of {@link Stash}: exactly those of `SyncedCache` (store, bus, namespace, ttl, ...). */
export type StashOptions = SyncedCacheOptions;

/** Per-call options of {@link Stash.set}. */
export interface StashSetOptions {
  /** Time to live in milliseconds; `0`: no expiry. @default the cache's `ttl` (none unless set) */
  ttl?: number;
  /** Overwrite a key that already holds a value. @default false */
  force?: boolean;
}

/** Per-call options of {@link Stash.push}. */
export interface StashPushOptions {
  /** Time to live in milliseconds; `0`: no expiry. @default the cache's `ttl` (none unless set) */
  ttl?: number;
}

/** How many fresh ids a push tries before it gives up on a store that reports every one as taken. */
const PUSH_ATTEMPTS = 5;
/** How many times a pop lists again after other processes took every entry of its listing. */
const POP_ROUNDS = 3;

function callOptions(method: string, options: unknown, names: readonly string[]): Record<string, unknown> {
  if (options === undefined) return {};
  if (!isObject(options) || Array.isArray(options)) {
    throw new TypeError(`${SCOPE}.${method}: options must be an object { ${names.join(', ')} }, got ${describe(options)}`);
  }
  checkKnownKeys(`${SCOPE}.${method}`, '', options, names);
  return options;
}

function ttlOption(method: string, options: Record<string, unknown>): { ttl: number } | undefined {
  const ttl = checkDuration(`${SCOPE}.${method}`, 'ttl', options.ttl, { zero: 'no expiry' });
  return ttl === undefined ? undefined : { ttl };
}

/** `peek()` and `pop()` take nothing: a key given to them is a call meant for `get` (or the core's `peek(key)`). */
function noArguments(method: 'peek' | 'pop', given: readonly unknown[]): void {
  if (given.length > 0) {
    throw new TypeError(
      `${SCOPE}.${method}: takes no arguments (it ${method === 'peek' ? 'shows' : 'takes'} the newest push), got ${describe(given[0])}; ` +
        'read a key with get(key)',
    );
  }
}

/**
 * A stash for handing data from one session to another (a REPL, a script, a job, a console), over a
 * {@link SyncedCache} of its own: name a value with `set` (never overwriting unless `force`), or push
 * it on a stack shared by every process of the namespace and `pop` it elsewhere.
 *
 * Atomicity is the store's and the bus's: `set` without `force` and `push` use `cache.add`, atomic
 * across processes with `@keyv/redis` (SET NX) or with a bus (a short lock on its Redis), and within
 * one process only otherwise. `pop` relies on the store's delete reporting whether it held the key
 * (Redis DEL, PostgreSQL DELETE do so atomically): of several processes popping one entry, only the
 * one whose delete removed it returns it.
 */
export class Stash<V = unknown> {
  /** The cache underneath: its events (`push`, `pop`, `set`, ...), `stats()`, `ready()`. */
  readonly cache: SyncedCache<V>;

  /** Builds the cache with `options`, as `new SyncedCache(options)` would (and throws as it would). */
  constructor(options: StashOptions = {}) {
    this.cache = new SyncedCache<V>(options);
  }

  /**
   * Stores `value` under `key`. Rejects with {@link KeyExistsError}, writing nothing, when the key
   * holds a value already, unless `force: true`.
   */
  async set(key: string, value: V, options?: StashSetOptions): Promise<void> {
    checkKey(key, 'stash.set');
    const call = callOptions('set', options, ['ttl', 'force']);
    if (call.force !== undefined && typeof call.force !== 'boolean')
      fail(`${SCOPE}.set`, 'force', 'must be true or false', call.force, TypeError);
    const ttl = ttlOption('set', call);
    if (call.force === true) return this.cache.set(key, value, ttl);
    if (!(await this.cache.add(key, value, ttl))) throw new KeyExistsError(key);
  }

  /** The value under `key` (a name given to `set`, or an id `push` returned), or `undefined`. */
  async get(key: string): Promise<V | undefined> {
    checkKey(key, 'stash.get');
    return this.cache.get(key);
  }

  /** Deletes `key` in every process; resolves to whether the store held it. */
  async delete(key: string): Promise<boolean> {
    checkKey(key, 'stash.delete');
    return this.cache.delete(key);
  }

  /**
   * Pushes `value` on the stack and resolves its id: 20 URL-safe characters (`_` and base-36) that sort
   * in push order, under which `get(id)` reads the value too. Pushes of one process are ordered; pushes
   * of two processes in the same millisecond are not (either may pop first).
   */
  async push(value: V, options?: StashPushOptions): Promise<string> {
    const ttl = ttlOption('push', callOptions('push', options, ['ttl']));
    if (value === undefined) throw new TypeError(`${SCOPE}.push: value must not be undefined (get and pop answer undefined for "nothing")`);
    let id = '';
    for (let attempt = 0; attempt < PUSH_ATTEMPTS; attempt++) {
      id = pushIds.next();
      if (await this.cache.add(id, value, ttl)) {
        this.#emit('push', id);
        return id;
      }
    }
    throw new StoreError('push', id, new Error(`the store reported ${PUSH_ATTEMPTS} new ids in a row as already taken`));
  }

  /** The most recently pushed value still present (expired and deleted entries skipped), without removing it; `undefined` when none is. */
  async peek(): Promise<V | undefined>;
  async peek(...unexpected: unknown[]): Promise<V | undefined> {
    noArguments('peek', unexpected);
    let top: [string, V] | undefined;
    for await (const entry of this.#listing('peek')) {
      if (isPushId(entry[0]) && (top === undefined || entry[0] > top[0])) top = entry;
    }
    return top?.[1];
  }

  /**
   * Removes the most recently pushed value still present and resolves it (LIFO); `undefined` when none
   * is. Concurrent pops, in any processes, never return one entry twice: an entry is returned only by
   * the pop whose store delete removed it, and a pop that loses moves on to the next entry.
   * A pop that rejects with a store error may have removed its entry all the same.
   */
  async pop(): Promise<V | undefined>;
  async pop(...unexpected: unknown[]): Promise<V | undefined> {
    noArguments('pop', unexpected);
    for (let round = 0; round < POP_ROUNDS; round++) {
      const pushed: [string, V][] = [];
      for await (const entry of this.#listing('pop')) if (isPushId(entry[0])) pushed.push(entry);
      if (pushed.length === 0) return undefined;
      pushed.sort((a, b) => (a[0] < b[0] ? 1 : -1));
      for (const [id, value] of pushed) {
        if (await this.cache.delete(id)) {
          this.#emit('pop', id);
          return value;
        }
      }
      // Every entry listed was taken by other pops: list again, for what was pushed since.
    }
    return undefined;
  }

  /**
   * The keys of the stash, sorted (names and push ids alike; the library's own keys never), that match
   * `pattern` when one is given: `*` any run of characters, `?` one character, `\` before either to
   * match it literally. Needs a store that can list its keys (`cache.canList`).
   */
  async ls(pattern?: string): Promise<string[]> {
    if (pattern !== undefined && typeof pattern !== 'string') {
      throw new TypeError(`${SCOPE}.ls: pattern must be a string, got ${describe(pattern)}`);
    }
    const matches = pattern === undefined ? () => true : globMatcher(pattern);
    const keys: string[] = [];
    for await (const [key] of this.#listing('ls')) if (matches(key)) keys.push(key);
    return keys.sort();
  }

  /** Closes the cache (its bus connections, a store it built from a URL). Idempotent. */
  close(): Promise<void> {
    return this.cache.close();
  }

  #listing(method: string): AsyncGenerator<[string, V], void> {
    if (!this.cache.canList) {
      throw new TypeError(
        `${SCOPE}.${method}: the store of namespace ${JSON.stringify(this.cache.namespace)} cannot list its keys ` +
          '(its Keyv adapter has no iterator()), and ls, peek and pop need a listing: use a store that can (Redis, PostgreSQL, SQLite, the in-memory default)',
      );
    }
    return this.cache.entries();
  }

  /**
   * The entry is already pushed or popped when this runs: a listener that throws must not make the
   * call reject (a popped value would be lost), so its error is reported instead, as the cache reports
   * errors raised outside a caller's operation.
   */
  #emit(event: 'push' | 'pop', id: string): void {
    const cache = this.cache;
    // Nothing is built for nobody; with `events: { bus: true }` the event stream is somebody.
    if (cache.listenerCount(event) === 0 && !cache.streamsEvents) return;
    const payload: StashEvent = { key: id, at: Date.now(), instance: cache.instanceId };
    try {
      cache.emit(event, payload);
    } catch (thrown) {
      const error = thrown instanceof Error ? thrown : new Error(String(thrown));
      if (cache.listenerCount('error') > 0) {
        try {
          cache.emit('error', error);
          return;
        } catch {
          // Reported below.
        }
      }
      process.emitWarning(`a '${event}' listener of a stash threw: ${error.message}`, {
        type: 'SyncedCacheWarning',
        code: 'SYNCED_CACHE_LISTENER_THREW',
      });
    }
  }
}
