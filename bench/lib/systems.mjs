// One adapter per system under test, all with the same shape:
//   { id, label, get(k), set(k, v), getOrSet(k, loader), ready(), stats(), close() }
// Every system gets the same topology: an in-process memory tier large enough for the working
// set (unless a scenario asks for a small one), Redis as the shared store, Redis pub/sub to
// keep the memory tiers of other processes coherent. Where a library's default differs from
// that (or changes the result a lot), the variant is its own system id, so both are measured.
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import KeyvRedis from '@keyv/redis';
import { Redis } from 'ioredis';
import { Keyv } from 'keyv';
import { LRUCache } from 'lru-cache';

export const DIST = fileURLToPath(new URL('../../dist/index.js', import.meta.url));

/**
 * The build the children import: run.mjs copies dist/ once at the start and passes the copy in
 * BENCH_DIST, so every scenario measures the same build even if dist/ is rebuilt meanwhile.
 */
function distEntry() {
  return process.env.BENCH_DIST || DIST;
}

/** True once `npm run build` has produced dist/index.js. */
export function oursAvailable() {
  return existsSync(DIST);
}

/**
 * The systems, in the order tables list them. `ours` marks the library under test;
 * `baseline` a hand-written floor rather than a library.
 */
export const SYSTEMS = {
  'synced-cache': { label: 'synced-cache (ours)', ours: true },
  // Another build of ours in the same run (BENCH_BASELINE_DIST=/path/to/dist/index.js): before and after a change.
  'synced-cache-baseline': { label: 'synced-cache, baseline build (BENCH_BASELINE_DIST)' },
  bentocache: { label: 'BentoCache 1.x (L1 serialize: true, default)' },
  'bentocache-noser': { label: 'BentoCache 1.x (L1 serialize: false)' },
  cacheable: { label: 'cacheable 2.x (useClone: true, default)' },
  'cacheable-noclone': { label: 'cacheable 2.x (useClone: false)' },
  'layered-loader': { label: 'layered-loader 14.x' },
  'hand-rolled': {
    label: 'hand-rolled: lru-cache + Keyv + PUBLISH per key',
    baseline: true,
  },
};

function redisOptions(url) {
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port), lazyConnect: false, enableAutoPipelining: false };
}

