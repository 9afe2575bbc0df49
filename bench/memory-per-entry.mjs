// Scenario 7: memory per entry. Heap bytes per cached entry for 100,000 small entries (key
// `key:<i>`, value `{ id, v }`), against raw lru-cache holding the same entries. Each system
// runs in a child forked with --expose-gc: full GCs before and after filling, and the heap
// growth divided by the entry count. The store is Redis, so only the memory tier (and whatever
// bookkeeping the library keeps per entry) lands on the heap.
import { fileURLToPath } from 'node:url';
import { LRUCache } from 'lru-cache';
import { forEachConcurrent } from './lib/load.mjs';
import { inChild } from './lib/procs.mjs';
import { systemRow, withOurs } from './lib/scenario.mjs';
import { median } from './lib/stats.mjs';
import { createSystem, SYSTEMS } from './lib/systems.mjs';
import { keyOf, makeSmallValue } from './lib/values.mjs';

const SELF = fileURLToPath(import.meta.url);
const ENTRIES = 100_000;

export const name = 'memory-per-entry';
export const title = 'Memory per entry (100,000 small entries)';

const BASELINES = { 'raw-lru': 'raw lru-cache = floor' };

export function systemsFor(ctx) {
  return withOurs(ctx, ['raw-lru'], ['layered-loader', 'bentocache', 'bentocache-noser', 'cacheable', 'cacheable-noclone']);
}

function heapAfterGc() {
  for (let i = 0; i < 4; i++) globalThis.gc();
  return process.memoryUsage().heapUsed;
}

/** Child side (needs --expose-gc). */
export async function measure(id, { redisUrl, namespace }) {
  if (typeof globalThis.gc !== 'function') throw new Error('memory-per-entry needs node --expose-gc');
  const keys = Array.from({ length: ENTRIES }, (_, i) => keyOf(i));
  let s;
  if (id === 'raw-lru') {
    const lru = new LRUCache({ max: 200_000 });
    s = { set: async (k, v) => lru.set(k, v), get: async (k) => lru.get(k), close: async () => {}, size: () => lru.size };
  } else {
    const sys = await createSystem(id, { redisUrl, namespace, memoryMax: 200_000 });
    await sys.ready();
    // one write and read before the baseline, so lazily built structures are not counted per entry
    await sys.set('warm', makeSmallValue(-1));
    await sys.get('warm');
    s = { ...sys, size: () => sys.stats()?.memorySize };
  }
  const before = heapAfterGc();
  await forEachConcurrent(ENTRIES, 128, (i) => s.set(keys[i], makeSmallValue(i)));
  for (let i = 0; i < ENTRIES; i++) {
    const v = await s.get(keys[i]);
    if (v?.id !== i) throw new Error(`${id}: ${keys[i]} returned ${JSON.stringify(v)}`);
  }
  const after = heapAfterGc();
  const size = s.size?.();
  await s.close();
  return { bytesPerEntry: (after - before) / ENTRIES, heapGrowth: after - before, memorySize: size };
}

export async function run(ctx) {
  const ids = systemsFor(ctx);
  // Heap growth barely moves between runs (it is counted, not timed): the floor and our library
  // get every run, the other libraries one, to keep the suite short.
  const runsOf = (id) => (id === 'raw-lru' || SYSTEMS[id]?.ours ? ctx.runs : 1);
  const results = Object.fromEntries(ids.map((id) => [id, []]));
  for (let run = 0; run < ctx.runs; run++) {
    for (const id of ids) {
      if (run >= runsOf(id)) continue;
      ctx.log(`  run ${run + 1}/${runsOf(id)}: ${id}`);
      results[id].push(
        await inChild(SELF, 'measure', [id, { redisUrl: ctx.redisUrl, namespace: `mem-${id}-${run}` }], {
          execArgv: ['--expose-gc'],
        }),
      );
      await ctx.flush();
    }
  }
  const floor = median(results['raw-lru'].map((r) => r.bytesPerEntry));
  const rows = ids.map((id) => {
    const bytesPerEntry = median(results[id].map((r) => r.bytesPerEntry));
    return {
      ...systemRow(id, BASELINES),
      runs: results[id].length,
      bytesPerEntry,
      ratio: bytesPerEntry / floor,
      heapMb: median(results[id].map((r) => r.heapGrowth)) / 2 ** 20,
      memorySize: results[id][0]?.memorySize,
    };
  });
  return {
    name,
    title,
    description:
      `${ENTRIES.toLocaleString('en-US')} entries written with set() (128 in flight) then read once with get(), in a ` +
      'child forked with --expose-gc; heapUsed after 4 forced GCs, minus the same before filling, divided by the ' +
      `entry count. Ratio: to the median of raw lru-cache. Heap growth is counted, not timed, and barely moves ` +
      `between runs: raw lru-cache and synced-cache ${ctx.runs} run(s) (median shown), the others 1.`,
    columns: [
      { key: 'system', label: 'system' },
      { key: 'bytesPerEntry', label: 'heap bytes / entry', fmt: 'bytes' },
      { key: 'ratio', label: 'x raw lru-cache', fmt: 'ratio' },
      { key: 'heapMb', label: 'heap growth MB', fmt: 'ms' },
      { key: 'runs', label: 'runs', fmt: 'int' },
    ],
    rows,
  };
}
