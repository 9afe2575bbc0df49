import { MessageSigner, type Secret } from './bus/signing.js';
import type { BusTransport } from './bus/transport.js';
import { checkDuration, checkKnownKeys, checkPositive, describe, fail, isObject, MAX_KEY_LENGTH, quote } from './check.js';
import { type Clock, systemClock } from './clock.js';
import type { RedisOption } from './redis/clients.js';
import type { StoreOption } from './store/adapter.js';
import { type EncryptionOption, type EncryptionSpec, resolveEncryption } from './store/cipher.js';
import { STORE_URL_SCHEMES, storeUrlScheme } from './store/url.js';

export type { StoreOption } from './store/adapter.js';
export type {
  BuiltInEncryption,
  CustomEncryption,
  Encrypter,
  EncryptionContext,
  EncryptionKey,
  EncryptionOption,
} from './store/cipher.js';

/** Limits of the in-process memory tier (L1), an `lru-cache`. */
export interface MemoryOptions {
  /**
   * Most entries held in memory; the least recently used go first.
   * @default 10_000
   */
  max?: number;
  /**
   * Most bytes held in memory, approximated by the length of each value's serialized form.
   * Off when omitted. Setting it costs one `JSON.stringify` per entry read from the store.
   */
  maxSize?: number;
  /**
   * A cap on how long, in milliseconds, an entry lives in memory, whatever its store ttl.
   * Off when omitted: an entry then lives in memory as long as it lives in the store.
   */
  ttl?: number;
}

/** How the bus proves that Redis is alive: a heartbeat sent to itself must come back in time. */
export interface HeartbeatOptions {
  /**
   * Milliseconds between heartbeats.
   * @default 1_000
   */
  interval?: number;
  /**
   * Milliseconds a heartbeat may take to come back before the bus is declared down.
   * A killed or frozen Redis is noticed within `2 * interval + timeout` at worst.
   * @default 1_000
   */
  timeout?: number;
}

export type { RedisOption } from './redis/clients.js';