async function waitUntil(check, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * Builds system `id`.
 * @param {string} id a key of SYSTEMS
 * @param {{ redisUrl: string, namespace?: string, memoryMax?: number, loader?: (key: string) => Promise<unknown> }} o
 */
export async function createSystem(id, o) {
  const memoryMax = o.memoryMax ?? 200_000;
  const namespace = o.namespace ?? 'bench';
  switch (id) {
    case 'synced-cache':
      return createOurs(o.redisUrl, namespace, memoryMax, distEntry());
    case 'synced-cache-baseline':
      return createOurs(o.redisUrl, namespace, memoryMax, process.env.BENCH_BASELINE_DIST);
    case 'bentocache':
    case 'bentocache-noser':
      return createBento(o.redisUrl, namespace, memoryMax, id === 'bentocache');
    case 'cacheable':
    case 'cacheable-noclone':
      return createCacheable(o.redisUrl, namespace, memoryMax, id === 'cacheable', o.memoryMax !== undefined);
    case 'layered-loader':
      return createLayered(o.redisUrl, namespace, memoryMax, o.loader);
    case 'hand-rolled':
      return createHandRolled(o.redisUrl, namespace, memoryMax);
    default:
      throw new Error(`unknown system ${id}`);
  }
}

async function createOurs(redisUrl, namespace, memoryMax, entry) {
  if (entry === undefined) throw new Error('no build to measure: set BENCH_BASELINE_DIST to a dist/index.js');
  const { SyncedCache } = await import(pathToFileURL(entry).href);
  const store = new Keyv(new KeyvRedis(redisUrl));
  const cache = new SyncedCache({
    namespace,
    store,
    redis: redisUrl,
    memory: { max: memoryMax },
  });
  return {
    id: 'synced-cache',
    raw: cache,
    get: (k) => cache.get(k),
    set: (k, v) => cache.set(k, v),
    getOrSet: (k, loader) => cache.getOrSet(k, loader),
    async ready() {
      await waitUntil(() => cache.stats().bus === 'up', 10_000, 'synced-cache bus up');
      await cache.get('__bench_connect__');
    },
    stats: () => cache.stats(),
    async close() {
      await cache.close();
      // a store passed in is never closed by the cache
      await store.disconnect();
    },
  };
}

async function createBento(redisUrl, namespace, memoryMax, serialize) {
  const { BentoCache, bentostore } = await import('bentocache');
  const { memoryDriver } = await import('bentocache/drivers/memory');
  const { redisDriver, redisBusDriver } = await import('bentocache/drivers/redis');
  const connection = redisOptions(redisUrl);
  const bento = new BentoCache({
    default: 'cache',
    prefix: namespace,
    stores: {
      cache: bentostore()
        .useL1Layer(memoryDriver({ maxItems: memoryMax, serialize }))
        .useL2Layer(redisDriver({ connection }))
        .useBus(redisBusDriver({ connection })),
    },
  });
  return {
    id: serialize ? 'bentocache' : 'bentocache-noser',
    raw: bento,
    get: (key) => bento.get({ key }),
    set: (key, value) => bento.set({ key, value }),
    getOrSet: (key, factory) => bento.getOrSet({ key, factory }),
    async ready() {
      await bento.get({ key: '__bench_connect__' });
    },
    stats: () => undefined,
    close: () => bento.disconnect(),
  };
}

async function createCacheable(redisUrl, namespace, memoryMax, useClone, bounded) {
  const { Cacheable, createKeyv } = await import('cacheable');
  const { RedisMessageProvider } = await import('@qified/redis');
  const provider = new RedisMessageProvider({ uri: redisUrl });
  const cache = new Cacheable({
    namespace,
    // cacheable's default primary is an unbounded in-memory map; a scenario that needs a small
    // memory tier passes memoryMax and gets an LRU of that size.
    primary: createKeyv({ useClone, ...(bounded ? { lruSize: memoryMax } : {}) }),
    secondary: new KeyvRedis(redisUrl),
    sync: { qified: provider },
  });
  return {
    id: useClone ? 'cacheable' : 'cacheable-noclone',
    raw: cache,
    get: (k) => cache.get(k),
    set: (k, v) => cache.set(k, v),
    getOrSet: (k, loader) => cache.getOrSet(k, loader),
    async ready() {
      await provider.connect();
      await cache.get('__bench_connect__');
    },
    stats: () => undefined,
    close: () => cache.disconnect(),
  };
}

async function createLayered(redisUrl, namespace, memoryMax, loaderFn) {
  const { Loader, RedisCache, createNotificationPair } = await import('layered-loader');
  const redis = new Redis(redisUrl);
  const { publisher, consumer } = createNotificationPair({
    channel: `${namespace}:layered-loader`,
    consumerRedis: redisOptions(redisUrl),
    publisherRedis: redisOptions(redisUrl),
  });
  let current = loaderFn;
  const loader = new Loader({
    inMemoryCache: { cacheType: 'lru-map', maxItems: memoryMax },
    asyncCache: new RedisCache(redis, { json: true, prefix: namespace }),
    notificationConsumer: consumer,
    notificationPublisher: publisher,
    // layered-loader's model is one data source per loader: getOrSet() swaps the function it calls
    dataSourceGetOneFn: (key) => (current ? current(key) : Promise.resolve(undefined)),
  });
  return {
    id: 'layered-loader',
    raw: loader,
    get: (k) => loader.get(k),
    // forceSetValue writes memory and Redis, then publishes the value to the other processes
    set: (k, v) => loader.forceSetValue(k, v),
    getOrSet: (k, fn) => {
      current = fn;
      return loader.get(k);
    },
    async ready() {
      await loader.init();
      await redis.ping();
    },
    stats: () => undefined,
    async close() {
      await loader.close();
      // RedisCache never closes the client it was given
      redis.disconnect();
    },
  };
}

async function createHandRolled(redisUrl, namespace, memoryMax) {
  const lru = new LRUCache({ max: memoryMax });
  const keyv = new Keyv(new KeyvRedis(redisUrl));
  const pub = new Redis(redisUrl);
  const sub = new Redis(redisUrl);
  const channel = `${namespace}:hand-rolled`;
  const me = randomUUID();
  sub.on('message', (_ch, msg) => {
    const bar = msg.indexOf('|');
    if (msg.slice(0, bar) !== me) lru.delete(msg.slice(bar + 1));
  });
  const inflight = new Map();
  return {
    id: 'hand-rolled',
    raw: { lru, keyv, pub, sub },
    async get(k) {
      const hit = lru.get(k);
      if (hit !== undefined) return hit;
      const v = await keyv.get(k);
      if (v !== undefined) lru.set(k, v);
      return v;
    },
    async set(k, v) {
      await keyv.set(k, v);
      lru.set(k, v);
      await pub.publish(channel, `${me}|${k}`);
    },
    async getOrSet(k, loader) {
      const hit = lru.get(k);
      if (hit !== undefined) return hit;
      let p = inflight.get(k);
      if (!p) {
        p = (async () => {
          const stored = await keyv.get(k);
          if (stored !== undefined) {
            lru.set(k, stored);
            return stored;
          }
          const v = await loader(k);
          await this.set(k, v);
          return v;
        })().finally(() => inflight.delete(k));
        inflight.set(k, p);
      }
      return p;
    },
    async ready() {
      await sub.subscribe(channel);
      await keyv.get('__bench_connect__');
    },
    stats: () => undefined,
    async close() {
      sub.disconnect();
      pub.disconnect();
      await keyv.disconnect();
    },
  };
}
