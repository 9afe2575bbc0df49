import { EventEmitter } from 'node:events';
import KeyvRedis from '@keyv/redis';
import keyvTestSuite, { keyvIteratorTests } from '@keyv/test-suite';
import { createCache } from 'cache-manager';
import { Keyv, type KeyvStoreAdapter, type StoredData } from 'keyv';
import * as test from 'vitest';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { SyncedCache, SyncedKeyvStore } from '../../src/index.js';
import { type Fixture, forkFixture } from '../helpers/fork-fixture.js';
import { KEYV_GENERATION, keyvKey } from '../helpers/keyv-generation.js';
import { useRedisServer } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';

type SyncedCacheOptions = ConstructorParameters<typeof SyncedCache>[0];

// @keyv/test-suite 2 is written for Keyv 5; under Keyv 6 (the keyv-6 CI job) one of its tests fails for
// every store, plain Keyv 6 over @keyv/redis 6 included, because Keyv 6 answers deleteMany with one
// boolean per key. That test is reported as skipped there, with this reason in its name; all others run.
const UPSTREAM_FAILURES_UNDER_KEYV6 = ['.deleteMany([keys]) with nonexistent keys resolves to false'];
type It = typeof test.it;
const suiteIt = ((name: string, ...rest: Parameters<It> extends [unknown, ...infer R] ? R : never) =>
  KEYV_GENERATION === 6 && UPSTREAM_FAILURES_UNDER_KEYV6.includes(name)
    ? test.it.skip(`${name} (fails upstream under Keyv 6: deleteMany answers one boolean per key)`, ...rest)
    : test.it(name, ...rest)) as unknown as It;
const suiteTest = { ...test, it: Object.assign(suiteIt, test.it), test: Object.assign(suiteIt, test.it) } as unknown as typeof test;

/**
 * The minimum Keyv store adapter: a Map with no iterator. With `failure`, get and set reject with it
 * (a fault double implementing the real interface).
 */
class PlainAdapter extends EventEmitter implements KeyvStoreAdapter {
  opts = {};
  namespace: string | undefined;
  readonly #map = new Map<string, unknown>();
  constructor(readonly failure?: Error) {
    super();
  }
  async get<Value>(key: string): Promise<StoredData<Value> | undefined> {
    if (this.failure) throw this.failure;
    return this.#map.get(key) as StoredData<Value> | undefined;
  }
  async set(key: string, value: unknown): Promise<void> {
    if (this.failure) throw this.failure;
    this.#map.set(key, value);
  }
  async delete(key: string): Promise<boolean> {
    return this.#map.delete(key);
  }
  async clear(): Promise<void> {
    this.#map.clear();
  }
}

/** Waits until a cache with a bus trusts its memory tier. */
async function busUp(cache: SyncedCache<unknown>): Promise<void> {
  await waitFor(() => cache.stats().bus === 'up', 'the bus to come up');
}

describe('SyncedKeyvStore over an in-memory store, no bus: @keyv/test-suite', () => {
  const cache = new SyncedCache<unknown>({ namespace: 'suite-memory' });
  afterAll(() => cache.close());

  // keyvTestSuite runs keyvApiTests, keyvValueTests and the namespace tests.
  keyvTestSuite(suiteTest, Keyv, () => cache.keyvStore());

  // The in-memory default can be listed, so the adapter has an iterator and Keyv 5 offers it.
  keyvIteratorTests(suiteTest, Keyv, () => cache.keyvStore());

  it('iterator() yields the keys of its Keyv namespace over an in-memory store', async () => {
    const store = cache.keyvStore();
    expect(store.opts).toEqual({ dialect: 'synced-cache', url: 'synced-cache://suite-memory?iterator=redis' });
    const keyv = new Keyv({ store, namespace: 'it' });
    const other = new Keyv({ store: cache.keyvStore(), namespace: 'other' });
    await keyv.set('a', 1);
    await keyv.set('b', { c: 2 });
    await other.set('a', 3);
    const seen: [string, unknown][] = [];
    for await (const entry of store.iterator?.('it') ?? []) seen.push(entry as [string, unknown]);
    expect(seen.map(([key]) => key).sort()).toEqual([keyvKey('it', 'a'), keyvKey('it', 'b')]);
    expect(new Map(seen).get(keyvKey('it', 'b'))).toBe(JSON.stringify({ value: { c: 2 } }));
  });
});