/** Options of {@link SyncedCache}. Durations are milliseconds everywhere, as in Keyv and lru-cache. */
export interface SyncedCacheOptions {
  /**
   * Scopes keys in the store (the Keyv namespace), and names the pub/sub channel (`synced-cache:<namespace>`).
   * When `store` is a Keyv instance and this is omitted, that instance's namespace is used.
   * @default 'default'
   */
  namespace?: string;
  /**
   * The shared persistent store (L2): a Keyv store adapter (`new KeyvRedis(url)`, `new KeyvPostgres(...)`, a `Map`),
   * a Keyv instance (its serializer, compression and key-prefix settings are kept), or a URL
   * (`redis://`, `rediss://`, `postgres://`, `postgresql://`, `sqlite://`, `mysql://`) from which the cache builds the
   * adapter with its package (`@keyv/redis`, `@keyv/postgres`, `@keyv/sqlite`, `@keyv/mysql`, which you install).
   * A store you pass is yours to close; a store built from a URL is the cache's, and `close()` closes it.
   * @default an in-memory Map (useful for a single process and tests)
   */
  store?: StoreOption | string;
  /**
   * The invalidation bus: a Redis URL (`redis://`, `rediss://`, `unix://`), ioredis options, or an ioredis `Redis`/`Cluster`.
   * A client you pass is duplicated for subscribing and is never closed by this library.
   * Omitted (and no `transport`): single-process mode, no bus.
   */
  redis?: RedisOption;
  /**
   * A bus transport of your own instead of `redis`, e.g. `new BroadcastChannelTransport()` to share a cache
   * between worker threads of one process.
   */
  transport?: BusTransport;
  /**
   * Default time-to-live of an entry in both tiers, in milliseconds. `0` or omitted: no expiry.
   * A fraction is rounded up to a whole millisecond (Redis refuses fractions).
   * @default undefined
   */
  ttl?: number;
  /** Limits of the memory tier. */
  memory?: MemoryOptions;
  /** Bus liveness check. */
  heartbeat?: HeartbeatOptions;
  /**
   * Most keys remembered for publishing while the bus is down. Past it, the next publish tells every
   * process to drop its whole memory tier instead.
   * @default 10_000
   */
  maxPendingKeys?: number;
  /**
   * Largest bus message, in bytes, sent or accepted. A batch that would be larger is sent as "drop everything".
   * @default 1_048_576
   */
  maxMessageBytes?: number;
  /**
   * Milliseconds a publish may take before its keys are queued for the next reconnect and the write resolves.
   * @default heartbeat.timeout
   */
  publishTimeout?: number;
  /**
   * Milliseconds a store call (get, set, delete, clear, has, the batch variants, each step of a listing)
   * may take before the caller gets a `StoreTimeoutError`. The call is not cancelled (adapters cannot be):
   * a write that timed out is announced at once and again when it settles. Also bounds how long
   * `close()` waits for writes in flight. `0`: no limit.
   * @default 1_000
   */
  storeTimeout?: number;
  /**
   * After `threshold` consecutive store failures or timeouts, store calls fail at once with
   * `StoreUnavailableError` (without reaching the store) for `cooldown` ms; then one trial call is let
   * through, and its outcome closes the breaker or opens it again. `false`: no breaker.
   * @default { threshold: 5, cooldown: 5_000 }
   */
  circuitBreaker?: CircuitBreakerOptions | false;
  /**
   * Milliseconds an entry is kept past its ttl, in memory and in the store, to be served when fresh data
   * cannot be had (the store fails, times out or its breaker is open; a `getOrSet` loader fails or
   * times out). Otherwise an expired entry is a miss. Overridable per call (`set`, `setMany` entries,
   * `getOrSet`, `add`, `update`). Memory keeps stale copies only when this cache-wide option is on. `0`: off.
   * @default 0
   */
  grace?: number;
  /**
   * Milliseconds after which `getOrSet` answers with a stale value (within grace) while its loader goes
   * on in the background. Overridable per call. Off when omitted.
   */
  softTimeout?: number;
  /**
   * Milliseconds after which a `getOrSet` loader's signal is aborted and the call rejects with
   * `LoaderTimeoutError` (or answers with a stale value, if there is one). Overridable per call. Off when omitted.
   */
  hardTimeout?: number;
  /**
   * A fraction of the ttl (between 0 and 1, e.g. `0.8`): a `getOrSet` hit on an entry older than that is
   * answered at once and refreshed in the background, once per key per process at a time (and once across
   * processes with `lock`). Overridable per call. Off when omitted.
   */
  refreshAhead?: number;
  /**
   * Only one process runs a `getOrSet` loader for a key at a time (`SET NX PX` on the bus's Redis); the others
   * wait up to `wait` ms for its result, then run the loader themselves. `true` for the defaults. Needs a
   * Redis bus (`redis`). Overridable per call.
   * @default false
   */
  lock?: boolean | LockOptions;
  /** Time source for memory-tier lifetimes and heartbeat ages, in ms. @default performance */
  clock?: Clock;
  /**
   * Signs every bus message (HMAC-SHA256 over the message, its channel and namespace) and ignores every
   * message without a valid signature, so that whoever can publish on the channel but lacks the secret
   * cannot evict keys, flush memory or fake liveness. A string (its UTF-8 bytes; use 32 random bytes or
   * more) or a Buffer; or an array, for rotation: the first key signs, every key verifies (rotate in
   * three deploys: `[old, new]`, `[new, old]`, `[new]`). Every process of a namespace needs it: one
   * without it, or with another, neither hears nor is heard, and keeps serving its memory. It protects
   * the bus only, not the store.
   * @default undefined (messages are neither signed nor checked)
   */
  secret?: Secret;
  /**
   * Encrypts every value before it reaches the store, and decrypts it on read: `{ key }` for the built-in
   * AES-256-GCM with a random nonce per value (`key`: 32 bytes as a Buffer, a 64-character hex string or
   * a secret `KeyObject`; any other string is a passphrase, stretched with scrypt and a random salt kept
   * once per namespace in the store), or an encrypter of your own with `encrypt(key, plaintext, { key })`
   * and `decrypt(key, ciphertext, { key })`, sync or async, strings in and out. `previousKeys` decrypt
   * too, and never encrypt (key rotation). Only the value is encrypted: key names, `expires` and memory
   * are not. A value that cannot be decrypted (a wrong key, tampering, a value copied from another key)
   * rejects the read with `DecryptionError`. Every process of a namespace needs the same keys.
   * @default undefined (values are stored as they are)
   */
  encryption?: EncryptionOption;
  /**
   * Longest key, in UTF-8 bytes; an operation with a longer key rejects with a RangeError, touching nothing.
   * @default 65_536
   */
  maxKeyLength?: number;
  /**
   * Largest value, in UTF-8 bytes of its serialized form (before encryption: the serialized record, or
   * with `encryption` the plaintext); a write of a larger one rejects with a RangeError, touching nothing.
   * A Keyv without a serializer stores objects as they are, which are not measured.
   * @default 16_777_216 (16 MiB)
   */
  maxValueBytes?: number;
  /** Where the cache's events go besides its listeners. */
  events?: EventsOptions;
}

