import type { Keyv, KeyvStoreAdapter } from 'keyv';
import type { BusTransport } from './bus/transport.js';
import { type Clock, systemClock } from './clock.js';
import type { RedisOption } from './redis/clients.js';

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

/** What `store` accepts: a Keyv instance, or any Keyv store adapter (`@keyv/redis`, `@keyv/postgres`, a `Map`, ...). */
export type StoreOption = Keyv | KeyvStoreAdapter | Map<unknown, unknown>;

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
   * The shared persistent store (L2). A Keyv instance keeps its serializer, compression and key-prefix settings.
   * @default an in-memory Keyv (useful for single-process use and tests)
   */
  store?: StoreOption;
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
   * Default time-to-live of an entry in both tiers. `0` or omitted: no expiry.
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
}

/** Options after defaults and validation. */
export interface ResolvedOptions {
  namespace: string;
  namespaceExplicit: boolean;
  store: StoreOption | undefined;
  redis: RedisOption | undefined;
  transport: BusTransport | undefined;
  ttl: number | undefined;
  memory: { max: number; maxSize: number | undefined; ttl: number | undefined };
  heartbeat: { interval: number; timeout: number };
  maxPendingKeys: number;
  maxMessageBytes: number;
  publishTimeout: number;
  clock: Clock;
}

/** The defaults, in one place. */
export const DEFAULTS = {
  namespace: 'default',
  memory: { max: 10_000 },
  heartbeat: { interval: 1_000, timeout: 1_000 },
  maxPendingKeys: 10_000,
  maxMessageBytes: 1_048_576,
} as const satisfies SyncedCacheOptions;

const REDIS_URL = /^(rediss?|unix):\/\//i;

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (value === null || typeof value !== 'object') return String(value);
  return Array.isArray(value) ? 'an array' : 'an object';
}

function fail(option: string, rule: string, value: unknown, Err: typeof TypeError = RangeError): never {
  throw new Err(`synced-cache: option "${option}" ${rule}, got ${describe(value)}`);
}

/** Validates a duration option: a finite number >= 0 (0 meaning off), or undefined. */
export function checkTtl(option: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || Number.isNaN(value)) fail(option, 'must be a number of milliseconds', value, TypeError);
  if (value < 0 || !Number.isFinite(value)) fail(option, 'must be a finite number of milliseconds >= 0 (0 means no expiry)', value);
  return value === 0 ? undefined : value;
}

function positive(option: string, value: unknown, fallback: number, integer = false): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || Number.isNaN(value)) fail(option, 'must be a number', value, TypeError);
  if (!(value > 0) || !Number.isFinite(value)) fail(option, 'must be a finite number > 0', value);
  if (integer && !Number.isInteger(value)) fail(option, 'must be a whole number', value);
  return value;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

function checkStore(value: unknown): StoreOption | undefined {
  if (value === undefined) return undefined;
  if (value instanceof Map) return value;
  if (isObject(value) && typeof value.get === 'function' && typeof value.set === 'function' && typeof value.delete === 'function') {
    return value as unknown as StoreOption;
  }
  return fail('store', 'must be a Keyv instance or a Keyv store adapter (with get, set, delete and clear)', value, TypeError);
}

function checkRedis(value: unknown): RedisOption | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string') {
    if (!REDIS_URL.test(value)) fail('redis', 'must be a URL starting with redis://, rediss:// or unix://', value, TypeError);
    try {
      new URL(value);
    } catch {
      fail('redis', 'is not a valid URL', value, TypeError);
    }
    return value;
  }
  if (isObject(value)) return value as RedisOption;
  return fail('redis', 'must be a Redis URL, ioredis options, or an ioredis client', value, TypeError);
}

/** Applies defaults and validates, synchronously, so that a bad option fails at construction. */
export function resolveOptions(options: SyncedCacheOptions = {}): ResolvedOptions {
  if (!isObject(options)) fail('options', 'must be an object', options, TypeError);
  const namespace = options.namespace;
  if (namespace !== undefined && (typeof namespace !== 'string' || namespace.length === 0)) {
    fail('namespace', 'must be a non-empty string', namespace, TypeError);
  }
  if (options.memory !== undefined && !isObject(options.memory)) fail('memory', 'must be an object', options.memory, TypeError);
  if (options.heartbeat !== undefined && !isObject(options.heartbeat)) fail('heartbeat', 'must be an object', options.heartbeat, TypeError);
  const memory = options.memory ?? {};
  const heartbeat = options.heartbeat ?? {};
  const redis = checkRedis(options.redis);
  const transport = options.transport as unknown;
  if (transport !== undefined) {
    if (!isObject(transport) || typeof transport.open !== 'function' || typeof transport.echoesOwnMessages !== 'boolean') {
      fail('transport', 'must implement the BusTransport interface (echoesOwnMessages, open)', transport, TypeError);
    }
    if (redis !== undefined) fail('transport', 'cannot be combined with "redis"; pass one bus', transport, TypeError);
  }
  const clock = options.clock as unknown;
  if (clock !== undefined && (!isObject(clock) || typeof clock.now !== 'function')) {
    fail('clock', 'must be an object with a now() method', options.clock, TypeError);
  }
  const hb = {
    interval: positive('heartbeat.interval', heartbeat.interval, DEFAULTS.heartbeat.interval),
    timeout: positive('heartbeat.timeout', heartbeat.timeout, DEFAULTS.heartbeat.timeout),
  };
  return {
    namespace: namespace ?? DEFAULTS.namespace,
    namespaceExplicit: namespace !== undefined,
    store: checkStore(options.store),
    redis,
    transport: transport as BusTransport | undefined,
    ttl: checkTtl('ttl', options.ttl),
    memory: {
      max: positive('memory.max', memory.max, DEFAULTS.memory.max, true),
      maxSize: memory.maxSize === undefined ? undefined : positive('memory.maxSize', memory.maxSize, 0, true),
      ttl: checkTtl('memory.ttl', memory.ttl),
    },
    heartbeat: hb,
    maxPendingKeys: positive('maxPendingKeys', options.maxPendingKeys, DEFAULTS.maxPendingKeys, true),
    maxMessageBytes: positive('maxMessageBytes', options.maxMessageBytes, DEFAULTS.maxMessageBytes, true),
    publishTimeout: positive('publishTimeout', options.publishTimeout, hb.timeout),
    clock: (clock as Clock | undefined) ?? systemClock,
  };
}