describe('SyncedKeyvStore over @keyv/redis with a Redis bus: @keyv/test-suite', () => {
  const redis = useRedisServer();
  let cache: SyncedCache<unknown>;
  let redisStore: KeyvRedis<unknown>;
  beforeAll(async () => {
    redisStore = new KeyvRedis(redis.url);
    cache = new SyncedCache<unknown>({ store: redisStore, redis: redis.url, namespace: 'suite-redis' });
    await busUp(cache);
  });
  afterAll(async () => {
    await cache.close();
    await redisStore.disconnect();
  });

  keyvTestSuite(suiteTest, Keyv, () => cache.keyvStore());
  keyvIteratorTests(suiteTest, Keyv, () => cache.keyvStore());

  it('Keyv offers iterator() over it (Keyv 5 only for dialects on its list: it reports the wrapped store as Redis)', () => {
    if (KEYV_GENERATION === 5) expect(cache.keyvStore().opts.dialect).toBe('redis');
    expect(typeof new Keyv({ store: cache.keyvStore() }).iterator).toBe('function');
  });
});

describe('SyncedKeyvStore', () => {
  const redis = useRedisServer();

  /** A cache of the source tree on the private Redis, closed after the test. */
  async function redisCache(options: SyncedCacheOptions = {}): Promise<{ cache: SyncedCache<unknown>; store: KeyvRedis<unknown> }> {
    const store = new KeyvRedis<unknown>(redis.url);
    const cache = new SyncedCache<unknown>({ store, redis: redis.url, heartbeat: { interval: 200, timeout: 500 }, ...options });
    onTestFinished(async () => {
      await cache.close();
      await store.disconnect();
    });
    await busUp(cache);
    return { cache, store };
  }

  it('is what cache.keyvStore() returns, and serves repeated Keyv reads from memory', async () => {
    const cache = new SyncedCache<unknown>({ namespace: 'hits' });
    onTestFinished(() => cache.close());
    const store = cache.keyvStore();
    expect(store).toBeInstanceOf(SyncedKeyvStore);
    expect(store.cache).toBe(cache);
    const keyv = new Keyv<{ n: number }>({ store });
    await keyv.set('k', { n: 1 });
    const before = cache.stats().hits;
    expect(await keyv.get('k')).toEqual({ n: 1 });
    expect(await keyv.get('k')).toEqual({ n: 1 });
    expect(cache.stats().hits.memory - before.memory).toBe(2);
    expect(cache.stats().hits.store - before.store).toBe(0);
  });

  it('passes the Keyv ttl to the cache: the entry expires in the store, not only in Keyv', async () => {
    const { cache } = await redisCache({ namespace: 'ttl' });
    const keyv = new Keyv({ store: cache.keyvStore() });
    await keyv.set('short', 'v', 150);
    await keyv.set('long', 'v');
    // Read through the cache, under Keyv: only a store-level ttl can make the raw entry disappear.
    expect(await cache.get(keyvKey(undefined, 'short'))).toBeTypeOf('string');
    await waitFor(async () => (await cache.get(keyvKey(undefined, 'short'))) === undefined, 'the store to expire the entry', 3_000);
    expect(await cache.get(keyvKey(undefined, 'long'))).toBeTypeOf('string');
  });

  it('clear() removes only its Keyv namespace when the store can be iterated, and tells other processes', async () => {
    const { cache: a } = await redisCache({ namespace: 'clear' });
    const { cache: b } = await redisCache({ namespace: 'clear' });
    const one = new Keyv({ store: a.keyvStore(), namespace: 'one' });
    const two = new Keyv({ store: a.keyvStore(), namespace: 'two' });
    const oneInB = new Keyv({ store: b.keyvStore(), namespace: 'one' });
    await one.set('x', 1);
    await two.set('x', 2);
    expect(await oneInB.get('x')).toBe(1);
    expect(await oneInB.get('x')).toBe(1);
    const hits = b.stats().hits.memory;
    expect(hits).toBeGreaterThan(0);
    await one.clear();
    await waitFor(async () => (await oneInB.get('x')) === undefined, "b to drop one's key");
    expect(await two.get('x')).toBe(2);
  });

  it('clear() with no Keyv namespace clears the whole cache', async () => {
    const cache = new SyncedCache<unknown>({ namespace: 'clear-all' });
    onTestFinished(() => cache.close());
    await cache.set('direct', 'value');
    const keyv = new Keyv({ store: cache.keyvStore(), namespace: undefined });
    await keyv.set('k', 'v');
    await keyv.clear();
    expect(await keyv.get('k')).toBeUndefined();
    expect(await cache.get('direct')).toBeUndefined();
  });

  it('iterator() keeps keys right when the Keyv namespace is the cache namespace', async () => {
    // A cache built on `new Keyv(store)` takes its namespace, "keyv", which is also Keyv's default.
    const { cache } = await redisCache({ namespace: 'keyv' });
    const keyv = new Keyv({ store: cache.keyvStore() });
    await keyv.set('a', 1);
    await keyv.set('b:c', 2);
    const seen: [string, unknown][] = [];
    for await (const entry of keyv.iterator?.(undefined) ?? []) seen.push(entry as [string, unknown]);
    expect(seen.sort()).toEqual([
      ['a', 1],
      ['b:c', 2],
    ]);
  });

  it('has no iterator() when the cache store cannot iterate, and says so when asked to', async () => {
    const cache = new SyncedCache<unknown>({ store: new PlainAdapter(), namespace: 'plain' });
    onTestFinished(() => cache.close());
    const store = cache.keyvStore();
    expect(store.iterator).toBeUndefined();
    const one = new Keyv({ store, namespace: 'one' });
    const two = new Keyv({ store: cache.keyvStore(), namespace: 'two' });
    await one.set('x', 1);
    await two.set('x', 2);
    if (KEYV_GENERATION === 5) {
      expect(new Keyv({ store }).iterator).toBeUndefined();
      // Without an iterator, clear() falls back to clearing the cache (both Keyv namespaces).
      await one.clear();
      expect(await two.get('x')).toBeUndefined();
    } else {
      // Keyv 6's bridge refuses to clear one namespace of a store that cannot list its keys.
      await expect(one.clear()).rejects.toThrow(/Can't clear namespace "one"/);
      expect(await two.get('x')).toBe(2);
    }
  });

  it('surfaces store failures as rejections (through Keyv with throwOnErrors) and Keyv error events', async () => {
    const cache = new SyncedCache<unknown>({ store: new PlainAdapter(new Error('disk on fire')), namespace: 'failing' });
    onTestFinished(() => cache.close());
    // Keyv 5 rethrows with throwOnErrors; Keyv 6 rethrows while nobody listens to its 'error'.
    const keyv = new Keyv({ store: cache.keyvStore(), ...(KEYV_GENERATION === 5 ? { throwOnErrors: true } : {}) });
    await expect(keyv.set('k', 'v')).rejects.toThrow(`store set for key "${keyvKey(undefined, 'k')}" failed: disk on fire`);
    const quiet = new Keyv({ store: cache.keyvStore() });
    const errors: unknown[] = [];
    quiet.on('error', (error: unknown) => errors.push(error));
    expect(await quiet.set('k', 'v')).toBe(false);
    expect(errors).toHaveLength(1);
    expect((errors[0] as Error).name).toBe('StoreError');
  });

  it('disconnect() closes the cache and leaves the store open', async () => {
    const { cache, store } = await redisCache({ namespace: 'disconnect' });
    const keyv = new Keyv({ store: cache.keyvStore() });
    await keyv.set('k', 'v');
    await keyv.disconnect();
    expect(cache.stats().bus).toBe('off');
    // Keyv 5 answers a failed read as a miss; Keyv 6 rethrows it while nobody listens to its 'error'.
    if (KEYV_GENERATION === 5) await expect(keyv.get('k')).resolves.toBeUndefined();
    else await expect(keyv.get('k')).rejects.toThrow(/cache is closed/);
    await expect(cache.get(keyvKey(undefined, 'k'))).rejects.toThrow(/cache is closed/);
    // The store itself stays usable: the entry is there (Keyv 5 prefixes the cache's namespace first).
    expect(await store.get(KEYV_GENERATION === 5 ? 'disconnect:keyv:k' : 'k')).toBeTypeOf('string');
  });

  describe('two processes sharing Redis', () => {
    const workers: Fixture[] = [];
    afterAll(async () => {
      await Promise.all(workers.map((w) => w.kill()));
    });

    it("see each other's Keyv writes through the adapter, the reader's memory tier included", async () => {
      const env = { REDIS_URL: redis.url, CACHE_NAMESPACE: 'two-processes' };
      const [a, b] = await Promise.all([forkFixture('keyv-adapter-worker.mjs', env), forkFixture('keyv-adapter-worker.mjs', env)]);
      workers.push(a, b);
      expect(a.pid).not.toBe(b.pid);

      await a.call('set', { key: 'user:1', value: { name: 'Ada' } });
      expect(await b.call('get', { key: 'user:1' })).toEqual({ name: 'Ada' });
      expect(await b.call('get', { key: 'user:1' })).toEqual({ name: 'Ada' });
      const stats = await b.call<{ hits: { memory: number; store: number } }>('stats');
      expect(stats.hits).toEqual({ memory: 1, store: 1 });

      // b holds the value in memory now; only the invalidation from a can make it read the new one.
      await a.call('set', { key: 'user:1', value: { name: 'Grace' } });
      await waitFor(async () => (await b.call<{ name: string }>('get', { key: 'user:1' }))?.name === 'Grace', 'b to see the update');

      await b.call('delete', { key: 'user:1' });
      await waitFor(async () => (await a.call('get', { key: 'user:1' })) === undefined, 'a to see the delete');
      const aStats = await a.call<{ invalidations: { received: number } }>('stats');
      expect(aStats.invalidations.received).toBeGreaterThan(0);
      await Promise.all([a.call('close'), b.call('close')]);
    });
  });

  describe('cache-manager v7', () => {
    // cache-manager 7 is written for Keyv 5: over any Keyv 6 store, plain Keyv 6 included, its wrap()
    // never finds what it stored (the keyv-6 CI job runs this file; this test then reports as skipped).
    it.skipIf(KEYV_GENERATION === 6)(
      'get, set, del and wrap through createCache({ stores: [new Keyv({ store: cache.keyvStore() })] })',
      async () => {
        const { cache } = await redisCache({ namespace: 'cache-manager' });
        const manager = createCache({ stores: [new Keyv({ store: cache.keyvStore() })] });

        await manager.set('a', { x: 1 }, 10_000);
        expect(await manager.get('a')).toEqual({ x: 1 });
        // The entry is in the synced cache (so in Redis, announced on the bus), under Keyv's prefix.
        expect(JSON.parse((await cache.get(keyvKey(undefined, 'a'))) as string).value).toEqual({ x: 1 });

        let calls = 0;
        const load = async () => {
          calls++;
          return { loaded: calls };
        };
        expect(await manager.wrap('w', load, 10_000)).toEqual({ loaded: 1 });
        expect(await manager.wrap('w', load, 10_000)).toEqual({ loaded: 1 });
        expect(calls).toBe(1);

        // A second process-like cache on the same Redis sees what the manager stored.
        const { cache: other } = await redisCache({ namespace: 'cache-manager' });
        const otherManager = createCache({ stores: [new Keyv({ store: other.keyvStore() })] });
        expect(await otherManager.get('w')).toEqual({ loaded: 1 });

        expect(await manager.del('a')).toBe(true);
        expect(await manager.get('a')).toBeUndefined();
        await manager.del('w');
        expect(await manager.wrap('w', load, 10_000)).toEqual({ loaded: 2 });
      },
    );
  });
});