/** Where a cache's events go besides its own listeners. */
export interface EventsOptions {
  /**
   * Also publishes this process's changes (`set`, `delete`, `clear`, `expire`, and the stash's `push`
   * and `pop`: their key and time, never a value; never a read) on the channel
   * `synced-cache:<namespace>:events`, so that `synced-cache watch --events` shows every process's
   * operations live. Signed like every bus message when `secret` is set. Best effort: sent in batches
   * after the operation, never delaying it; dropped and counted in `stats().events.dropped` while the
   * channel is down or too slow. Needs a bus (`redis` or `transport`).
   * @default false
   */
  bus?: boolean;
}

/** The circuit breaker in front of the store. Durations in milliseconds. */
export interface CircuitBreakerOptions {
  /**
   * Consecutive failures or timeouts that open the breaker.
   * @default 5
   */
  threshold?: number;
  /**
   * Milliseconds the breaker stays open before one trial call is let through.
   * @default 5_000
   */
  cooldown?: number;
}

/** The cross-process lock of `getOrSet`. Durations in milliseconds. */
export interface LockOptions {
  /**
   * How long a holder keeps the lock at most (a holder that dies loses it then, and a waiter takes over).
   * @default 10_000
   */
  ttl?: number;
  /**
   * How long a process waits for the holder's result before it runs the loader itself.
   * @default 5_000
   */
  wait?: number;
}

/** Options after defaults and validation. */
export interface ResolvedOptions {
  namespace: string;
  namespaceExplicit: boolean;
  store: StoreOption | string | undefined;
  redis: RedisOption | undefined;
  transport: BusTransport | undefined;
  ttl: number | undefined;
  memory: { max: number; maxSize: number | undefined; ttl: number | undefined };
  heartbeat: { interval: number; timeout: number };
  maxPendingKeys: number;
  maxMessageBytes: number;
  publishTimeout: number;
  storeTimeout: number;
  circuitBreaker: { threshold: number; cooldown: number } | undefined;
  grace: number;
  softTimeout: number | undefined;
  hardTimeout: number | undefined;
  refreshAhead: number | undefined;
  lock: { ttl: number; wait: number } | undefined;
  clock: Clock;
  /** Built from `secret`. */
  signer: MessageSigner | undefined;
  encryption: EncryptionSpec | undefined;
  maxKeyLength: number;
  maxValueBytes: number;
  events: { bus: boolean };
}

/** The defaults, in one place. */
export const DEFAULTS = {
  namespace: 'default',
  memory: { max: 10_000 },
  heartbeat: { interval: 1_000, timeout: 1_000 },
  maxPendingKeys: 10_000,
  maxMessageBytes: 1_048_576,
  storeTimeout: 1_000,
  circuitBreaker: { threshold: 5, cooldown: 5_000 },
  grace: 0,
  lock: { ttl: 10_000, wait: 5_000 },
  maxKeyLength: MAX_KEY_LENGTH,
  maxValueBytes: 16_777_216,
} as const satisfies SyncedCacheOptions;

