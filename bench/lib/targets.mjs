// The targets of issue 3, checked against the figures of this run (never against constants
// measured elsewhere). Each check names what it compares; a scenario that did not run, or ran
// without synced-cache, yields "not run".
import { fmt } from './report.mjs';

function scenario(results, name) {
  return results.scenarios.find((s) => s.name === name);
}

function row(s, id) {
  return s?.rows.find((r) => r.id === id);
}

function verdict(ok) {
  return ok ? 'met' : '**missed**';
}

export function evaluateTargets(results) {
  const out = [];
  const add = (target, fn) => {
    try {
      const r = fn();
      out.push(r ? { target, ...r } : { target, measured: 'not run', verdict: 'not run' });
    } catch (err) {
      out.push({ target, measured: `error: ${err.message}`, verdict: 'not run' });
    }
  };

  add('Hot hit >= 0.9x awaited raw lru-cache get', () => {
    const r = row(scenario(results, 'hot-hit'), 'synced-cache');
    if (!r) return undefined;
    return {
      measured: `${fmt(r.ratioToAwaitedLru, 'ratio')} (${fmt(r.opsPerSec, 'ops')} ops/s)`,
      verdict: verdict(r.ratioToAwaitedLru >= 0.9),
    };
  });

  add('Propagation p99 < 1 ms (from the start of set())', () => {
    const r = row(scenario(results, 'propagation'), 'synced-cache');
    if (!r) return undefined;
    return { measured: `p99 ${fmt(r.p99, 'us')} µs`, verdict: verdict(r.p99 < 1000) };
  });

  add('Propagation p50 within 3x raw pub/sub', () => {
    const s = scenario(results, 'propagation');
    const r = row(s, 'synced-cache');
    const raw = row(s, 'raw-pubsub');
    if (!r || !raw) return undefined;
    return {
      measured: `p50 ${fmt(r.p50, 'us')} µs vs raw ${fmt(raw.p50, 'us')} µs = ${fmt(r.p50Ratio, 'ratio')}`,
      verdict: verdict(r.p50Ratio <= 3),
    };
  });

  add('0 stale keys after the mixed load, at +200 ms and +1.2 s, in every run', () => {
    const s = scenario(results, 'stale-after-mixed-load');
    const r = row(s, 'synced-cache');
    if (!r) return undefined;
    const runs = s.raw['synced-cache'];
    const worst200 = Math.max(...runs.map((x) => x.stale200));
    const worst1200 = Math.max(...runs.map((x) => x.stale1200));
    return {
      measured: `worst of ${runs.length} run(s): ${worst200} at +200 ms, ${worst1200} at +1.2 s`,
      verdict: verdict(worst200 === 0 && worst1200 === 0),
    };
  });

  add('Write storm: receiver lag p99 < 50 ms at 50,000 invalidations/s', () => {
    const r = row(scenario(results, 'write-storm'), 'synced-cache');
    if (!r) return undefined;
    const rate = r.sentPerSec ?? r.setsPerSec;
    const lagOk = r.lagP99 < 50;
    const rateOk = rate >= 50_000;
    return {
      measured: `lag p99 ${fmt(r.lagP99, 'ms')} ms at ${fmt(rate, 'ops')} invalidations/s${rateOk ? '' : ' (the writer did not reach 50,000/s)'}`,
      verdict: lagOk && rateOk ? 'met' : lagOk ? '**missed** (rate)' : '**missed**',
    };
  });

  add('Write storm: 0 stale keys after', () => {
    const s = scenario(results, 'write-storm');
    const r = row(s, 'synced-cache');
    if (!r) return undefined;
    const runs = s.raw['synced-cache'];
    const worst = Math.max(...runs.map((x) => Math.max(x.stale200, x.stale1200)));
    return { measured: `worst of ${runs.length} run(s): ${worst}`, verdict: verdict(worst === 0) };
  });

  add('Writes, 64 in flight >= 0.9x keyv.set + PUBLISH by hand', () => {
    const r = row(scenario(results, 'writes'), 'synced-cache');
    if (!r) return undefined;
    return { measured: `${fmt(r.parRatio, 'ratio')} (${fmt(r.parOpsPerSec, 'ops')} ops/s)`, verdict: verdict(r.parRatio >= 0.9) };
  });

  add('Store hit after a memory miss >= 0.9x raw GET + JSON.parse (sequential)', () => {
    const r = row(scenario(results, 'store-hit'), 'synced-cache');
    if (!r) return undefined;
    return { measured: `${fmt(r.seqRatio, 'ratio')} (${fmt(r.seqOpsPerSec, 'ops')} ops/s)`, verdict: verdict(r.seqRatio >= 0.9) };
  });

  add('Store hit after a memory miss >= 0.9x raw GET + JSON.parse (64 in flight)', () => {
    const r = row(scenario(results, 'store-hit'), 'synced-cache');
    if (!r) return undefined;
    return { measured: `${fmt(r.parRatio, 'ratio')} (${fmt(r.parOpsPerSec, 'ops')} ops/s)`, verdict: verdict(r.parRatio >= 0.9) };
  });

  add('Memory per entry <= 1.5x raw lru-cache', () => {
    const r = row(scenario(results, 'memory-per-entry'), 'synced-cache');
    if (!r) return undefined;
    return { measured: `${fmt(r.ratio, 'ratio')} (${fmt(r.bytesPerEntry, 'bytes')} B/entry)`, verdict: verdict(r.ratio <= 1.5) };
  });

  add('Stampede: one loader call for 1,000 concurrent callers (a sanity check, not an issue-3 target)', () => {
    const r = row(scenario(results, 'stampede'), 'synced-cache');
    if (!r) return undefined;
    return { measured: `${r.callsPerRun} call(s) per run, p99 ${fmt(r.p99, 'ms')} ms`, verdict: verdict(r.calls === 1) };
  });

  return out;
}
