import { type Landing, NOT_REACHED_CODES, type Op, type OpRecord, type Read } from './history.js';

/**
 * The checker of the fault suite: it judges a recorded history against the promises of issue 10.
 *
 * ## What a write may have done
 * Every write (a `set`, a `delete`, a `getOrSet` whose own loader produced a value) is one of:
 * - **definite**: it resolved, so it landed in the store somewhere inside its call, in [start, end];
 * - **in doubt**: it failed or timed out or never settled, so it may have landed at any time from its
 *   start on (a timed-out command can still sit in a client queue or a frozen server's socket buffer),
 *   or never. A loader's write is also in doubt when `loaderWritesInDoubt` is set (issue 10, feature
 *   6: `getOrSet` may return the loaded value although the store could not take it);
 * - **not reached**: it failed with an error that proves the store was not called (breaker open,
 *   cache closed); it did not land.
 * A loader the library calls after the call that passed it has settled (refresh ahead, a load that goes
 * on past a soft timeout) is recorded as a `load`: a write in doubt from the loader's start.
 * The key's initial state (no value) is a definite write that landed before everything.
 *
 * ## When a value stops being acceptable (interval mode: from the calls alone)
 * A write W' *replaces* W for sure when W' is definite and started after W's latest possible landing
 * (W's end if W is definite; never if W is in doubt, since it may land last). From W'`s end on, the
 * library has finished the write and owes every process the news within the staleness bound Δ. So W
 * may be returned from W's start until `until(W)` = the earliest end of a definite write that replaces
 * it (infinity if none); with a ttl, a fresh answer also needs W not expired (end + ttl). The
 * **acceptable set** of a read that ran over [rs, re] is every value W with
 *     W.start < re   (it may have landed before the read ended)
 *     until(W) > rs - Δ   (nothing definitely replaced it more than Δ before the read began)
 * plus "no value" when the initial state, a delete or an expiry is acceptable by the same rule.
 * Hence a read may return a failed write's value (it may have landed), and values of concurrent writes
 * in either order; and reads of values whose writes are in doubt are never judged stale: only a
 * store-side log can tell when they landed.
 *
 * ## Landing mode: with the store's own log of changes
 * With `landings` (every change the store applied, in its order: Redis MONITOR, a PostgreSQL trigger),
 * nothing is in doubt. A value is in the store from its landing to the next change of the key, and
 * stops being acceptable Δ after the *obligation* of a later change: the end of the call that made it
 * (the library announces a write when its call finishes), or the landing itself when that call had
 * already failed (a write that lands after its call failed is announced before it lands, which issue
 * 10 feature 2 must handle), or never while the call is still pending. An acknowledged write missing
 * from the log is a lost write; a value returned but never in the store is a phantom, and so is a
 * write refused as not reached (`StoreUnavailableError`, `CacheClosedError`) that the log shows landing.
 *
 * A getOrSet answered by a loader read nothing: its own loader, or the one of a getOrSet (or background
 * load) of the same key in the same process that ran while it did, since concurrent callers share one
 * loader call and get its result whether or not the store took it (issue 10, features 6 and 9).
 *
 * ## The other checks
 * - **hang**: a call that took longer than `bounds.hangMs(op)`, or never settled;
 * - **lost write**: a definite write that is neither the store's final value nor replaced by a later
 *   landing: the final value's write ended (or landed) before the lost write began;
 * - **convergence**: every process's `get()` after the settle equals the store's final value (keys with
 *   a write still unsettled are left out: they have no settled value, and the write is a hang);
 * - stale answers (outcome `stale`) are counted by reason and judged without their ttl: a value that
 *   was deleted or overwritten must not be served stale either (`stale-superseded`);
 * - per process: no exit, no uncaught exception (`crash`), no unhandled rejection, heap within
 *   `bounds.heapRatio` of its level before the faults, bus up at the end (`recovery`).
 * All comparisons of times from different clocks allow `bounds.clockMs`.
 */

export type ViolationKind =
  | 'hang'
  | 'stale-read'
  | 'stale-superseded'
  | 'phantom'
  | 'lost-write'
  | 'divergence'
  | 'crash'
  | 'unhandled-rejection'
  | 'heap'
  | 'recovery'
  | 'checker';

export interface Violation {
  kind: ViolationKind;
  message: string;
  p?: string;
  key?: string;
  /** When it happened (wall-clock ms), for ordering examples. */
  at?: number;
}

