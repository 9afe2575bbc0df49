// A small Express app on synced-cache: user lookups through getOrSet, a cached HTML page per user, and an
// update route that writes the "database" and invalidates both, in every process.
//
//   npm run build && node examples/express-app.mjs
//
// Bus and store: REDIS_URL if set; else a private redis-server if one is on PATH; else memory only, no bus.
// Start it twice (PORT=3001 in the second shell, and the same REDIS_URL) to see one process's update
// invalidate the other's memory.

import KeyvRedis from '@keyv/redis';
import express from 'express';
import { Keyv } from 'keyv';
import { SyncedCache } from 'synced-cache';
import { cacheResponses, responseCacheKey } from 'synced-cache/express';
import { hasRedisServer, startRedisServer } from '../scripts/redis-server.mjs';

// A fake database: a Map with a 20 ms delay, so that cache hits are easy to tell from loads.
const users = new Map([
  ['1', { id: 1, name: 'Ada Lovelace' }],
  ['2', { id: 2, name: 'Grace Hopper' }],
]);
const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const db = {
  async find(id) {
    await delay(20);
    return users.get(id);
  },
  async update(id, fields) {
    await delay(20);
    const user = { ...users.get(id), ...fields, id: Number(id) };
    users.set(id, user);
    return user;
  },
};

let redisUrl = process.env.REDIS_URL;
let ownRedis;
let mode;
if (redisUrl) mode = `store and bus: Redis at ${redisUrl}`;
else if (hasRedisServer()) {
  ownRedis = await startRedisServer();
  redisUrl = ownRedis.url;
  mode = `store and bus: a private redis-server at ${redisUrl} (set REDIS_URL to share one between processes)`;
} else {
  mode = 'no redis-server on PATH and no REDIS_URL: memory only, no bus (a single process is still coherent)';
}

// The store is ours to close (after the cache): the cache closes only what it opened, its bus.
const store = redisUrl ? new Keyv(new KeyvRedis(redisUrl), { namespace: 'example' }) : undefined;
const cache = new SyncedCache(store ? { namespace: 'example', store, redis: redisUrl } : { namespace: 'example' });
cache.on('error', (error) => console.error(`cache: ${error.message}`));

const userKey = (id) => `user:${id}`;
const pagePath = (id) => `/users/${id}/page`;

const app = express();
app.use(express.json());

// Data cache: the 20 ms load runs once per key in the whole fleet until the key is invalidated or expires.
app.get('/users/:id', async (req, res) => {
  const started = performance.now();
  const user = await cache.getOrSet(userKey(req.params.id), () => db.find(req.params.id), { ttl: 60_000 });
  res.set('Server-Timing', `lookup;dur=${(performance.now() - started).toFixed(2)}`);
  if (user === undefined) res.status(404).json({ error: `no user ${req.params.id}` });
  else res.json(user);
});

// Response cache: the whole rendered page is stored; X-Cache says HIT or MISS.
app.get('/users/:id/page', cacheResponses(cache, { ttl: 30_000 }), async (req, res) => {
  const user = await db.find(req.params.id);
  if (user === undefined) {
    res.status(404).send('not found');
    return;
  }
  res.type('html').send(`<h1>${user.name}</h1><p>rendered at ${new Date().toISOString()}</p>`);
});

// Writes go to the database first, then the cached copies are deleted everywhere (store and every memory tier).
app.put('/users/:id', async (req, res) => {
  const user = await db.update(req.params.id, req.body);
  await cache.deleteMany([userKey(req.params.id), responseCacheKey('GET', pagePath(req.params.id))]);
  res.json(user);
});

app.get('/stats', (_req, res) => {
  res.json(cache.stats());
});

const server = app.listen(Number(process.env.PORT ?? 3000), '127.0.0.1', () => {
  const base = `http://127.0.0.1:${server.address().port}`;
  console.log(`synced-cache example listening on ${base}`);
  console.log(mode);
  console.log(`try:  curl -i ${base}/users/1   curl -i ${base}${pagePath(1)}`);
  console.log(`      curl -X PUT -H 'Content-Type: application/json' -d '{"name":"Ada King"}' ${base}/users/1`);
});

// No process.exit(): once the server, the cache and the store are closed, nothing keeps the process alive.
async function shutdown() {
  server.close();
  server.closeAllConnections();
  await cache.close();
  await store?.disconnect();
  await ownRedis?.stop();
}
process.once('SIGINT', shutdown);
process.once('SIGTERM', shutdown);