const SCOPE = 'synced-cache';

/** Every option name, so that a misspelt one is refused rather than ignored (JavaScript has no type check). */
const OPTION_NAMES = {
  '': [
    'namespace',
    'store',
    'redis',
    'transport',
    'ttl',
    'memory',
    'heartbeat',
    'maxPendingKeys',
    'maxMessageBytes',
    'publishTimeout',
    'storeTimeout',
    'circuitBreaker',
    'grace',
    'softTimeout',
    'hardTimeout',
    'refreshAhead',
    'lock',
    'clock',
    'secret',
    'encryption',
    'maxKeyLength',
    'maxValueBytes',
    'events',
  ],
  memory: ['max', 'maxSize', 'ttl'],
  heartbeat: ['interval', 'timeout'],
  circuitBreaker: ['threshold', 'cooldown'],
  lock: ['ttl', 'wait'],
  events: ['bus'],
} as const satisfies Record<string, readonly string[]>;

const REDIS_URL = /^(rediss?|unix):\/\//i;

/**
 * Validates a time-to-live: a finite number of milliseconds >= 0, `0` meaning no expiry (undefined);
 * a fraction is rounded up to a whole millisecond, the same for every store.
 */
export function checkTtl(option: string, value: unknown): number | undefined {
  const ttl = checkDuration(SCOPE, option, value, { zero: 'no expiry' });
  return ttl === undefined || ttl === 0 ? undefined : Math.ceil(ttl);
}

function checkStore(value: unknown): StoreOption | string | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string') {
    if (storeUrlScheme(value) === undefined) {
      fail(
        SCOPE,
        'store',
        `as a string must be a URL starting with ${STORE_URL_SCHEMES.map((s) => `${s}://`).join(', ')}`,
        value,
        TypeError,
      );
    }
    return value;
  }
  if (value instanceof Map) return value;
  if (isObject(value) && typeof value.get === 'function' && typeof value.set === 'function' && typeof value.delete === 'function') {
    return value as unknown as StoreOption;
  }
  return fail(SCOPE, 'store', 'must be a Keyv instance or a Keyv store adapter (with get, set, delete and clear)', value, TypeError);
}

function checkRedis(value: unknown): RedisOption | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string') {
    if (!REDIS_URL.test(value)) fail(SCOPE, 'redis', 'must be a URL starting with redis://, rediss:// or unix://', value, TypeError);
    try {
      new URL(value);
    } catch {
      fail(SCOPE, 'redis', 'is not a valid URL', value, TypeError);
    }
    return value;
  }
  if (isObject(value)) return value as RedisOption;
  return fail(SCOPE, 'redis', 'must be a Redis URL, ioredis options, or an ioredis client', value, TypeError);
}

function section(name: 'memory' | 'heartbeat' | 'circuitBreaker' | 'lock' | 'events', value: unknown): Record<string, unknown> {
  if (value === undefined) return {};
  if (!isObject(value) || Array.isArray(value)) fail(SCOPE, name, 'must be an object', value, TypeError);
  checkKnownKeys(SCOPE, name, value, OPTION_NAMES[name]);
  return value;
}

