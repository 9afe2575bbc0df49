// Parent-side helpers of the multi-process coherence scenarios (write storm, mixed load).
import { fileURLToPath } from 'node:url';
import { startWorker } from './procs.mjs';

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
