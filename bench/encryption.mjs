// The cost of `encryption`: writes, and reads that miss memory and go to the store, with and without
// encryption (a raw key, and a passphrase once its key is stretched), over an in-process Map (the crypto
// cost alone) and over Redis (@keyv/redis on a private redis-server); and the hot memory hit, which must
// not change. ~200-byte values, 10,000 keys, a memory tier of 100 so that reads in key order miss it.
// Run: npm run build && node bench/encryption.mjs
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import KeyvRedis from '@keyv/redis';
import { SyncedCache } from 'synced-cache';
import { startRedisServer } from '../scripts/redis-server.mjs';
import { keyOf, makeValue } from './lib/values.mjs';

const KEYS = 10_000;
const IN_FLIGHT = 64;
const ROUNDS = 5;
const HOT_HITS = 300_000;

const encryptions = {
  none: undefined,
  'raw key': { key: randomBytes(32) },
  passphrase: { key: 'a passphrase for the benchmark' },
};

/**
 * `op(i)` over every key, `IN_FLIGHT` at a time: operations per second of wall time, and microseconds of
 * this process's CPU time (user + system) per operation, which other load on the machine disturbs less.
 */
async function measure(count, op, inFlight = IN_FLIGHT) {
  let next = 0;
  const cpu = process.cpuUsage();
  const start = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < count) await op(next++);
    }),
  );
  const wall = performance.now() - start;
  const used = process.cpuUsage(cpu);
  return { perSecond: count / (wall / 1000), cpuMicros: (used.user + used.system) / count };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const redis = await startRedisServer();
const cases = [];
try {
  for (const storeKind of ['Map', 'Redis']) {
    for (const [label, encryption] of Object.entries(encryptions)) {
      const namespace = `bench-enc-${storeKind}-${label.replace(' ', '-')}`;
      const adapter = storeKind === 'Map' ? new Map() : new KeyvRedis(redis.url);
      const cache = new SyncedCache({ namespace, store: adapter, memory: { max: 100 }, encryption });
      // The first write settles the salt and stretches a passphrase: not part of the measure.
      await cache.set('warm', 1);
      cases.push({ storeKind, label, adapter, cache, sets: [], gets: [], hot: [] });
    }
  }
  // Rounds interleave the cases, so that a burst of load elsewhere on the machine hits all of them.
  for (let round = 0; round < ROUNDS; round++) {
    for (const c of cases) {
      c.sets.push(await measure(KEYS, (i) => c.cache.set(keyOf(i), makeValue(i))));
      const hitsBefore = c.cache.stats().hits.store;
      c.gets.push(
        await measure(KEYS, async (i) => {
          const value = await c.cache.get(keyOf(i));
          if (value?.id !== i) throw new Error(`${keyOf(i)} read back ${JSON.stringify(value)}`);
        }),
      );
      if (c.cache.stats().hits.store - hitsBefore !== KEYS) throw new Error(`${c.storeKind}/${c.label}: reads hit memory`);
      await c.cache.set('key:0', makeValue(0));
      await c.cache.get('key:0');
      c.hot.push(await measure(HOT_HITS, () => c.cache.get('key:0'), 1));
    }
  }
} finally {
  for (const c of cases) {
    await c.cache.close();
    if (c.storeKind === 'Redis') await c.adapter.disconnect();
  }
  await redis.stop();
}

const ops = (runs) => Math.round(median(runs.map((r) => r.perSecond))).toLocaleString('en-US');
const cpu = (runs) => median(runs.map((r) => r.cpuMicros)).toFixed(1);
console.log(
  `Node ${process.version}, ${os.cpus()[0]?.model ?? 'cpu'} x ${os.cpus().length}, load ${os.loadavg()[0].toFixed(1)}; ${KEYS} keys of ~200 B, ${IN_FLIGHT} in flight; median of ${ROUNDS} rounds`,
);
console.log('| store | encryption | set/s | set, CPU µs | get from store/s | get, CPU µs | memory hit/s | hit, CPU µs |');
console.log('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const c of cases) {
  console.log(
    `| ${c.storeKind} | ${c.label} | ${ops(c.sets)} | ${cpu(c.sets)} | ${ops(c.gets)} | ${cpu(c.gets)} | ${ops(c.hot)} | ${cpu(c.hot)} |`,
  );
}
