import type { KeyvStoreAdapter } from 'keyv';

/** One write of a batch, as a driver takes it. */
export interface DriverWrite {
  /** Canonical key. */
  k: string;
  /** The encoded record. */
  stored: unknown;
  /** Relative ttl in ms, or undefined for none. */
  ttl: number | undefined;
  /** The same as an absolute time (`Date.now()` clock), for adapters that take that. */
  expires: number | undefined;
}

/**
 * The adapter protocol of one Keyv generation: how a canonical key becomes the adapter's key, how a
 * ttl is passed, what the adapter answers. Every method rejects on failure (the tier maps errors);
 * nothing here decodes, judges expiry or deletes on its own.
 */
export interface StoreDriver {
  readonly generation: 5 | 6;
  /** True when the adapter can list its keys. */
  readonly canList: boolean;
  /** True when the adapter writes a batch in one call; else the tier writes key by key, all settled. */
  readonly batchWrites: boolean;
  /** True when the adapter deletes a batch in one call; else the tier deletes key by key, all settled. */
  readonly batchDeletes: boolean;
  get(k: string): Promise<unknown>;
  getMany(ks: readonly string[]): Promise<unknown[]>;
  /** Resolves false when the adapter says the write was not applied. */
  set(write: DriverWrite): Promise<boolean>;
  /** Per write: false when the adapter says it was not applied; with `undefined` entries when it does not say. */
  setMany(writes: readonly DriverWrite[]): Promise<readonly (boolean | undefined)[]>;
  /** Resolves to whether the key existed. */
  delete(k: string): Promise<boolean>;
  /** Resolves to whether every key existed. */
  deleteMany(ks: readonly string[]): Promise<boolean>;
  clear(): Promise<void>;
  /** `[canonical key, raw record]` for the namespace; only when `canList`. */
  iterate(): AsyncIterator<[string, unknown]>;
  /** Writes only if the key is absent, atomically in the store (resolves whether it wrote); only where the store has it (Redis). */
  setIfAbsent?(write: DriverWrite): Promise<boolean>;
  /**
   * Writes only if the store still holds exactly `expected` (the raw record read before; undefined: the
   * key is absent), atomically in the store; resolves whether it wrote. Only where the store has it (Redis).
   */
  compareAndSet?(write: DriverWrite, expected: unknown): Promise<boolean>;
}

export type Adapter = KeyvStoreAdapter | Map<unknown, unknown>;

/** An 'error' listener on the adapter for the duration of `call`: some adapters report a failure only there. */
export async function withReportedErrors<T>(adapter: object, call: () => Promise<T>): Promise<T> {
  type Emitter = { on?: (event: 'error', f: (e: unknown) => void) => unknown; off?: (event: 'error', f: (e: unknown) => void) => unknown };
  const events = adapter as Emitter;
  if (typeof events.on !== 'function' || typeof events.off !== 'function') return call();
  let reported: { error: unknown } | undefined;
  const listener = (error: unknown) => {
    reported ??= { error };
  };
  events.on('error', listener);
  let result: T;
  try {
    result = await call();
  } finally {
    events.off('error', listener);
  }
  if (reported !== undefined) throw reported.error instanceof Error ? reported.error : new Error(String(reported.error));
  return result;
}

/** The parts of an @keyv/redis adapter (5 or 6) a set-if-absent needs. */
interface RedisClientLike {
  set(key: string, value: string, options: Record<string, unknown>): Promise<unknown>;
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
}

interface KeyvRedisLike {
  createKeyPrefix(key: string, namespace: string | undefined): string;
  namespace?: string;
  getClient?: () => Promise<RedisClientLike>;
}

/** The @keyv/redis adapter behind `adapter` (itself, or the one Keyv 6's bridge wraps), when it is one. */
export function keyvRedisOf(adapter: unknown): KeyvRedisLike | undefined {
  for (let level = adapter, i = 0; i < 2 && typeof level === 'object' && level !== null; i++) {
    const candidate = level as Partial<KeyvRedisLike> & { store?: unknown };
    if (typeof candidate.createKeyPrefix === 'function' && typeof candidate.getClient === 'function') return candidate as KeyvRedisLike;
    level = candidate.store;
  }
  return undefined;
}

/**
 * `SET key value NX [PX ttl]` through an @keyv/redis adapter's own client, on the key it would use:
 * resolves true if written, false if the key existed.
 */
export async function redisSetIfAbsent(
  redis: KeyvRedisLike,
  adapterKey: string,
  stored: unknown,
  ttl: number | undefined,
): Promise<boolean> {
  if (typeof stored !== 'string') throw new TypeError('synced-cache: add: the store adapter was given a record that is not a string');
  const client = await (redis.getClient as NonNullable<KeyvRedisLike['getClient']>)();
  const reply = await client.set(
    redis.createKeyPrefix(adapterKey, redis.namespace),
    stored,
    ttl === undefined ? { NX: true } : { NX: true, PX: ttl },
  );
  return reply === 'OK';
}

// Writes only if the key holds exactly the expected bytes (or, with ARGV[1] = '1', is absent).
const COMPARE_AND_SET = `local current = redis.call('GET', KEYS[1])
if ARGV[1] == '1' then
  if current then return 0 end
elseif current ~= ARGV[2] then
  return 0
end
if ARGV[4] ~= '' then
  redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[4])
else
  redis.call('SET', KEYS[1], ARGV[3])
end
return 1`;

/** A compare-and-set through an @keyv/redis adapter's own client (one Lua script), on the key it would use. */
export async function redisCompareAndSet(
  redis: KeyvRedisLike,
  adapterKey: string,
  expected: unknown,
  stored: unknown,
  ttl: number | undefined,
): Promise<boolean> {
  if (typeof stored !== 'string' || (expected !== undefined && typeof expected !== 'string')) {
    throw new TypeError('synced-cache: update: the store adapter holds records that are not strings');
  }
  const client = await (redis.getClient as NonNullable<KeyvRedisLike['getClient']>)();
  const reply = await client.eval(COMPARE_AND_SET, {
    keys: [redis.createKeyPrefix(adapterKey, redis.namespace)],
    arguments: [expected === undefined ? '1' : '0', expected ?? '', stored, ttl === undefined ? '' : String(Math.ceil(ttl))],
  });
  return reply === 1;
}