export interface Bounds {
  hangMs(op: Op): number;
  stalenessMs: number;
  clockMs: number;
  heapRatio: number;
}

export interface ProcessReport {
  p: string;
  /** Set when the process exited before the end: how (`code 1`, `signal SIGKILL`). */
  exited?: string;
  /** Uncaught exceptions and unhandled rejections the process reported. */
  fatal: readonly { kind: 'uncaught-exception' | 'unhandled-rejection'; message: string; t: number }[];
  heapBefore?: number;
  heapAfter?: number;
  /** `stats().bus` after the settle. */
  busAtEnd?: string;
}

export interface CheckInput {
  ops: readonly OpRecord[];
  keys: readonly string[];
  /** The store after the settle, read at `finalAt`. */
  final: ReadonlyMap<string, Read>;
  finalAt: number;
  /** Each process's `get()` of every key after the settle (an error as `{ error }`). */
  views?: ReadonlyMap<string, ReadonlyMap<string, Read | { error: string }>>;
  /** When the views were read: a value whose ttl ran out meanwhile may differ from `final`. */
  viewsAt?: number;
  landings?: readonly Landing[];
  loaderWritesInDoubt?: boolean;
  processes?: readonly ProcessReport[];
  bounds: Bounds;
  /** Times in messages are shown relative to this (the start of the run). */
  origin?: number;
}

export interface CheckResult {
  violations: Violation[];
  /** Calls by outcome: `ok`, `pending`, `stale:<reason>`, `error:<class>:<code>`. */
  outcomes: Map<string, number>;
  /** Stale answers by reason. */
  stale: Map<string, number>;
  /** Reads judged, and how: fresh, or stale by grace. */
  readsChecked: number;
  /** getOrSet answers taken from a load of their own process that they joined (not judged as reads). */
  sharedLoads: number;
  longest: OpRecord | undefined;
  mode: 'interval' | 'landing';
  /** Keys left out of the convergence check: a write of theirs had still not settled. */
  convergenceSkipped: string[];
}

/** A stretch of a key's history during which one value may be in the store. */
interface Segment {
  v: Read;
  /** It may be in the store from here on. */
  from: number;
  /** A read that begins more than Δ after this must not return it. */
  until: number;
  /** The latest moment it is still fresh (its ttl), infinity without one. */
  freshUntil: number;
  /** What replaced it (for messages). */
  replacedBy: string | undefined;
  by: string;
}

interface Write {
  rec: OpRecord | undefined;
  v: Read;
  start: number;
  end: number;
  /** The latest it may have landed: `end` when definite, infinity when in doubt. */
  landEnd: number;
  definite: boolean;
  ttl: number | undefined;
}

const INF = Number.POSITIVE_INFINITY;

function durationOf(rec: OpRecord, fallback: number): number {
  return (rec.end ?? fallback) - rec.start;
}

function label(rec: OpRecord | undefined, v?: Read): string {
  if (rec === undefined) return v === null ? 'the initial state' : String(v);
  const what = rec.op === 'delete' ? 'delete' : `${rec.op} ${rec.op === 'getOrSet' || rec.op === 'load' ? rec.wrote : rec.v}`;
  return `${rec.p} ${what} (${rec.outcome}${rec.error ? ` ${rec.error.name}` : ''})`;
}

/** The writes of one key, by the rules above (interval mode). */
function writesOf(ops: readonly OpRecord[], loaderInDoubt: boolean): Write[] {
  const writes: Write[] = [{ rec: undefined, v: null, start: -INF, end: -INF, landEnd: -INF, definite: true, ttl: undefined }];
  for (const rec of ops) {
    let v: Read;
    let definite: boolean;
    if (rec.op === 'set' || rec.op === 'delete') {
      v = rec.op === 'set' ? rec.v : null;
      definite = rec.outcome === 'ok';
    } else if (rec.op === 'getOrSet' && rec.wrote !== undefined) {
      v = rec.wrote;
      definite = !loaderInDoubt && (rec.outcome === 'ok' || rec.outcome === 'stale') && rec.v === rec.wrote;
    } else if (rec.op === 'load' && rec.wrote !== undefined) {
      // The library stores a background load's value when it settles, if it does: no call says.
      v = rec.wrote;
      definite = false;
    } else {
      continue;
    }
    if (rec.outcome === 'error' && rec.error?.code !== undefined && NOT_REACHED_CODES.has(rec.error.code)) continue;
    const end = rec.end ?? INF;
    writes.push({ rec, v, start: rec.start, end, landEnd: definite ? end : INF, definite, ttl: rec.ttl });
  }
  return writes;
}