/** Applies defaults and validates, synchronously, so that a bad option fails at construction. */
export function resolveOptions(options: SyncedCacheOptions = {}): ResolvedOptions {
  if (!isObject(options) || Array.isArray(options)) fail(SCOPE, 'options', 'must be an object', options, TypeError);
  checkKnownKeys(SCOPE, '', options as Record<string, unknown>, OPTION_NAMES['']);
  const namespace = options.namespace;
  if (namespace !== undefined && (typeof namespace !== 'string' || namespace.length === 0)) {
    fail(SCOPE, 'namespace', 'must be a non-empty string', namespace, TypeError);
  }
  const memory = section('memory', options.memory);
  const heartbeat = section('heartbeat', options.heartbeat);
  const redis = checkRedis(options.redis);
  const transport = options.transport as unknown;
  if (transport !== undefined) {
    if (!isObject(transport) || typeof transport.open !== 'function' || typeof transport.echoesOwnMessages !== 'boolean') {
      fail(SCOPE, 'transport', 'must implement the BusTransport interface (echoesOwnMessages, open)', transport, TypeError);
    }
    if (redis !== undefined) fail(SCOPE, 'transport', 'cannot be combined with "redis"; pass one bus', transport, TypeError);
  }
  const clock = options.clock as unknown;
  if (clock !== undefined && (!isObject(clock) || typeof clock.now !== 'function')) {
    fail(SCOPE, 'clock', 'must be an object with a now() method', options.clock, TypeError);
  }
  const hb = {
    interval: checkPositive(SCOPE, 'heartbeat.interval', heartbeat.interval) ?? DEFAULTS.heartbeat.interval,
    timeout: checkPositive(SCOPE, 'heartbeat.timeout', heartbeat.timeout) ?? DEFAULTS.heartbeat.timeout,
  };
  return {
    namespace: namespace ?? DEFAULTS.namespace,
    namespaceExplicit: namespace !== undefined,
    store: checkStore(options.store),
    redis,
    transport: transport as BusTransport | undefined,
    ttl: checkTtl('ttl', options.ttl),
    memory: {
      max: checkPositive(SCOPE, 'memory.max', memory.max, true) ?? DEFAULTS.memory.max,
      maxSize: checkPositive(SCOPE, 'memory.maxSize', memory.maxSize, true),
      ttl: checkTtl('memory.ttl', memory.ttl),
    },
    heartbeat: hb,
    maxPendingKeys: checkPositive(SCOPE, 'maxPendingKeys', options.maxPendingKeys, true) ?? DEFAULTS.maxPendingKeys,
    maxMessageBytes: checkPositive(SCOPE, 'maxMessageBytes', options.maxMessageBytes, true) ?? DEFAULTS.maxMessageBytes,
    publishTimeout: checkPositive(SCOPE, 'publishTimeout', options.publishTimeout) ?? hb.timeout,
    storeTimeout: checkDuration(SCOPE, 'storeTimeout', options.storeTimeout, { zero: 'no limit' }) ?? DEFAULTS.storeTimeout,
    circuitBreaker: resolveBreaker(options.circuitBreaker),
    grace: checkDuration(SCOPE, 'grace', options.grace, { zero: 'off' }) ?? DEFAULTS.grace,
    ...loaderTimeouts(SCOPE, options.softTimeout, options.hardTimeout),
    refreshAhead: checkFraction(SCOPE, 'refreshAhead', options.refreshAhead),
    lock: resolveLock(options.lock, redis !== undefined),
    clock: (clock as Clock | undefined) ?? systemClock,
    signer: options.secret === undefined ? undefined : new MessageSigner(options.secret as Secret),
    encryption: resolveEncryption(options.encryption),
    maxKeyLength: checkPositive(SCOPE, 'maxKeyLength', options.maxKeyLength, true) ?? DEFAULTS.maxKeyLength,
    maxValueBytes: checkPositive(SCOPE, 'maxValueBytes', options.maxValueBytes, true) ?? DEFAULTS.maxValueBytes,
    events: resolveEvents(options.events, redis !== undefined || transport !== undefined),
  };
}

function resolveEvents(value: unknown, hasBus: boolean): ResolvedOptions['events'] {
  const events = section('events', value);
  const bus = events.bus;
  if (bus !== undefined && typeof bus !== 'boolean') fail(SCOPE, 'events.bus', 'must be true or false', bus, TypeError);
  if (bus === true && !hasBus) {
    throw new TypeError(
      `${SCOPE}: option "events.bus" needs a bus (option "redis" or "transport"): the events travel on its channel synced-cache:<namespace>:events`,
    );
  }
  return { bus: bus === true };
}

