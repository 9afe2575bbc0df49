// Scenario 5: write storm. Three processes: one writes as fast as it can (64 sets in flight)
// over 10,000 keys for 5 s, two read random keys. Measured: invalidations/s sent and applied,
// receiver lag (from the start of the writer's set() of a probe key, every 10 ms, until each
// reader's get() returns it), memory of each process, and after the storm the number of keys
// whose value in some process's memory differs from the store (200 ms after, and 1 s later).

import { coherenceRows, dumpsAfter, runCoherence, staleKeys, waitForBus, withGroup } from './lib/coherence.mjs';
import { withOurs } from './lib/scenario.mjs';
import { median, summarize } from './lib/stats.mjs';

const KEYS = 10_000;
const PROBE = '__probe';

export const name = 'write-storm';
export const title = 'Write storm (1 writer, 2 readers, 10,000 keys)';

export function systemsFor(ctx) {
  return withOurs(ctx, [], ['hand-rolled', 'layered-loader', 'cacheable', 'bentocache']);
}

async function measureOnce(ctx, id, run, durationMs) {
  const namespace = `storm-${id}-${run}`;
  const spec = { redisUrl: ctx.redisUrl, system: id, namespace, keyCount: KEYS };
  return withGroup(spec, ['writer', 'r1', 'r2'], async (g) => {
    await g.writer.call('seed');
    await Promise.all([g.r1.call('warm'), g.r2.call('warm')]);
    await waitForBus(g.writer, [g.r1, g.r2]);
    await g.writer.call('setKey', PROBE, { writer: 'probe', seq: 0 });
    await Promise.all([g.r1.call('getSeq', PROBE), g.r2.call('getSeq', PROBE)]);

    const readers = Promise.all([g.r1, g.r2].map((r) => r.call('read', { durationMs: durationMs + 150, concurrency: 4, probeKey: PROBE })));
    const w = await g.writer.call('storm', {
      writer: 'w',
      durationMs,
      concurrency: 64,
      probeKey: PROBE,
      probeEveryMs: 10,
    });
    const stormEnd = Date.now();
    const rs = await readers;

    const { first, second, truth } = await dumpsAfter([g.writer, g.r1, g.r2], stormEnd, spec);
    const stale200 = first.reduce((n, d) => n + staleKeys(d, truth).length, 0);
    const stale1200 = second.reduce((n, d) => n + staleKeys(d, truth).length, 0);

    const lag = summarize(rs.flatMap((r) => r.lags).map((us) => us / 1000));
    const received = rs.map((r) =>
      r.statsAfter && r.statsBefore ? (r.statsAfter.invalidations.received - r.statsBefore.invalidations.received) / r.seconds : undefined,
    );
    const sentPerSec =
      w.statsAfter && w.statsBefore ? (w.statsAfter.invalidations.sent - w.statsBefore.invalidations.sent) / w.seconds : undefined;
    return {
      setsPerSec: w.setsPerSec,
      sentPerSec,
      appliedPerSec: received[0] === undefined ? undefined : (received[0] + received[1]) / 2,
      readerGetsPerSec: (rs[0].getsPerSec + rs[1].getsPerSec) / 2,
      lagP50: lag.p50,
      lagP99: lag.p99,
      lagMax: lag.max,
      lagSamples: lag.n,
      probes: w.probes,
      writerRssMb: w.memPeak.rss / 2 ** 20,
      readerRssMb: Math.max(rs[0].memPeak.rss, rs[1].memPeak.rss) / 2 ** 20,
      writerHeapMb: w.memPeak.heapUsed / 2 ** 20,
      readerHeapMb: Math.max(rs[0].memPeak.heapUsed, rs[1].memPeak.heapUsed) / 2 ** 20,
      stale200,
      stale1200,
      readerStats: rs.map((r) => r.statsAfter),
    };
  });
}

export async function run(ctx) {
  const ids = systemsFor(ctx);
  const durationMs = ctx.quick ? 2000 : 5000;
  const raw = await runCoherence(ctx, ids, durationMs, measureOnce);
  const rows = coherenceRows(ids, raw, (per) => {
    const pick = (f) => median(per.map((r) => r[f]));
    return {
      setsPerSec: pick('setsPerSec'),
      sentPerSec: pick('sentPerSec'),
      appliedPerSec: pick('appliedPerSec'),
      readerGetsPerSec: pick('readerGetsPerSec'),
      lagP50: pick('lagP50'),
      lagP99: pick('lagP99'),
      lagMax: pick('lagMax'),
      writerRssMb: pick('writerRssMb'),
      readerRssMb: pick('readerRssMb'),
      stale200: pick('stale200'),
      stale1200: pick('stale1200'),
      staleRuns: per.map((r) => r.stale1200),
    };
  });
  return {
    name,
    title,
    description:
      `Writer: 64 set() calls in flight on random keys of ${KEYS.toLocaleString('en-US')} for ${durationMs / 1000} s, ` +
      'values `{ writer, seq }`, plus a probe key set every 10 ms carrying the start time of its set(). Readers: 4 get() ' +
      'loops on random keys (yielding every 32 reads) plus a loop reading the probe key; receiver lag = reader first ' +
      "reads a probe value minus the start of the writer's set() of it (so it includes the writer's own queueing). " +
      'Sets/s is what the writer completed = invalidations it caused; "sent" and "applied" are synced-cache\'s own ' +
      'counters (keys, per second; applied = average of the two readers). Stale: keys whose get() in the writer or a ' +
      'reader differs from a fresh instance reading the store, summed over the 3 processes, 200 ms after the storm ' +
      `and 1.2 s after. synced-cache: median of ${ctx.runs} runs; the others: ${Math.min(ctx.runs, ctx.otherCoherenceRuns)} run(s) each.`,
    columns: [
      { key: 'system', label: 'system' },
      { key: 'setsPerSec', label: 'sets/s', fmt: 'ops' },
      { key: 'sentPerSec', label: 'sent/s', fmt: 'ops' },
      { key: 'appliedPerSec', label: 'applied/s per reader', fmt: 'ops' },
      { key: 'readerGetsPerSec', label: 'reader gets/s', fmt: 'ops' },
      { key: 'lagP50', label: 'lag p50 ms', fmt: 'ms' },
      { key: 'lagP99', label: 'lag p99 ms', fmt: 'ms' },
      { key: 'lagMax', label: 'lag max ms', fmt: 'ms' },
      { key: 'writerRssMb', label: 'writer RSS MB', fmt: 'int' },
      { key: 'readerRssMb', label: 'reader RSS MB', fmt: 'int' },
      { key: 'stale200', label: 'stale +200 ms', fmt: 'int' },
      { key: 'stale1200', label: 'stale +1.2 s', fmt: 'int' },
    ],
    rows,
    raw,
  };
}