/** Segments of one key from its writes alone. */
function intervalSegments(writes: readonly Write[]): Segment[] {
  const definite = writes.filter((w) => w.definite).sort((a, b) => a.start - b.start);
  // suffixMin[i]: the definite write with the earliest end among definite[i..].
  const suffixMin: (Write | undefined)[] = new Array(definite.length + 1).fill(undefined);
  for (let i = definite.length - 1; i >= 0; i--) {
    const here = definite[i] as Write;
    const later = suffixMin[i + 1];
    suffixMin[i] = later === undefined || here.end <= later.end ? here : later;
  }
  const firstStartingAfter = (t: number): number => {
    let lo = 0;
    let hi = definite.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((definite[mid] as Write).start > t) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  };
  const segments: Segment[] = [];
  for (const w of writes) {
    const replacer = w.landEnd === INF ? undefined : suffixMin[firstStartingAfter(w.landEnd)];
    const until = replacer?.end ?? INF;
    const replacedBy = replacer === undefined ? undefined : label(replacer.rec, replacer.v);
    const by = label(w.rec, w.v);
    const freshUntil = w.ttl === undefined ? INF : w.end + w.ttl;
    segments.push({ v: w.v, from: w.start, until, freshUntil, replacedBy, by });
    if (w.ttl !== undefined && w.v !== null) {
      segments.push({ v: null, from: w.start + w.ttl, until, freshUntil: INF, replacedBy, by: `the expiry of ${by}` });
    }
  }
  return segments;
}

/** Segments of one key from the store's log of its changes. */
function landingSegments(landings: readonly Landing[], ops: readonly OpRecord[], clockMs: number): Segment[] {
  const writers = new Map<string, OpRecord>();
  const deletes: OpRecord[] = [];
  for (const rec of ops) {
    if (rec.op === 'set' && rec.v !== null) writers.set(rec.v, rec);
    else if ((rec.op === 'getOrSet' || rec.op === 'load') && rec.wrote !== undefined) writers.set(rec.wrote, rec);
    else if (rec.op === 'delete') deletes.push(rec);
  }
  // When the library owes the other processes the news of a change (see the docblock).
  const obligation = (landing: Landing): { at: number; by: string } => {
    if (landing.v !== null) {
      const rec = writers.get(landing.v);
      if (rec === undefined) return { at: landing.t, by: `an unknown write of ${landing.v}` };
      if (rec.end === undefined) return { at: INF, by: label(rec) };
      const late = rec.outcome === 'error' && rec.end < landing.t;
      return { at: Math.max(rec.end, landing.t), by: `${label(rec)}${late ? ', which landed after its call had failed' : ''}` };
    }
    const around = deletes.filter((d) => d.start - clockMs <= landing.t && landing.t <= (d.end ?? INF) + clockMs);
    if (around.length === 0)
      return { at: landing.t, by: 'a delete in the store (no delete call was running: a late one, or Keyv dropping an expired entry)' };
    const at = Math.max(...around.map((d) => d.end ?? INF));
    return { at, by: label(around.find((d) => (d.end ?? INF) === at)) };
  };
  const obligations = landings.map(obligation);
  // suffix[i]: the earliest obligation among changes i.. (a later change may be finished first).
  const suffix: ({ at: number; by: string } | undefined)[] = new Array(landings.length + 1).fill(undefined);
  for (let i = landings.length - 1; i >= 0; i--) {
    const here = obligations[i] as { at: number; by: string };
    const later = suffix[i + 1];
    suffix[i] = later === undefined || here.at <= later.at ? here : later;
  }
  const segments: Segment[] = [];
  const first = suffix[0];
  segments.push({ v: null, from: -INF, until: first?.at ?? INF, freshUntil: INF, replacedBy: first?.by, by: 'the initial state' });
  landings.forEach((landing, i) => {
    const next = suffix[i + 1];
    const until = next?.at ?? INF;
    const rec = landing.v === null ? undefined : writers.get(landing.v);
    const by = landing.v === null ? 'a delete' : label(rec, landing.v);
    const ttl = rec?.ttl ?? landing.ttl;
    const freshUntil = ttl === undefined ? INF : landing.t + ttl;
    segments.push({ v: landing.v, from: landing.t, until, freshUntil, replacedBy: next?.by, by });
    if (ttl !== undefined && landing.v !== null) {
      // The library's own expiry counts from its call's start; the store's from the landing.
      const expires = Math.min(rec?.start ?? landing.t, landing.t) + ttl;
      segments.push({ v: null, from: expires, until, freshUntil: INF, replacedBy: next?.by, by: `the expiry of ${by}` });
    }
  });
  return segments;
}

