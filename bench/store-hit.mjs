// Scenario 2: store hit after a miss in memory, the store on Redis.
// 10,000 keys in the store, a memory tier of 100 entries, gets in key order: every get misses
// memory, reads Redis, fills memory (evicting). Sequential, and with 64 gets in flight.
// Baselines in the same run: raw ioredis GET + JSON.parse of the same value, and keyv.get
// (Keyv over @keyv/redis, the store our library is given).
import { fileURLToPath } from 'node:url';
import KeyvRedis from '@keyv/redis';
import { Redis } from 'ioredis';
import { Keyv } from 'keyv';
import { forEachConcurrent, measureWindow } from './lib/load.mjs';
import { inChild } from './lib/procs.mjs';
import { median, rotated } from './lib/stats.mjs';
import { createSystem, SYSTEMS } from './lib/systems.mjs';
import { keyOf, makeValue } from './lib/values.mjs';

const SELF = fileURLToPath(import.meta.url);
const KEYS = 10_000;
const MEMORY_MAX = 100;

export const name = 'store-hit';
export const title = 'Store hit after a memory miss (Redis store)';

const BASELINES = {
  'redis-get-parse': 'raw ioredis GET + JSON.parse = floor',
  'keyv-get': 'keyv.get (Keyv + @keyv/redis)',
};

export function systemsFor(ctx) {
  const list = ['redis-get-parse', 'keyv-get'];
  if (ctx.ours) list.push('synced-cache');
  list.push('layered-loader', 'bentocache', 'cacheable');
  return list;
}

async function build(id, redisUrl, namespace) {
  const keys = Array.from({ length: KEYS }, (_, i) => keyOf(i));
  if (id === 'redis-get-parse') {
    const redis = new Redis(redisUrl);
    const prefixed = keys.map((k) => `${namespace}:${k}`);
    await forEachConcurrent(KEYS, 64, (i) => redis.set(prefixed[i], JSON.stringify(makeValue(i))));
    return {
      get: async (i) => {
        const s = await redis.get(prefixed[i]);
        return s === null ? undefined : JSON.parse(s);
      },
      close: async () => redis.disconnect(),
    };
  }
  if (id === 'keyv-get') {
    const keyv = new Keyv(new KeyvRedis(redisUrl), { namespace });
    await forEachConcurrent(KEYS, 64, (i) => keyv.set(keys[i], makeValue(i)));
    return { get: (i) => keyv.get(keys[i]), close: () => keyv.disconnect() };
  }
  const sys = await createSystem(id, { redisUrl, namespace, memoryMax: MEMORY_MAX });
  await sys.ready();
  await forEachConcurrent(KEYS, 64, (i) => sys.set(keys[i], makeValue(i)));
  return { get: (i) => sys.get(keys[i]), close: () => sys.close(), stats: () => sys.stats() };
}

/** Child side: one system, sequential then 64 in flight. */
export async function measure(id, { redisUrl, namespace, warmupMs, durationMs }) {
  const s = await build(id, redisUrl, namespace);
  for (let i = 0; i < KEYS; i += 491) {
    const v = await s.get(i);
    if (v?.id !== i) throw new Error(`${id}: ${keyOf(i)} returned ${JSON.stringify(v)}`);
  }
  const before = s.stats?.();
  const seq = await measureWindow({ op: (n) => s.get(n % KEYS), concurrency: 1, warmupMs, durationMs });
  const par = await measureWindow({ op: (n) => s.get(n % KEYS), concurrency: 64, warmupMs, durationMs });
  const after = s.stats?.();
  await s.close();
  // our own stats() proves the gets were store hits, not memory hits
  const memoryHitShare =
    after && before
      ? (after.hits.memory - before.hits.memory) / (after.hits.memory + after.hits.store - before.hits.memory - before.hits.store)
      : undefined;
  return { seq: seq.opsPerSec, par: par.opsPerSec, memoryHitShare };
}

export async function run(ctx) {
  const ids = systemsFor(ctx);
  const perRun = [];
  for (let run = 0; run < ctx.runs; run++) {
    const res = {};
    for (const id of rotated(ids, run)) {
      ctx.log(`  run ${run + 1}/${ctx.runs}: ${id}`);
      res[id] = await inChild(SELF, 'measure', [
        id,
        {
          redisUrl: ctx.redisUrl,
          namespace: `store-${id}-${run}`,
          warmupMs: 100,
          durationMs: ctx.quick ? 300 : 500,
        },
      ]);
    }
    perRun.push(res);
    await ctx.flush();
  }
  const rows = ids.map((id) => ({
    id,
    system: BASELINES[id] ?? SYSTEMS[id].label,
    ours: SYSTEMS[id]?.ours ?? false,
    baseline: id in BASELINES,
    seqOpsPerSec: median(perRun.map((r) => r[id].seq)),
    parOpsPerSec: median(perRun.map((r) => r[id].par)),
    seqRatio: median(perRun.map((r) => r[id].seq / r['redis-get-parse'].seq)),
    parRatio: median(perRun.map((r) => r[id].par / r['redis-get-parse'].par)),
    memoryHitShare: perRun[0][id].memoryHitShare,
  }));
  return {
    name,
    title,
    description:
      `${KEYS.toLocaleString('en-US')} keys written through each system, memory tier of ${MEMORY_MAX} entries ` +
      '(so every get in key order misses memory and reads Redis), ops/s over a timed window after a warmup, ' +
      'sequential and with 64 gets in flight. Ratio: to raw ioredis GET + JSON.parse in the same run.',
    columns: [
      { key: 'system', label: 'system' },
      { key: 'seqOpsPerSec', label: 'sequential ops/s', fmt: 'ops' },
      { key: 'seqRatio', label: 'x GET+parse', fmt: 'ratio' },
      { key: 'parOpsPerSec', label: '64 in flight ops/s', fmt: 'ops' },
      { key: 'parRatio', label: 'x GET+parse', fmt: 'ratio' },
    ],
    rows,
  };
}