function resolveBreaker(value: unknown): ResolvedOptions['circuitBreaker'] {
  if (value === false) return undefined;
  if (value !== undefined && (!isObject(value) || Array.isArray(value))) {
    fail(SCOPE, 'circuitBreaker', 'must be { threshold, cooldown } or false', value, TypeError);
  }
  const breaker = section('circuitBreaker', value);
  return {
    threshold: checkPositive(SCOPE, 'circuitBreaker.threshold', breaker.threshold, true) ?? DEFAULTS.circuitBreaker.threshold,
    cooldown: checkPositive(SCOPE, 'circuitBreaker.cooldown', breaker.cooldown) ?? DEFAULTS.circuitBreaker.cooldown,
  };
}

function resolveLock(value: unknown, hasRedis: boolean): ResolvedOptions['lock'] {
  if (value === undefined || value === false) return undefined;
  if (value !== true && (!isObject(value) || Array.isArray(value)))
    fail(SCOPE, 'lock', 'must be true, false or { ttl, wait }', value, TypeError);
  if (!hasRedis) {
    throw new TypeError(`${SCOPE}: option "lock" needs a Redis bus (option "redis"): the lock lives on the bus's Redis`);
  }
  return resolveLockTimes(SCOPE, value === true ? {} : section('lock', value), DEFAULTS.lock);
}

/** A lock's `{ ttl, wait }`, over `base`. */
export function resolveLockTimes(
  scope: string,
  value: Record<string, unknown>,
  base: { ttl: number; wait: number },
): { ttl: number; wait: number } {
  return {
    ttl: checkPositive(scope, 'lock.ttl', value.ttl, true) ?? base.ttl,
    wait: checkDuration(scope, 'lock.wait', value.wait) ?? base.wait,
  };
}

/** A fraction strictly between 0 and 1, or undefined when absent. */
function checkFraction(scope: string, option: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || Number.isNaN(value))
    fail(scope, option, 'must be a number between 0 and 1 (a fraction of the ttl)', value, TypeError);
  if (!(value > 0 && value < 1)) fail(scope, option, 'must be a fraction of the ttl, greater than 0 and less than 1 (e.g. 0.8)', value);
  return value;
}

/** `softTimeout` and `hardTimeout`: durations > 0, the soft one below the hard one. */
function loaderTimeouts(scope: string, soft: unknown, hard: unknown): { softTimeout: number | undefined; hardTimeout: number | undefined } {
  const softTimeout = checkDuration(scope, 'softTimeout', soft, { min: 1 });
  const hardTimeout = checkDuration(scope, 'hardTimeout', hard, { min: 1 });
  if (softTimeout !== undefined && hardTimeout !== undefined && softTimeout >= hardTimeout) {
    throw new RangeError(`${scope}: option "softTimeout" (${softTimeout} ms) must be less than "hardTimeout" (${hardTimeout} ms)`);
  }
  return { softTimeout, hardTimeout };
}

/** Options of `ready()`. */
export interface ReadyOptions {
  /**
   * Milliseconds to wait for the bus before rejecting.
   * @default 10_000
   */
  timeout?: number;
}

/** The timeout of `ready()`, validated. */
export function readyTimeout(options: unknown): number {
  if (!isObject(options) || Array.isArray(options))
    throw new TypeError(`${SCOPE}: ready: options must be an object { timeout }, got ${describe(options)}`);
  checkKnownKeys(`${SCOPE}: ready`, '', options, ['timeout']);
  return checkPositive(SCOPE, 'timeout', options.timeout) ?? 10_000;
}

/** What a write uses: its per-call options over the cache's. */
export interface WriteSettings {
  /** Time-to-live in ms (fresh life), or undefined for none. */
  ttl: number | undefined;
  /** Milliseconds kept past the ttl as a stale copy; 0: none. */
  grace: number;
}

