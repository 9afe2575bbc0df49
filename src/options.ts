import { MessageSigner, type Secret } from './bus/signing.js';
import type { BusTransport } from './bus/transport.js';
import { checkDuration, checkKnownKeys, checkPositive, describe, fail, isObject, quote } from './check.js';
import { type Clock, systemClock } from './clock.js';
import type { RedisOption } from './redis/clients.js';
import type { StoreOption } from './store/adapter.js';
import { STORE_URL_SCHEMES, storeUrlScheme } from './store/url.js';

export type { StoreOption } from './store/adapter.js';

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
  clock: Clock;
  /** Built from `secret`. */
  signer: MessageSigner | undefined;
}

/** The defaults, in one place. */
export const DEFAULTS = {
  namespace: 'default',
  memory: { max: 10_000 },
  heartbeat: { interval: 1_000, timeout: 1_000 },
  maxPendingKeys: 10_000,
  maxMessageBytes: 1_048_576,
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
    'clock',
    'secret',
  ],
  memory: ['max', 'maxSize', 'ttl'],
  heartbeat: ['interval', 'timeout'],
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

function section(name: 'memory' | 'heartbeat', value: unknown): Record<string, unknown> {
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
    clock: (clock as Clock | undefined) ?? systemClock,
    signer: options.secret === undefined ? undefined : new MessageSigner(options.secret as Secret),
  };
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

/** Names of the per-call options of `set`, `getOrSet` and `add`. */
const CALL_OPTION_NAMES = ['ttl'] as const;

/**
 * The per-call options of a write, validated before anything is touched: an options object, or (as in
 * Keyv and cache-manager) a number, taken as the ttl in milliseconds. Returns the ttl to use.
 */
export function callTtl(operation: string, key: string, options: unknown, fallback: number | undefined): number | undefined {
  if (options === undefined) return fallback;
  let ttl: unknown;
  if (typeof options === 'number') ttl = options;
  else if (isObject(options) && !Array.isArray(options)) {
    checkKnownKeys(`${SCOPE}: ${operation}`, '', options, CALL_OPTION_NAMES);
    ttl = options.ttl;
    if (ttl === undefined) return fallback;
  } else {
    throw new TypeError(`${SCOPE}: ${operation}: options must be an object { ttl } or a ttl in milliseconds, got ${describe(options)}`);
  }
  try {
    return checkTtl('ttl', ttl);
  } catch (error) {
    throw new (error instanceof RangeError ? RangeError : TypeError)(
      `${SCOPE}: invalid ttl for key ${quote(key)}: ${(error as Error).message.replace(`${SCOPE}: option "ttl" `, '')}`,
    );
  }
}
