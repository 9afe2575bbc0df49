// Load generators used inside the child processes.
import { performance } from 'node:perf_hooks';

/** Calls `fn(i)` for i in [0, n) with at most `concurrency` calls in flight. */
export async function forEachConcurrent(n, concurrency, fn) {
  let next = 0;
  async function worker() {
    while (next < n) {
      const i = next++;
      await fn(i);
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
}

/**
 * Throughput of an async operation with `concurrency` calls in flight: workers call `op(i)`
 * back to back for `warmupMs`, then completions are counted for `durationMs`.
 * ops/s = completions inside the window / window length.
 */
export async function measureWindow({ op, concurrency = 1, warmupMs = 200, durationMs = 1000 }) {
  let i = 0;
  let completed = 0;
  let stop = false;
  const start = performance.now();
  const windowStart = start + warmupMs;
  const windowEnd = windowStart + durationMs;
  let countAtStart = -1;
  let tStart = 0;
  let countAtEnd = -1;
  let tEnd = 0;
  async function worker() {
    while (!stop) {
      await op(i++);
      completed++;
      const now = performance.now();
      if (countAtStart < 0 && now >= windowStart) {
        countAtStart = completed;
        tStart = now;
      } else if (now >= windowEnd) {
        if (countAtEnd < 0) {
          countAtEnd = completed;
          tEnd = now;
        }
        stop = true;
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (tEnd - tStart) / 1000;
  return { ops: countAtEnd - countAtStart, seconds, opsPerSec: (countAtEnd - countAtStart) / seconds };
}

/** Throughput of `op` sequential, then with 64 calls in flight (ops/s of each window). */
export async function seqAndPar(op, { warmupMs, durationMs }) {
  const seq = await measureWindow({ op, concurrency: 1, warmupMs, durationMs });
  const par = await measureWindow({ op, concurrency: 64, warmupMs, durationMs });
  return { seq: seq.opsPerSec, par: par.opsPerSec };
}
