// Scaffolding shared by the scenario files: which systems a scenario measures, the run loop
// (every run measures every system once, in an order rotated from run to run), the identity
// fields of a table row, and the sequential / 64-in-flight throughput pair. Nothing here
// measures anything itself.
import { median, rotated } from './stats.mjs';
import { SYSTEMS } from './systems.mjs';

/** `before` (the baselines), then synced-cache when the run includes it, then `after`. */
export function withOurs(ctx, before, after) {
  const list = [...before];
  if (ctx.ours) list.push('synced-cache');
  list.push(...after);
  return list;
}

/**
 * The identity fields that start every row: id, label, whether it is ours, whether it is a
 * baseline (listed in the scenario's `baselines`, or marked so in SYSTEMS).
 */
export function systemRow(id, baselines = {}) {
  return {
    id,
    system: baselines[id] ?? SYSTEMS[id].label,
    ours: SYSTEMS[id]?.ours ?? false,
    baseline: id in baselines || (SYSTEMS[id]?.baseline ?? false),
  };
}

/**
 * Runs `measureOne(id, run)` for every system in every run, the order rotated from run to run;
 * a system takes part in its first `runsOf(id)` runs (ctx.runs by default). Redis is flushed
 * after each run unless `flush` is false. Returns one `{ [id]: result }` object per run.
 */
export async function runRotated(ctx, ids, measureOne, { runsOf = () => ctx.runs, flush = true, note = '' } = {}) {
  const maxRuns = Math.max(...ids.map(runsOf));
  const perRun = [];
  for (let run = 0; run < maxRuns; run++) {
    const res = {};
    for (const id of rotated(ids, run)) {
      if (run >= runsOf(id)) continue;
      ctx.log(`  run ${run + 1}/${runsOf(id)}: ${id}${note}`);
      res[id] = await measureOne(id, run);
    }
    perRun.push(res);
    if (flush) await ctx.flush();
  }
  return perRun;
}

/** Median over the runs of field `f` of system `id`'s results. */
export function medianOf(perRun, id, f) {
  return median(perRun.map((r) => r[id][f]));
}

/** Child-side options of a throughput scenario: 100 ms warmup, a 300 ms (quick) or 500 ms window. */
export function windowOptions(ctx, namespace) {
  return { redisUrl: ctx.redisUrl, namespace, warmupMs: 100, durationMs: ctx.quick ? 300 : 500 };
}

/** Row fields of a `{ seq, par }` throughput pair: medians, and ratios to `floor` in the same run. */
export function seqParFields(perRun, id, floor) {
  return {
    seqOpsPerSec: medianOf(perRun, id, 'seq'),
    parOpsPerSec: medianOf(perRun, id, 'par'),
    seqRatio: median(perRun.map((r) => r[id].seq / r[floor].seq)),
    parRatio: median(perRun.map((r) => r[id].par / r[floor].par)),
  };
}

/** Table columns of a `{ seq, par }` throughput pair, the ratios labelled `ratioLabel`. */
export function seqParColumns(ratioLabel) {
  return [
    { key: 'seqOpsPerSec', label: 'sequential ops/s', fmt: 'ops' },
    { key: 'seqRatio', label: ratioLabel, fmt: 'ratio' },
    { key: 'parOpsPerSec', label: '64 in flight ops/s', fmt: 'ops' },
    { key: 'parRatio', label: ratioLabel, fmt: 'ratio' },
  ];
}
