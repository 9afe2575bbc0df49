// What the fault suite records, shared by the worker protocol, the checker and the report.

/**
 * A value the workload writes, named `<writer>:<seq>`: the writing process and its own sequence number,
 * which grows with every value that process writes (so per key and writer, values increase). Every
 * value is written once, so a value read names the one write that produced it.
 */
export type ValueId = string;

/** `null` stands for "no value": what a miss returns, what a delete writes. */
export type Read = ValueId | null;

/** `load`: not a call, a loader the library called after its `getOrSet` had settled (its value may be stored). */
export type Op = 'get' | 'set' | 'delete' | 'getOrSet' | 'load';

/**
 * - `ok`: settled as expected (a read returned a fresh answer, a write resolved);
 * - `error`: rejected (class and code kept);
 * - `stale`: a read answered with a stale-by-grace value (the `'stale'` event fired for its key while
 *   it ran; `reason` is the event's);
 * - `pending`: had not settled when the workload was stopped.
 */
export type Outcome = 'ok' | 'error' | 'stale' | 'pending';

export interface OpRecord {
  /** The process: `p1`, `p2`, ... */
  p: string;
  op: Op;
  key: string;
  /** `set`: the value written. `delete`: null. `get`, `getOrSet`: the value returned (null: undefined). */
  v: Read;
  /** `getOrSet` whose own loader was called and did not throw, or `load`: the value it produced (and may store). */
  wrote?: ValueId;
  /** Wall-clock ms (`performance.timeOrigin + performance.now()`, comparable across processes). */
  start: number;
  /** Absent while `pending`. */
  end?: number;
  outcome: Outcome;
  error?: { name: string; code?: string; message: string };
  reason?: string;
  /** The ttl the write asked for, if any. */
  ttl?: number;
}

/** One change of the store, as the store itself saw it (Redis MONITOR, a PostgreSQL trigger). */
export interface Landing {
  key: string;
  v: Read;
  /** When the store applied it (the store's wall clock, the same as the processes' on one machine). */
  t: number;
  /** PX of a Redis SET: the store drops the value this long after `t`. */
  ttl?: number;
}

/** A fault as it was injected. */
export interface FaultWindow {
  name: string;
  start: number;
  end: number;
}

/** A process's bus status changes and other signals it streamed, for the recovery figures. */
export interface ProcessEvent {
  p: string;
  t: number;
  type: 'bus' | 'breaker' | 'error' | 'fatal';
  /** `bus`: `up` / `down`; `breaker`: the state; `error`: class name; `fatal`: kind. */
  detail: string;
  message?: string;
}

/** Error codes that prove the store was not reached (so a write that failed with one did not land). */
export const NOT_REACHED_CODES: ReadonlySet<string> = new Set(['ERR_SYNCED_CACHE_STORE_UNAVAILABLE', 'ERR_SYNCED_CACHE_CLOSED']);
