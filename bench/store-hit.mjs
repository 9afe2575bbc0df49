// Scenario 2: store hit after a miss in memory, the store on Redis.
// 10,000 keys in the store, a memory tier of 100 entries, gets in key order: every get misses
// memory, reads Redis, fills memory (evicting). Sequential, and with 64 gets in flight.
// Baselines in the same run: raw ioredis GET + JSON.parse of the same value, and keyv.get
// (Keyv over @keyv/redis, the store our library is given).
import { fileURLToPath } from 'node:url';
import KeyvRedis from '@keyv/redis';
import { Redis } from 'ioredis';
import { Keyv } from 'keyv';
import { forEachConcurrent, seqAndPar } from './lib/load.mjs';
import { inChild } from './lib/procs.mjs';
import { runRotated, seqParColumns, seqParFields, systemRow, windowOptions, withOurs } from './lib/scenario.mjs';
import { createSystem } from './lib/systems.mjs';
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
  return withOurs(ctx, ['redis-get-parse', 'keyv-get'], ['layered-loader', 'bentocache', 'cacheable']);
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
  const { seq, par } = await seqAndPar((n) => s.get(n % KEYS), { warmupMs, durationMs });
  const after = s.stats?.();
  await s.close();
  // our own stats() proves the gets were store hits, not memory hits
  const memoryHitShare =
    after && before
      ? (after.hits.memory - before.hits.memory) / (after.hits.memory + after.hits.store - before.hits.memory - before.hits.store)
      : undefined;
  return { seq, par, memoryHitShare };
}

export async function run(ctx) {
  const ids = systemsFor(ctx);
  const perRun = await runRotated(ctx, ids, (id, run) => inChild(SELF, 'measure', [id, windowOptions(ctx, `store-${id}-${run}`)]));
  const rows = ids.map((id) => ({
    ...systemRow(id, BASELINES),
    ...seqParFields(perRun, id, 'redis-get-parse'),
    memoryHitShare: perRun[0][id].memoryHitShare,
  }));
  return {
    name,
    title,
    description:
      `${KEYS.toLocaleString('en-US')} keys written through each system, memory tier of ${MEMORY_MAX} entries ` +
      '(so every get in key order misses memory and reads Redis), ops/s over a timed window after a warmup, ' +
      'sequential and with 64 gets in flight. Ratio: to raw ioredis GET + JSON.parse in the same run.',
    columns: [{ key: 'system', label: 'system' }, ...seqParColumns('x GET+parse')],
    rows,
  };
}