function group<T>(items: readonly T[], keyOf: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = keyOf(item);
    let list = groups.get(k);
    if (list === undefined) {
      list = [];
      groups.set(k, list);
    }
    list.push(item);
  }
  return groups;
}

function count(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

export function outcomeLabel(rec: OpRecord): string {
  if (rec.outcome === 'error') return `error:${rec.error?.name ?? 'Error'}${rec.error?.code ? `:${rec.error.code}` : ''}`;
  if (rec.outcome === 'stale') return `stale:${rec.reason ?? '?'}`;
  return rec.outcome;
}

/**
 * True when `load` (the call whose loader produced the value `rec` returned) ran in `rec`'s process and
 * overlapped it: concurrent getOrSet calls of one key in one process share one loader call.
 */
function sharedLoad(rec: OpRecord, load: OpRecord | undefined, eps: number): boolean {
  if (load === undefined || load === rec || load.p !== rec.p || load.key !== rec.key) return false;
  if (load.op !== 'getOrSet' && load.op !== 'load') return false;
  return load.start < (rec.end ?? INF) + eps && rec.start < (load.end ?? INF) + eps;
}

/** Judges a history; see the module docblock for the rules. */
export function check(input: CheckInput): CheckResult {
  const { bounds } = input;
  const eps = bounds.clockMs;
  const delta = bounds.stalenessMs;
  const origin = input.origin ?? input.ops.reduce((min, r) => Math.min(min, r.start), INF);
  const at = (t: number) => (Number.isFinite(t) ? `${t < origin ? '-' : '+'}${(Math.abs(t - origin) / 1000).toFixed(3)}s` : String(t));
  const violations: Violation[] = [];
  const outcomes = new Map<string, number>();
  const stale = new Map<string, number>();
  let longest: OpRecord | undefined;
  let readsChecked = 0;
  let sharedLoads = 0;

  // No hang.
  for (const rec of input.ops) {
    if (rec.op === 'load') {
      // Not a call: the library ran a loader on its own (refresh ahead, past a soft timeout).
      count(outcomes, 'background load');
      continue;
    }
    count(outcomes, outcomeLabel(rec));
    if (rec.outcome === 'stale') count(stale, rec.reason ?? '?');
    const took = durationOf(rec, rec.end ?? input.finalAt);
    if (longest === undefined || took > durationOf(longest, input.finalAt)) longest = rec;
    const bound = bounds.hangMs(rec.op);
    if (rec.end === undefined) {
      violations.push({
        kind: 'hang',
        p: rec.p,
        key: rec.key,
        at: rec.start,
        message: `${rec.p} ${rec.op}(${rec.key}) started at ${at(rec.start)} never settled (bound ${bound} ms)`,
      });
    } else if (took > bound) {
      violations.push({
        kind: 'hang',
        p: rec.p,
        key: rec.key,
        at: rec.start,
        message: `${rec.p} ${rec.op}(${rec.key}) started at ${at(rec.start)} took ${Math.round(took)} ms (bound ${bound} ms), ${outcomeLabel(rec)}`,
      });
    }
  }

  const byKey = group(input.ops, (r) => r.key);
  const landingsByKey = input.landings === undefined ? undefined : group(input.landings, (l) => l.key);
  const written = new Map<string, OpRecord>();
  for (const rec of input.ops) {
    if (rec.op === 'set' && rec.v !== null) written.set(rec.v, rec);
    if ((rec.op === 'getOrSet' || rec.op === 'load') && rec.wrote !== undefined) written.set(rec.wrote, rec);
  }
  const keys = new Set([...input.keys, ...byKey.keys()]);
  const finalCandidates = new Map<string, Set<Read>>();

  for (const key of keys) {
    const ops = byKey.get(key) ?? [];
    const writes = writesOf(ops, input.loaderWritesInDoubt ?? false);
    const landings = landingsByKey === undefined ? undefined : (landingsByKey.get(key) ?? []);
    const segments = landings === undefined ? intervalSegments(writes) : landingSegments(landings, ops, eps);
    const segmentsOf = group(segments, (s) => String(s.v));

    // Bounded staleness.
    for (const rec of ops) {
      const end = rec.end;
      if (end === undefined || (rec.outcome !== 'ok' && rec.outcome !== 'stale')) continue;
      if (rec.op !== 'get' && rec.op !== 'getOrSet') continue;
      // A getOrSet that returns what its own loader produced read nothing.
      if (rec.op === 'getOrSet' && rec.wrote !== undefined && rec.v === rec.wrote) continue;
      // Nor does one that joined a load of its process running meanwhile (single flight, issue 10
      // feature 9: the callers of a load get its result, stored or not).
      if (rec.op === 'getOrSet' && sharedLoad(rec, written.get(rec.v ?? ''), eps)) {
        sharedLoads++;
        continue;
      }
      readsChecked++;
      const isStale = rec.outcome === 'stale';
      const candidates = segmentsOf.get(String(rec.v)) ?? [];
      const fits = (s: Segment) => s.from < end + eps && s.until > rec.start - delta - eps && (isStale || rec.start < s.freshUntil + eps);
      if (candidates.some(fits)) continue;
      const what = `${rec.p} ${rec.op}(${key}) over ${at(rec.start)}..${at(end)} returned ${rec.v ?? 'no value'}`;
      if (candidates.length === 0) {
        const writer = rec.v === null ? undefined : written.get(rec.v);
        violations.push({
          kind: 'phantom',
          p: rec.p,
          key,
          at: rec.start,
          message: writer === undefined ? `${what}, a value no call wrote` : `${what}, written by ${label(writer)} but never in the store`,
        });
        continue;
      }
      // Explain with the candidate closest to being acceptable.
      const best = candidates.reduce((a, b) => (b.until > a.until ? b : a));
      const why =
        best.from >= end + eps
          ? `which was not in the store before ${at(best.from)}`
          : !isStale && rec.start >= best.freshUntil + eps && best.until > rec.start - delta - eps
            ? `whose ttl ran out at ${at(best.freshUntil)}`
            : `replaced ${Math.round(rec.start - best.until)} ms before the read began by ${best.replacedBy} (done ${at(best.until)}; bound ${delta} ms)`;
      violations.push({
        kind: isStale ? 'stale-superseded' : 'stale-read',
        p: rec.p,
        key,
        at: rec.start,
        message: `${what} (${best.by}), ${why}`,
      });
    }

    // The store's final value, and what it may stand for once ttls are counted.
    const final = input.final.get(key) ?? null;
    const candidates = new Set<Read>([final]);
    if (final !== null) {
      const writer = written.get(final);
      const ttl = writer?.ttl;
      if (writer !== undefined && ttl !== undefined && input.finalAt >= writer.start + ttl - eps) candidates.add(null);
    }
    finalCandidates.set(key, candidates);

    // No lost write.
    if (landings === undefined) {
      const finalWrites = writes.filter(
        (w) =>
          candidates.has(w.v) || (w.v !== null && w.ttl !== undefined && candidates.has(null) && input.finalAt >= w.start + w.ttl - eps),
      );
      if (finalWrites.length === 0) {
        violations.push({ kind: 'phantom', key, message: `the store ends with ${final} for ${key}, a value no call wrote` });
        continue;
      }
      const latest = Math.max(...finalWrites.map((w) => w.landEnd));
      const lost = writes.filter(
        (w) =>
          w.definite && w.rec !== undefined && w.start > latest + eps && !(w.ttl !== undefined && input.finalAt >= w.end + w.ttl + eps),
      );
      if (lost.length > 0) {
        const last = lost.reduce((a, b) => (b.end > a.end ? b : a));
        const shown = finalWrites.find((w) => w.landEnd === latest);
        violations.push({
          kind: 'lost-write',
          p: last.rec?.p,
          key,
          at: last.start,
          message: `${key}: ${label(last.rec)} over ${at(last.start)}..${at(last.end)} is lost: the store ends with ${final ?? 'no value'} (${label(shown?.rec, shown?.v)}), which landed by ${at(latest)}${lost.length > 1 ? `; ${lost.length} lost writes on this key` : ''}`,
        });
      }
    } else {
      const landed = new Set(landings.map((l) => l.v));
      for (const w of writes) {
        if (!w.definite || w.rec === undefined || w.v === null || landed.has(w.v)) continue;
        violations.push({
          kind: 'lost-write',
          p: w.rec.p,
          key,
          at: w.start,
          message: `${key}: ${label(w.rec)} over ${at(w.start)}..${at(w.end)} resolved but never reached the store`,
        });
      }
      // A write refused as "not reached" (breaker open, cache closed) must not have landed: the library
      // announced nothing for it, so a landing would be a change no process hears of.
      for (const landing of landings) {
        const rec = landing.v === null ? undefined : written.get(landing.v);
        if (rec?.op !== 'set' || rec.outcome !== 'error' || !NOT_REACHED_CODES.has(rec.error?.code ?? '')) continue;
        violations.push({
          kind: 'phantom',
          p: rec.p,
          key,
          at: landing.t,
          message: `${key}: ${label(rec)} was refused with ${rec.error?.code} (the store not reached) but landed at ${at(landing.t)}`,
        });
      }
      const last = landings.at(-1);
      let expected: Read = last?.v ?? null;
      if (last !== undefined && last.v !== null) {
        const ttl = written.get(last.v)?.ttl ?? last.ttl;
        if (ttl !== undefined && input.finalAt >= last.t + ttl - eps) expected = null;
      }
      if (!candidates.has(expected)) {
        violations.push({
          kind: 'checker',
          key,
          message: `${key}: the store's log ends with ${expected ?? 'no value'} but the store holds ${final ?? 'no value'}: the log missed a change`,
        });
      }
    }
  }

  // Convergence. A key with a write still in flight has no settled value to converge to; the write
  // itself is reported as a hang.
  const unsettled = new Set(
    input.ops.filter((r) => r.end === undefined && (r.op === 'set' || r.op === 'delete' || r.op === 'getOrSet')).map((r) => r.key),
  );
  for (const [p, view] of input.views ?? []) {
    for (const key of input.keys) {
      if (unsettled.has(key)) continue;
      const seen = view.get(key);
      const expected = finalCandidates.get(key) ?? new Set<Read>([null]);
      if (seen !== undefined && typeof seen === 'object' && seen !== null) {
        violations.push({ kind: 'divergence', p, key, message: `${p} get(${key}) after the settle failed: ${seen.error}` });
        continue;
      }
      const value = seen ?? null;
      if (expected.has(value)) continue;
      const writer = value === null ? undefined : written.get(value);
      const expiredMeanwhile =
        writer?.ttl !== undefined &&
        input.viewsAt !== undefined &&
        input.viewsAt <= (writer.end ?? INF) + writer.ttl + eps &&
        expected.has(null);
      if (expiredMeanwhile) continue;
      violations.push({
        kind: 'divergence',
        p,
        key,
        message: `${p} get(${key}) after the settle returns ${value ?? 'no value'}, the store holds ${[...expected].map((v) => v ?? 'no value').join(' / ')}`,
      });
    }
  }

  // The processes themselves.
  for (const proc of input.processes ?? []) {
    if (proc.exited !== undefined)
      violations.push({ kind: 'crash', p: proc.p, message: `${proc.p} exited during the run (${proc.exited})` });
    for (const fatal of proc.fatal) {
      violations.push({
        kind: fatal.kind === 'unhandled-rejection' ? 'unhandled-rejection' : 'crash',
        p: proc.p,
        at: fatal.t,
        message: `${proc.p} ${fatal.kind} at ${at(fatal.t)}: ${fatal.message.split('\n').slice(0, 3).join(' | ')}`,
      });
    }
    if (proc.heapBefore !== undefined && proc.heapAfter !== undefined && proc.heapAfter > proc.heapBefore * bounds.heapRatio) {
      const mb = (n: number) => `${(n / 1048576).toFixed(1)} MB`;
      violations.push({
        kind: 'heap',
        p: proc.p,
        message: `${proc.p} heap after the faults ${mb(proc.heapAfter)} > ${bounds.heapRatio} x ${mb(proc.heapBefore)} before`,
      });
    }
    if (proc.busAtEnd !== undefined && proc.busAtEnd !== 'up') {
      violations.push({ kind: 'recovery', p: proc.p, message: `${proc.p}'s bus is ${proc.busAtEnd} after the settle` });
    }
  }

  violations.sort((a, b) => (a.at ?? INF) - (b.at ?? INF));
  return {
    violations,
    outcomes,
    stale,
    readsChecked,
    sharedLoads,
    longest,
    mode: input.landings === undefined ? 'interval' : 'landing',
    convergenceSkipped: input.views === undefined ? [] : input.keys.filter((key) => unsettled.has(key)),
  };
}
