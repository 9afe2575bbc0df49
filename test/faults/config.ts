// The fault-injection workload of issue 10, in one place: what the workers do, how long, which faults,
// and the bounds the checker holds the library to.

/**
 * The resilience options of issue 10, passed to every worker's SyncedCache. While enabled, the workers
 * pass these options, write with a ttl (so that grace has something to serve), call `getOrSet` with slow
 * and failing loaders, and the checker counts stale answers by reason instead of judging them as fresh
 * reads. `FAULTS_RESILIENCE=0` runs the workload without them (the library's defaults: storeTimeout
 * 1000 ms, breaker 5 / 5000 ms, no grace, no loader timeouts), against the same bounds.
 *
 * `lock` is on: one loader call per key across the three processes; a waiter gives up after `lock.wait`
 * and loads itself, so the bound of a getOrSet grows by that wait.
 */
export const RESILIENCE = {
  enabled: process.env.FAULTS_RESILIENCE !== '0',
  /** Cache-wide options of the new features (names as in issue 10). */
  options: {
    storeTimeout: 1_000,
    circuitBreaker: { threshold: 5, cooldown: 1_000 },
    grace: 30_000,
    softTimeout: 100,
    hardTimeout: 400,
    lock: { ttl: 2_000, wait: 500 },
  },
  /** Per-write ttl while enabled, short enough that entries expire during the run and grace serves them. */
  ttl: 3_000,
  /** While enabled: share of loader calls that take `slowLoaderMs` (past the hard timeout) or throw. */
  slowLoaderRate: 0.05,
  slowLoaderMs: 1_500,
  failingLoaderRate: 0.05,
} as const;

/** The bus liveness settings every worker uses: short, so that detection and recovery fit in the run. */
export const HEARTBEAT = { interval: 150, timeout: 300 } as const;

/** The workload every worker runs. */
export const WORKLOAD = {
  processes: 3,
  /** Concurrent loops per process, each one call at a time. */
  loops: 4,
  keys: 50,
  /** Share of each operation; the rest are `get`. */
  mix: { set: 0.25, delete: 0.08, getOrSet: 0.15 },
  /** A pause of up to this many ms between two calls of one loop, so memory hits do not spin. */
  thinkMs: 10,
  /** A loader takes between these many ms (when it is not one of the slow ones). */
  loaderMs: [5, 30] as const,
  /** Load before the heap baseline is taken, so that the baseline includes warmed-up code and memory. */
  warmupMs: 1_500,
  /** After the last fault: calls keep running this long, then the workload stops. */
  tailMs: 1_000,
  /** After the workload stops and before the views are compared with the store. */
  settleMs: 2_000,
} as const;

/** One fault of the schedule; `ms` is how long it lasts. */
export interface FaultStep {
  name: FaultName;
  ms: number;
}

export type FaultName = 'bus-kill' | 'bus-freeze' | 'bus-blackhole' | 'store-freeze' | 'store-shutdown' | 'store-latency';

/** The faults, one after another, each followed by `gapMs` of normal operation. */
export const SCHEDULE: { leadMs: number; gapMs: number; latencyMs: number; steps: readonly FaultStep[] } = {
  /** Normal operation before the first fault. */
  leadMs: 1_000,
  gapMs: 1_000,
  /** Added to every chunk, both ways, during `store-latency`. */
  latencyMs: 200,
  steps: [
    // SIGKILL, then a fresh server on the same port after `ms`.
    { name: 'bus-kill', ms: 1_000 },
    { name: 'bus-freeze', ms: 3_000 },
    { name: 'bus-blackhole', ms: 3_000 },
    { name: 'store-freeze', ms: 3_000 },
    { name: 'store-shutdown', ms: 3_000 },
    { name: 'store-latency', ms: 3_000 },
  ],
};

/** The bounds the checker applies. */
export const BOUNDS = {
  /**
   * No hang: the longest a call may take before it counts as hung. Issue 10: `storeTimeout`, plus the
   * loader's time for `getOrSet`, plus 100 ms. With the features on, the loader's time is at most
   * `hardTimeout` (the library cuts it there); without them, the workload's slowest loader. A getOrSet
   * whose store read failed or timed out answers from the loader within this bound too (issue 10,
   * feature 6: "within storeTimeout plus the loader's time"), whatever the write of that value does.
   */
  hangMs(op: string): number {
    const { storeTimeout, hardTimeout, lock } = RESILIENCE.options;
    const loader = RESILIENCE.enabled ? hardTimeout + lock.wait : WORKLOAD.loaderMs[1];
    return storeTimeout + (op === 'getOrSet' ? loader : 0) + 100;
  },
  /**
   * Bounded staleness: a read may return a value the store held up to this long before the read began.
   * Issue 10: `2 x heartbeat.interval + heartbeat.timeout + 100 ms`.
   */
  stalenessMs: 2 * HEARTBEAT.interval + HEARTBEAT.timeout + 100,
  /** Clock tolerance between processes and servers on one machine (each reads the same wall clock). */
  clockMs: 5,
  /** Heap after the faults, over heap before them. */
  heapRatio: 1.2,
} as const;
