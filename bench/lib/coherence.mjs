// Parent-side helpers of the multi-process coherence scenarios (write storm, mixed load).
import { fileURLToPath } from 'node:url';
import { startWorker } from './procs.mjs';
import { systemRow } from './scenario.mjs';
import { SYSTEMS } from './systems.mjs';

export const LOAD_CHILD = fileURLToPath(new URL('../load-child.mjs', import.meta.url));

/** Forks one load-child per role and builds the same system in each. */
export async function startGroup({ redisUrl, system, namespace, keyCount, roles }) {
  const workers = {};
  try {
    for (const role of roles) {
      workers[role] = await startWorker(LOAD_CHILD, { name: `${system}/${role}` });
      await workers[role].call('init', { system, redisUrl, namespace, keyCount });
    }
  } catch (err) {
    await stopGroup(workers);
    throw err;
  }
  return workers;
}

/** Starts a group (see startGroup), calls `fn(group)`, and stops the group however `fn` ends. */
export async function withGroup(spec, roles, fn) {
  const g = await startGroup({ ...spec, roles });
  try {
    return await fn(g);
  } finally {
    await stopGroup(g);
  }
}

export async function stopGroup(workers) {
  await Promise.all(
    Object.values(workers).map(async (w) => {
      try {
        await w.call('close');
      } catch {
        // a worker that failed is stopped below anyway
      }
      await w.stop();
    }),
  );
}

/**
 * Proves the bus carries `writer`'s writes to every reader before a measurement starts: each
 * reader holds a probe key in memory, the writer bumps it, every reader must see the bump.
 */
export async function waitForBus(writer, readers, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  let seq = 0;
  await writer.call('setKey', '__ready', { writer: 'ready', seq });
  for (;;) {
    const held = await Promise.all(readers.map((r) => r.call('getSeq', '__ready')));
    if (held.every((s) => s === seq)) {
      seq++;
      await writer.call('setKey', '__ready', { writer: 'ready', seq });
      const ok = await Promise.all(readers.map((r) => r.call('waitForSeq', '__ready', seq, 500)));
      if (ok.every(Boolean)) return;
    }
    if (Date.now() > deadline) throw new Error(`bus not carrying writes after ${timeoutMs} ms`);
    await sleep(50);
    seq++;
    await writer.call('setKey', '__ready', { writer: 'ready', seq });
  }
}

/** The store's value of every key, read by a fresh instance (empty memory) in a fresh process. */
export async function readTruth({ redisUrl, system, namespace, keyCount }) {
  const w = await startWorker(LOAD_CHILD, { name: `${system}/truth` });
  try {
    await w.call('init', { system, redisUrl, namespace, keyCount });
    const values = await w.call('dump');
    await w.call('close');
    return values;
  } finally {
    await w.stop();
  }
}

/** Keys whose value in `dump` differs from `truth`. */
export function staleKeys(dump, truth) {
  const out = [];
  for (let i = 0; i < truth.length; i++) if (dump[i] !== truth[i]) out.push(i);
  return out;
}

export function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

/** Runs of a coherence scenario for `id`: ctx.runs for ours, at most ctx.otherCoherenceRuns for the others. */
export function coherenceRuns(ctx, id) {
  return SYSTEMS[id].ours ? ctx.runs : Math.min(ctx.runs, ctx.otherCoherenceRuns);
}

/**
 * Runs `measureOnce(ctx, id, run, durationMs)` coherenceRuns(ctx, id) times per system, one
 * system after the other, flushing Redis after each run. Returns `{ [id]: [result per run] }`.
 */
export async function runCoherence(ctx, ids, durationMs, measureOnce) {
  const raw = {};
  for (const id of ids) {
    const runs = coherenceRuns(ctx, id);
    const per = [];
    for (let run = 0; run < runs; run++) {
      ctx.log(`  ${id}: run ${run + 1}/${runs} (${durationMs / 1000} s)`);
      per.push(await measureOnce(ctx, id, run, durationMs));
      await ctx.flush();
    }
    raw[id] = per;
  }
  return raw;
}

/**
 * After a load that ended at `end` (a Date.now() reading): every process's dump 200 ms after and
 * 1.2 s after, then the store's values as a fresh instance reads them.
 */
export async function dumpsAfter(procs, end, spec) {
  const dumpAll = () => Promise.all(procs.map((p) => p.call('dump')));
  await sleep(Math.max(0, end + 200 - Date.now()));
  const first = await dumpAll();
  await sleep(Math.max(0, end + 1200 - Date.now()));
  const second = await dumpAll();
  const truth = await readTruth(spec);
  return { first, second, truth };
}

/** One row per system: its identity, its number of runs, then `fields(per)` of its results (one per run). */
export function coherenceRows(ids, raw, fields) {
  return ids.map((id) => ({ ...systemRow(id), runs: raw[id].length, ...fields(raw[id]) }));
}
