#!/usr/bin/env node
// Three processes share one cache; watch the memory tiers stay in sync.
//
//   npm run example                 (builds, then runs this for 10 seconds)
//   node examples/three-processes.mjs --seconds 30
//
// Bus and store: REDIS_URL if set; else a private redis-server on a free port if one is installed;
// else three worker threads of this process on the in-process BroadcastChannel transport, with the
// store held by the main thread.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { isMainThread, MessageChannel, parentPort, Worker, workerData } from 'node:worker_threads';

const self = fileURLToPath(import.meta.url);
const KEYS = Array.from({ length: 20 }, (_, i) => `user:${i}`);
const NAMESPACE = 'example';

// ---------------------------------------------------------------- a participant (process or thread)

async function participant({ index, mode, redisUrl, storePort }, send) {
  const { SyncedCache, BroadcastChannelTransport } = await import('synced-cache');
  let store;
  let closeStore = async () => {};
  if (mode === 'threads') {
    store = remoteMapStore(storePort);
  } else {
    const { default: KeyvRedis } = await import('@keyv/redis');
    store = new KeyvRedis(redisUrl);
    closeStore = () => store.disconnect();
  }
  const cache = new SyncedCache({
    namespace: NAMESPACE,
    store,
    ...(mode === 'threads' ? { transport: new BroadcastChannelTransport() } : { redis: redisUrl }),
    heartbeat: { interval: 250, timeout: 500 },
  });
  const seen = [];
  cache.on('invalidate', ({ keys }) => {
    if (keys !== '*') seen.push(...keys);
  });
  while (cache.stats().bus !== 'up') await new Promise((r) => setTimeout(r, 10));
  // P0 seeds the users; the others find them in the store, then in memory.
  if (index === 0) await cache.setMany(KEYS.map((key) => ({ key, value: { name: key, version: 0, by: 'seed' } })));

  let version = 0;
  let stopping = false;
  const reads = (async () => {
    while (!stopping) {
      for (let i = 0; i < 50; i++) await cache.get(KEYS[Math.floor(Math.random() * KEYS.length)]);
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  // Each participant rewrites one random user every ~700 ms, staggered.
  const writes = setInterval(
    async () => {
      const key = KEYS[Math.floor(Math.random() * KEYS.length)];
      const value = { name: key, version: ++version, by: `P${index}` };
      await cache.set(key, value);
      send({ type: 'wrote', index, key, version: value.version });
    },
    700 + index * 90,
  );
  const report = setInterval(() => {
    send({ type: 'stats', index, stats: cache.stats(), invalidated: seen.splice(0).slice(-3) });
  }, 500);

  return async function stop() {
    stopping = true;
    clearInterval(writes);
    clearInterval(report);
    await reads;
    send({ type: 'stats', index, stats: cache.stats(), invalidated: [] });
    await cache.close();
    await closeStore();
  };
}

/** A Keyv store adapter whose Map lives in the main thread, so three threads share one store. */
function remoteMapStore(port) {
  let ids = 0;
  const pending = new Map();
  port.on('message', ({ id, result }) => {
    pending.get(id)?.(result);
    pending.delete(id);
  });
  port.unref();
  const call = (op, ...args) =>
    new Promise((resolve) => {
      const id = ++ids;
      pending.set(id, resolve);
      port.postMessage({ id, op, args });
    });
  return {
    opts: {},
    get: (key) => call('get', key),
    set: (key, value) => call('set', key, value).then(() => true),
    delete: (key) => call('delete', key),
    clear: () => call('clear'),
    has: (key) => call('has', key),
  };
}

function serveMap(port, map) {
  port.on('message', ({ id, op, args }) => {
    let result;
    if (op === 'get') result = map.get(args[0]);
    else if (op === 'set') map.set(args[0], args[1]);
    else if (op === 'delete') result = map.delete(args[0]);
    else if (op === 'clear') map.clear();
    else if (op === 'has') result = map.has(args[0]);
    port.postMessage({ id, result });
  });
}

// ---------------------------------------------------------------- the coordinator

async function chooseBus() {
  if (process.env.REDIS_URL)
    return { mode: 'redis', redisUrl: process.env.REDIS_URL, note: `Redis at ${process.env.REDIS_URL} (REDIS_URL)` };
  const { hasRedisServer, startRedisServer } = await import('../scripts/redis-server.mjs');
  if (hasRedisServer()) {
    const server = await startRedisServer();
    return { mode: 'redis', redisUrl: server.url, server, note: `a private redis-server on ${server.url} (pid ${server.pid})` };
  }
  return {
    mode: 'threads',
    note: 'no REDIS_URL and no redis-server on PATH: running 3 worker threads on the in-process BroadcastChannel transport instead',
  };
}

function render(rows, log, seconds, note) {
  const lines = [
    `synced-cache example: 3 participants, namespace "${NAMESPACE}", ${seconds}s`,
    `bus and store: ${note}`,
    '',
    ' who  bus   memory hits  store hits  misses  sets  invalidations in  lag p50  recent invalidations',
  ];
  for (const row of rows) {
    if (!row) continue;
    const s = row.stats;
    lines.push(
      ` P${row.index}   ${s.bus.padEnd(5)} ${String(s.hits.memory).padStart(11)} ${String(s.hits.store).padStart(11)} ${String(s.misses).padStart(7)} ${String(s.sets).padStart(5)} ${String(s.invalidations.received).padStart(17)} ${`${s.lag.p50}ms`.padStart(8)}  ${row.invalidated.join(', ')}`,
    );
  }
  lines.push('', ...log.slice(-6));
  if (process.stdout.isTTY) process.stdout.write(`\x1b[2J\x1b[H${lines.join('\n')}\n`);
  else console.log(lines.join('\n'));
}

async function main() {
  const at = process.argv.indexOf('--seconds');
  const seconds = at > 0 ? Number(process.argv[at + 1]) : 10;
  const bus = await chooseBus();
  const rows = [];
  const log = [];
  const onMessage = (m) => {
    if (m.type === 'stats') rows[m.index] = m;
    else if (m.type === 'wrote') log.push(`P${m.index} wrote ${m.key} (version ${m.version}); the others drop their copy`);
  };
  const participants = [];
  const store = new Map();
  for (let index = 0; index < 3; index++) {
    if (bus.mode === 'threads') {
      const { port1, port2 } = new MessageChannel();
      serveMap(port1, store);
      const worker = new Worker(self, { workerData: { index, mode: 'threads', storePort: port2 }, transferList: [port2] });
      worker.on('message', onMessage);
      participants.push({
        stop: () =>
          new Promise((resolve) => {
            worker.once('exit', resolve);
            worker.postMessage('stop');
          }),
        port1,
      });
    } else {
      const child = fork(self, ['--participant', JSON.stringify({ index, mode: 'redis', redisUrl: bus.redisUrl })]);
      child.on('message', onMessage);
      participants.push({
        stop: () =>
          new Promise((resolve) => {
            child.once('exit', resolve);
            child.send('stop');
          }),
      });
    }
  }
  const timer = setInterval(() => render(rows, log, seconds, bus.note), 500);
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  clearInterval(timer);
  await Promise.all(participants.map((p) => p.stop()));
  for (const p of participants) p.port1?.close();
  render(rows, log, seconds, bus.note);
  const total = rows.reduce((sum, r) => sum + r.stats.hits.memory, 0);
  const fromStore = rows.reduce((sum, r) => sum + r.stats.hits.store + r.stats.misses, 0);
  console.log(`\n${total} reads served from memory, ${fromStore} went to the store; every write reached the other two as an invalidation.`);
  await bus.server?.stop();
}

if (!isMainThread) {
  const stop = await participant(workerData, (m) => parentPort.postMessage(m));
  parentPort.once('message', async () => {
    await stop();
    process.exit(0);
  });
} else if (process.argv[2] === '--participant') {
  const stop = await participant(JSON.parse(process.argv[3]), (m) => process.send(m));
  process.once('message', async () => {
    await stop();
    process.exit(0);
  });
} else {
  await main();
}
