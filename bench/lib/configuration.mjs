// How each system is configured, in words, for RESULTS.md. Keep in step with systems.mjs.
export const CONFIGURATION = [
  "**Topology, every system**: an in-process memory tier, Redis (the suite's private redis-server) as the shared store, " +
    "Redis pub/sub to keep other processes' memory coherent. Memory tiers hold 200,000 entries (more than any working set here) " +
    'except in the store-hit scenario (100, to force misses). No ttl anywhere; each library keeps its own default ttl where it has one.',
  '**synced-cache (ours)**: `new SyncedCache({ namespace, store: new Keyv(new KeyvRedis(url)), redis: url, memory: { max } })`; ' +
    'heartbeat defaults (1 s interval, 1 s timeout). The build measured is a copy of dist/ taken when the suite starts.',
  '**BentoCache**: `bentostore().useL1Layer(memoryDriver({ maxItems, serialize })).useL2Layer(redisDriver({ connection })).useBus(redisBusDriver({ connection }))`. ' +
    'Its default `serialize: true` keeps L1 entries as JSON strings and parses one on every L1 hit; `serialize: false` keeps objects. ' +
    'Both are measured where only the local process fills L1 (hot hit, memory per entry). In 1.6.1, `serialize: false` stores a JSON ' +
    'string in L1 when it refills L1 from L2, and the next L1 read or bus message for that key throws ' +
    "`Cannot read properties of undefined (reading 'deserialize')` (Julien-R44/bentocache issue #111, fix proposed in PR #113), " +
    'so it cannot run the multi-process and store-hit scenarios. Its default ttl is 30 min.',
  '**cacheable**: `new Cacheable({ namespace, primary: createKeyv({ useClone }), secondary: new KeyvRedis(url), sync: { qified: new RedisMessageProvider({ uri: url }) } })`. ' +
    'Its default primary is an unbounded in-memory map that `structuredClone`s every value it returns (`useClone: true`); ' +
    'both settings are measured where it matters (hot hit, memory). In the store-hit scenario the primary is bounded with `lruSize: 100`. ' +
    'Its sync publishes the value itself with every set (other processes overwrite their primary), not an invalidation.',
  "**layered-loader**: `new Loader({ inMemoryCache: { cacheType: 'lru-map', maxItems }, asyncCache: new RedisCache(ioredis, { json: true, prefix }), notificationConsumer, notificationPublisher })` " +
    'with `createNotificationPair()` on the same Redis; writes use `forceSetValue()` (memory, then Redis, then a SET notification carrying ' +
    "the value, not awaited), `getOrSet` is the loader's `get()` with `dataSourceGetOneFn`. RedisCache's default ttl is 10 min.",
  '**hand-rolled baseline**: lru-cache in front of `Keyv(KeyvRedis)`, `set` = keyv.set, then memory, then `PUBLISH` of the key; receivers ' +
    'delete the key from memory; no fences, no batching: what a synced cache looks like without the library.',
  '**Raw floors**: lru-cache 11 `get` (sync and `await`ed), ioredis `GET` + `JSON.parse`, `keyv.set` then ioredis `PUBLISH`, ' +
    'ioredis `PUBLISH` -> `message` between two processes.',
  '**Clients**: ioredis 5 for everything that takes an ioredis client (our bus, BentoCache, layered-loader, the raw floors); ' +
    '@keyv/redis and @qified/redis use node-redis 5 (our store, cacheable, the keyv floors).',
];
