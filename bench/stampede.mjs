// Scenario 6: getOrSet under a stampede. 1,000 callers, started in the same tick, ask for one
// cold key whose loader takes 20 ms. Measured: how many times the loader ran, and the latency
// of the callers (from the start of the first call until each call resolves). Baseline in the
// same run: the naive pattern on a raw lru-cache (get, on a miss load then set), which calls
// the loader once per caller.
import { fileURLToPath } from 'node:url';
import { LRUCache } from 'lru-cache';
import { inChild } from './lib/procs.mjs';
import { medianOf, runRotated, systemRow, withOurs } from './lib/scenario.mjs';
import { summarize } from './lib/stats.mjs';
import { createSystem } from './lib/systems.mjs';
import { makeValue } from './lib/values.mjs';

const SELF = fileURLToPath(import.meta.url);
const CALLERS = 1_000;
const LOADER_MS = 20;

export const name = 'stampede';
export const title = 'getOrSet under a stampede (1,000 callers, one cold key, 20 ms loader)';

const BASELINES = { 'naive-lru': 'naive get / load / set on raw lru-cache' };

export function systemsFor(ctx) {
  return withOurs(ctx, ['naive-lru'], ['layered-loader', 'bentocache', 'cacheable']);
}

async function build(id, redisUrl, namespace) {
  if (id === 'naive-lru') {
    const lru = new LRUCache({ max: 1000 });
    return {
      async getOrSet(k, loader) {
        const hit = lru.get(k);
        if (hit !== undefined) return hit;
        const v = await loader(k);
        lru.set(k, v);
        return v;
      },
      close: async () => {},
    };
  }
  const sys = await createSystem(id, { redisUrl, namespace });
  await sys.ready();
  return sys;
}

async function round(s, key) {
  let calls = 0;
  const loader = async () => {
    calls++;
    await new Promise((r) => setTimeout(r, LOADER_MS));
    return makeValue(42);
  };
  const lat = new Array(CALLERS);
  const t0 = performance.now();
  const all = [];
  for (let i = 0; i < CALLERS; i++) {
    all.push(
      s.getOrSet(key, loader).then((v) => {
        if (v?.id !== 42) throw new Error(`caller ${i} got ${JSON.stringify(v)}`);
        lat[i] = performance.now() - t0;
      }),
    );
  }
  await Promise.all(all);
  return { calls, ...summarize(lat) };
}

/** Child side: a warmup round on another key, then the measured round. */
export async function measure(id, { redisUrl, namespace }) {
  const s = await build(id, redisUrl, namespace);
  await round(s, 'stampede:warmup');
  const r = await round(s, 'stampede:cold');
  await s.close();
  return r;
}

export async function run(ctx) {
  const ids = systemsFor(ctx);
  const perRun = await runRotated(ctx, ids, (id, run) =>
    inChild(SELF, 'measure', [id, { redisUrl: ctx.redisUrl, namespace: `stampede-${id}-${run}` }]),
  );
  const rows = ids.map((id) => {
    const pick = (f) => medianOf(perRun, id, f);
    return {
      ...systemRow(id, BASELINES),
      calls: pick('calls'),
      callsPerRun: perRun.map((r) => r[id].calls).join(', '),
      p50: pick('p50'),
      p99: pick('p99'),
      max: pick('max'),
    };
  });
  return {
    name,
    title,
    description:
      `${CALLERS.toLocaleString('en-US')} getOrSet() calls issued in one tick on a key in neither tier; the loader ` +
      `waits ${LOADER_MS} ms and returns a ~200 B object. Latency from the first call to each call's resolution. ` +
      'One warmup round on another key first; a fresh process per system and run.',
    columns: [
      { key: 'system', label: 'system' },
      { key: 'calls', label: 'loader calls', fmt: 'int' },
      { key: 'callsPerRun', label: 'per run', fmt: 'text' },
      { key: 'p50', label: 'p50 ms', fmt: 'ms' },
      { key: 'p99', label: 'p99 ms', fmt: 'ms' },
      { key: 'max', label: 'max ms', fmt: 'ms' },
    ],
    rows,
  };
}
