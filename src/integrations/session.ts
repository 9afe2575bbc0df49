import session, { type SessionData } from 'express-session';
// Types only, and through the package name: this subpath must not bundle a second copy of the core.
import type { SyncedCache } from 'synced-cache';

/** Options of {@link SyncedSessionStore}. Durations are milliseconds. */
export interface SyncedSessionStoreOptions {
  /** The cache holding the sessions. Give sessions a cache (a namespace) of their own. */
  cache: SyncedCache<unknown>;
  /**
   * Prepended to the session id to form the cache key.
   * @default 'sess:'
   */
  prefix?: string;
  /**
   * Lifetime of a session whose cookie has neither `maxAge` nor `expires` (a browser-session cookie).
   * @default 86_400_000 (one day)
   */
  ttl?: number;
  /**
   * `touch()` rewrites a session only when that pushes its expiry back by at least this much (capped at half
   * the session's lifetime, so short sessions are still kept alive). Every rewrite is a store write and an
   * invalidation that makes every other process re-read the session from the store, so touching on every
   * request would undo the point of this store. `0`: rewrite on every touch.
   * @default 60_000
   */
  touchAfter?: number;
}

/** What is stored under a session's key. */
interface StoredSession {
  /** The session as plain JSON data, cookie included. */
  session: SessionData;
  /** When the session expires, `Date.now()` clock. */
  expires: number;
}

type Callback<T = void> = (error: unknown, result?: T) => void;

const DEFAULT_PREFIX = 'sess:';
const DEFAULT_TTL = 86_400_000;
const DEFAULT_TOUCH_AFTER = 60_000;
/** Keys removed per `deleteMany` (one bus message each) by `clear()`. */
const CLEAR_BATCH = 1_000;

function kind(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value;
}

function isCache(value: unknown): value is SyncedCache<unknown> {
  const c = value as Partial<Record<'get' | 'set' | 'update' | 'delete' | 'deleteMany' | 'clear' | 'entries', unknown>> | null;
  return (
    typeof c === 'object' &&
    c !== null &&
    ['get', 'set', 'update', 'delete', 'deleteMany', 'clear', 'entries'].every((m) => typeof c[m as 'get'] === 'function')
  );
}

function isStored(value: unknown): value is StoredSession {
  const v = value as Partial<StoredSession> | null;
  return typeof v === 'object' && v !== null && typeof v.expires === 'number' && typeof v.session === 'object' && v.session !== null;
}

function duration(option: string, value: unknown, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || Number.isNaN(value)) {
    throw new TypeError(`synced-cache/session: option "${option}" must be a number of milliseconds, got ${kind(value)}`);
  }
  if (!(value >= min) || !Number.isFinite(value)) {
    throw new RangeError(`synced-cache/session: option "${option}" must be a finite number of milliseconds >= ${min}, got ${value}`);
  }
  return value;
}

function settle<T>(work: Promise<T>, callback: Callback<T> | undefined): void {
  work.then(
    (result) => callback?.(null, result),
    (error: unknown) => callback?.(error),
  );
}

/**
 * An express-session store on a {@link SyncedCache}: a session read is a memory hit in every process
 * after the first, and a logout (`req.session.destroy()`) in one process is seen by every other at once,
 * through the cache's invalidation bus.
 *
 * ```js
 * app.use(session({ store: new SyncedSessionStore({ cache }), secret, resave: false, saveUninitialized: false }));
 * ```
 *
 * A session lives as long as its cookie says (`cookie.expires`, else `cookie.maxAge`), else `ttl`.
 * `all()`, `length()` and `clear()` (with a prefix) walk the store, so they need a store that can be listed
 * (`cache.canList`: Redis, Postgres, the in-memory default, ...), and report an error otherwise.
 */
export class SyncedSessionStore extends session.Store {
  /** The cache holding the sessions. */
  readonly cache: SyncedCache<unknown>;
  /** Prepended to session ids to form cache keys. */
  readonly prefix: string;
  readonly #ttl: number;
  readonly #touchAfter: number;

