// Scenario: stale keys after a mixed load. Two processes, each with 8 loops doing 90% get /
// 10% set (values `{ writer, seq }`) on the same 1,000 keys for 5 s. Then every key as each
// process's get() returns it is compared with the store (a fresh instance with an empty memory
// tier, in a fresh process): 200 ms after the load stops, and again 1 s later. A key still
// different at the second look is left permanently stale (nothing will ever fix it short of its
// ttl). The target is 0, in every run.

import { coherenceRows, dumpsAfter, runCoherence, staleKeys, waitForBus, withGroup } from './lib/coherence.mjs';
import { withOurs } from './lib/scenario.mjs';
import { median } from './lib/stats.mjs';

const KEYS = 1_000;

export const name = 'stale-after-mixed-load';
export const title = 'Stale keys after a mixed load (2 processes, 90% get / 10% set, 1,000 keys)';

export function systemsFor(ctx) {
  return withOurs(ctx, [], ['hand-rolled', 'layered-loader', 'cacheable', 'bentocache']);
}

async function measureOnce(ctx, id, run, durationMs) {
  const namespace = `mixed-${id}-${run}`;
  const spec = { redisUrl: ctx.redisUrl, system: id, namespace, keyCount: KEYS };
  return withGroup(spec, ['p1', 'p2'], async (g) => {
    await g.p1.call('seed');
    await Promise.all([g.p1.call('warm'), g.p2.call('warm')]);
    await waitForBus(g.p1, [g.p2]);
    await waitForBus(g.p2, [g.p1]);
    const loads = await Promise.all(['p1', 'p2'].map((p) => g[p].call('mixed', { writer: p, durationMs, workers: 8, setRatio: 0.1 })));
    const end = Date.now();
    const { first, second, truth } = await dumpsAfter([g.p1, g.p2], end, spec);
    const stale200 = first.map((d) => staleKeys(d, truth));
    const stale1200 = second.map((d) => staleKeys(d, truth));
    const permanent = stale1200.reduce((n, keys, p) => n + keys.filter((k) => first[p][k] === second[p][k]).length, 0);
    const ops = loads.reduce((n, l) => n + l.sets + l.gets, 0);
    return {
      opsPerSec: ops / (durationMs / 1000),
      sets: loads.reduce((n, l) => n + l.sets, 0),
      stale200: stale200.reduce((n, k) => n + k.length, 0),
      stale1200: stale1200.reduce((n, k) => n + k.length, 0),
      permanent,
      examples: stale1200.flatMap((keys, p) =>
        keys.slice(0, 3).map((k) => ({ process: `p${p + 1}`, key: `k:${k}`, memory: second[p][k], store: truth[k] })),
      ),
    };
  });
}

export async function run(ctx) {
  const ids = systemsFor(ctx);
  const durationMs = ctx.quick ? 2000 : 5000;
  const raw = await runCoherence(ctx, ids, durationMs, measureOnce);
  const rows = coherenceRows(ids, raw, (per) => ({
    opsPerSec: median(per.map((r) => r.opsPerSec)),
    sets: median(per.map((r) => r.sets)),
    stale200: median(per.map((r) => r.stale200)),
    stale1200: median(per.map((r) => r.stale1200)),
    worst: Math.max(...per.map((r) => r.stale1200)),
    perRun: per.map((r) => r.stale1200).join(', '),
    examples: per.flatMap((r) => r.examples).slice(0, 4),
  }));
  return {
    name,
    title,
    description:
      `Two processes, 8 loops each, every operation on a random key of ${KEYS.toLocaleString('en-US')}: set ` +
      '`{ writer, seq }` with probability 0.1, else get, for ' +
      `${durationMs / 1000} s. Then each process's get() of every key is compared with a fresh instance reading ` +
      'the store: 200 ms after the load and 1.2 s after. Stale counts are summed over both processes. ' +
      `synced-cache: ${ctx.runs} run(s), the table shows the median and the worst; the others: ` +
      `${Math.min(ctx.runs, ctx.otherCoherenceRuns)} run(s) each.`,
    columns: [
      { key: 'system', label: 'system' },
      { key: 'opsPerSec', label: 'ops/s (both)', fmt: 'ops' },
      { key: 'sets', label: 'sets', fmt: 'int' },
      { key: 'stale200', label: 'stale +200 ms', fmt: 'int' },
      { key: 'stale1200', label: 'stale +1.2 s (median)', fmt: 'int' },
      { key: 'worst', label: 'stale +1.2 s (worst run)', fmt: 'int' },
      { key: 'perRun', label: 'per run', fmt: 'text' },
    ],
    rows,
    raw,
  };
}