/** What a getOrSet uses: its per-call options over the cache's. */
export interface LoadSettings extends WriteSettings {
  softTimeout: number | undefined;
  hardTimeout: number | undefined;
  refreshAhead: number | undefined;
  lock: { ttl: number; wait: number } | undefined;
}

const WRITE_OPTION_NAMES = ['ttl', 'grace'] as const;
const LOAD_OPTION_NAMES = ['ttl', 'grace', 'softTimeout', 'hardTimeout', 'refreshAhead', 'lock'] as const;

/** The per-call options object of `operation`: an object, or (as in Keyv and cache-manager) a number, taken as the ttl. */
function callOptions(operation: string, options: unknown, names: readonly string[]): Record<string, unknown> {
  if (options === undefined) return {};
  if (typeof options === 'number') return { ttl: options };
  if (isObject(options) && !Array.isArray(options)) {
    checkKnownKeys(`${SCOPE}: ${operation}`, '', options, names);
    return options;
  }
  throw new TypeError(
    `${SCOPE}: ${operation}: options must be an object { ${names.join(', ')} } or a ttl in milliseconds, got ${describe(options)}`,
  );
}

/** Rethrows a per-call option's error as about `key`. */
function aboutKey<T>(key: string, check: () => T): T {
  try {
    return check();
  } catch (error) {
    const message = (error as Error).message.replace(/^synced-cache: option "(\w+(?:\.\w+)?)" /, 'option "$1" ');
    const text = message.startsWith('option "ttl" ')
      ? `invalid ttl for key ${quote(key)}: ${message.slice('option "ttl" '.length)}`
      : `${message} (key ${quote(key)})`;
    throw new (error instanceof RangeError ? RangeError : TypeError)(`${SCOPE}: ${text}`);
  }
}

/** The settings of a write of `key`: `ttl` and `grace` from the call's options, else the cache's. */
export function writeSettings(operation: string, key: string, options: unknown, defaults: WriteSettings): WriteSettings {
  const call = callOptions(operation, options, WRITE_OPTION_NAMES);
  return aboutKey(key, () => ({
    ttl: call.ttl === undefined ? defaults.ttl : checkTtl('ttl', call.ttl),
    grace: call.grace === undefined ? defaults.grace : (checkDuration(SCOPE, 'grace', call.grace, { zero: 'off' }) as number),
  }));
}

/** The settings of a getOrSet of `key`: every option from the call's options, else the cache's. */
export function loadSettings(key: string, options: unknown, defaults: LoadSettings, lockAvailable: boolean): LoadSettings {
  const call = callOptions('getOrSet', options, LOAD_OPTION_NAMES);
  const write = writeSettings('getOrSet', key, { ttl: call.ttl, grace: call.grace }, defaults);
  return aboutKey(key, () => {
    const timeouts = loaderTimeouts(
      SCOPE,
      call.softTimeout === undefined ? defaults.softTimeout : call.softTimeout,
      call.hardTimeout === undefined ? defaults.hardTimeout : call.hardTimeout,
    );
    let lock = defaults.lock;
    if (call.lock !== undefined) {
      if (call.lock === false) lock = undefined;
      else if (!lockAvailable)
        throw new TypeError(`${SCOPE}: option "lock" needs a Redis bus (option "redis"): the lock lives on the bus's Redis`);
      else if (call.lock === true) lock = defaults.lock ?? DEFAULTS.lock;
      else if (isObject(call.lock) && !Array.isArray(call.lock)) {
        checkKnownKeys(`${SCOPE}: getOrSet`, 'lock', call.lock, OPTION_NAMES.lock);
        lock = resolveLockTimes(SCOPE, call.lock, defaults.lock ?? DEFAULTS.lock);
      } else fail(SCOPE, 'lock', 'must be true, false or { ttl, wait }', call.lock, TypeError);
    }
    return {
      ...write,
      ...timeouts,
      refreshAhead: call.refreshAhead === undefined ? defaults.refreshAhead : checkFraction(SCOPE, 'refreshAhead', call.refreshAhead),
      lock,
    };
  });
}