  /** @param options The options, or just the cache (all defaults). */
  constructor(options: SyncedSessionStoreOptions | SyncedCache<unknown>) {
    super();
    const opts: Partial<SyncedSessionStoreOptions> = isCache(options) ? { cache: options } : (options ?? {});
    if (typeof opts !== 'object')
      throw new TypeError(`synced-cache/session: options must be an object or a SyncedCache, got ${kind(opts)}`);
    if (!isCache(opts.cache)) throw new TypeError(`synced-cache/session: option "cache" must be a SyncedCache, got ${kind(opts.cache)}`);
    if (opts.prefix !== undefined && typeof opts.prefix !== 'string') {
      throw new TypeError(`synced-cache/session: option "prefix" must be a string, got ${kind(opts.prefix)}`);
    }
    this.cache = opts.cache;
    this.prefix = opts.prefix ?? DEFAULT_PREFIX;
    this.#ttl = duration('ttl', opts.ttl, DEFAULT_TTL, 1);
    this.#touchAfter = duration('touchAfter', opts.touchAfter, DEFAULT_TOUCH_AFTER, 0);
  }

  /** Passes the session of `sid` to `callback`, or `null` when there is none (or it has expired). */
  override get(sid: string, callback: Callback<SessionData | null>): void {
    settle(this.#get(sid), callback);
  }

  /** Stores `session` under `sid` for as long as its cookie says. Rejects a non-object with a TypeError. */
  override set(sid: string, session: SessionData, callback?: Callback): void {
    settle(this.#set(sid, session), callback);
  }

  /** Removes the session of `sid` everywhere (the logout that every process sees at once). */
  override destroy(sid: string, callback?: Callback): void {
    settle(
      (async () => {
        await this.cache.delete(this.#key(sid, 'destroy'));
      })(),
      callback,
    );
  }

  /**
   * Pushes back the expiry of the session of `sid` to what `session.cookie` now says, by rewriting what the
   * store holds (not `session`, so a change made meanwhile in another process is kept), with a
   * compare-and-set (`cache.update`): a session the store no longer holds is never written back, even by
   * a process whose memory still has it (a logout elsewhere is never undone). Does nothing when the gain
   * is below `touchAfter`.
   */
  override touch(sid: string, session: SessionData, callback?: Callback): void {
    settle(this.#touch(sid, session), callback);
  }

  /** Passes every live session to `callback`, as an object keyed by session id. Needs an iterable store. */
  override all(callback: Callback<Record<string, SessionData>>): void {
    settle(
      (async () => {
        const sessions: Record<string, SessionData> = {};
        const now = Date.now();
        for await (const [sid, value] of this.#entries('all')) {
          if (isStored(value) && value.expires > now) sessions[sid] = value.session;
        }
        return sessions;
      })(),
      callback,
    );
  }

  /** Passes the number of live sessions to `callback`. Needs an iterable store. */
  override length(callback: Callback<number>): void {
    settle(
      (async () => {
        let count = 0;
        const now = Date.now();
        for await (const [, value] of this.#entries('length')) if (isStored(value) && value.expires > now) count++;
        return count;
      })(),
      callback,
    );
  }

  /**
   * Removes every session, in every process. With an empty `prefix` this is `cache.clear()`; otherwise the
   * keys with the prefix are found by iterating the store (which must be iterable) and deleted in batches.
   */
  override clear(callback?: Callback): void {
    settle(
      (async () => {
        if (this.prefix === '') {
          await this.cache.clear();
          return;
        }
        // Collected first: deleting while a store cursor (Redis SCAN) is open may skip keys.
        const keys: string[] = [];
        for await (const [sid] of this.#entries('clear')) keys.push(this.prefix + sid);
        for (let i = 0; i < keys.length; i += CLEAR_BATCH) await this.cache.deleteMany(keys.slice(i, i + CLEAR_BATCH));
      })(),
      callback,
    );
  }

  async #get(sid: string): Promise<SessionData | null> {
    const key = this.#key(sid, 'get');
    const value = await this.cache.get(key);
    if (value === undefined) return null;
    if (!isStored(value))
      throw new TypeError(`synced-cache/session: the entry at key ${JSON.stringify(key)} is not a session stored by SyncedSessionStore`);
    if (value.expires <= Date.now()) return null;
    // A memory hit hands out the cached object itself, and express-session mutates what it gets.
    return structuredClone(value.session);
  }

  async #set(sid: string, session: SessionData): Promise<void> {
    const key = this.#key(sid, 'set');
    if (typeof session !== 'object' || session === null || Array.isArray(session)) {
      throw new TypeError(`synced-cache/session: set: session must be an object, got ${kind(session)}`);
    }
    const ttl = this.#ttlOf(session.cookie);
    if (ttl <= 0) {
      await this.cache.delete(key);
      return;
    }
    let data: SessionData;
    try {
      // Plain data: drops the Session's methods and turns the Cookie and Dates into their JSON forms.
      data = JSON.parse(JSON.stringify(session)) as SessionData;
    } catch (error) {
      throw new TypeError(`synced-cache/session: set: session ${JSON.stringify(sid)} cannot be serialized (${(error as Error).message})`, {
        cause: error,
      });
    }
    const stored: StoredSession = { session: data, expires: Date.now() + ttl };
    await this.cache.set(key, stored, { ttl });
  }

  async #touch(sid: string, session: SessionData): Promise<void> {
    const key = this.#key(sid, 'touch');
    if (typeof session !== 'object' || session === null) {
      throw new TypeError(`synced-cache/session: touch: session must be an object, got ${kind(session)}`);
    }
    const ttl = this.#ttlOf(session.cookie);
    // Usually a memory hit, and usually the answer: the gain is below touchAfter, nothing to write.
    const seen = await this.cache.get(key);
    if (!isStored(seen)) return;
    if (ttl <= 0) {
      await this.cache.delete(key);
      return;
    }
    if (Date.now() + ttl - seen.expires < Math.min(this.#touchAfter, ttl / 2)) return;
    const cookie = JSON.parse(JSON.stringify(session.cookie ?? seen.session.cookie)) as SessionData['cookie'];
    // A compare-and-set against the store, not memory: memory may still hold a session destroyed
    // elsewhere whose invalidation has not arrived, and another process may have changed it meanwhile.
    // A session the store no longer holds is never written back; a newer one keeps its data.
    await this.cache.update(
      key,
      (current) => {
        if (!isStored(current)) return undefined;
        return { session: { ...current.session, cookie }, expires: Date.now() + ttl };
      },
      { ttl },
    );
  }

  /** Milliseconds the session has left, from its cookie, else the `ttl` option. */
  #ttlOf(cookie: Partial<SessionData['cookie']> | undefined): number {
    const expires = cookie?.expires;
    if (expires !== undefined && expires !== null) {
      const at = new Date(expires as Date | string).getTime();
      if (!Number.isNaN(at)) return Math.ceil(at - Date.now());
    }
    if (typeof cookie?.maxAge === 'number' && Number.isFinite(cookie.maxAge)) return Math.ceil(cookie.maxAge);
    return this.#ttl;
  }

  #key(sid: unknown, operation: string): string {
    if (typeof sid !== 'string' || sid.length === 0) {
      throw new TypeError(`synced-cache/session: ${operation}: session id must be a non-empty string, got ${kind(sid)}`);
    }
    return this.prefix + sid;
  }

  /** `[session id, stored value]` for every key with the prefix, through the cache's one door for listing. */
  async *#entries(operation: string): AsyncGenerator<[string, unknown], void> {
    if (!this.cache.canList) {
      throw new Error(
        `synced-cache/session: ${operation}() needs a store that can be iterated, and the store of cache namespace "${this.cache.namespace}" cannot (its Keyv adapter has no iterator()); use a store such as @keyv/redis or @keyv/postgres`,
      );
    }
    for await (const [key, value] of this.cache.entries(this.prefix)) yield [key.slice(this.prefix.length), value];
  }
}
