// Scenario 4: propagation latency. From the start of set() in process A until get() in process
// B (a separate OS process that holds the old value in memory) returns the new value.
// Baseline in the same run: raw ioredis PUBLISH -> 'message' between the same two processes.
// The latency distribution is drawn to propagation.svg.
import { fileURLToPath } from 'node:url';
import { startWorker, withTimeout } from './lib/procs.mjs';
import { medianOf, runRotated, systemRow, withOurs } from './lib/scenario.mjs';
import { median, summarize, usBetween } from './lib/stats.mjs';
import { percentileChart } from './lib/svg.mjs';
import { SYSTEMS } from './lib/systems.mjs';

const CHILD = fileURLToPath(new URL('./propagation-child.mjs', import.meta.url));
const KEY = 'prop:key';
const WARMUP = 30;
const SAMPLE_TIMEOUT_MS = 2000;
const BACKGROUND_KEYS = 1000;

export const name = 'propagation';
export const title = 'Propagation latency (write in process A until process B reads it)';

const BASELINES = { 'raw-pubsub': 'raw ioredis PUBLISH -> message = floor' };

export function systemsFor(ctx) {
  return withOurs(ctx, ['raw-pubsub'], ['layered-loader', 'cacheable', 'bentocache']);
}

function nextSeen(worker) {
  return new Promise((resolve) => {
    const off = worker.on('seen', (d) => {
      off();
      resolve(d);
    });
  });
}

/**
 * One sample: arm B, post the write to A (no reply: this process stays asleep while the write
 * propagates), wait for B. Returns B's stamp (or a timeout); A's stamps are fetched afterwards.
 */
async function sample(A, B, seq) {
  const seen = nextSeen(B);
  await B.call('watch', KEY, seq, SAMPLE_TIMEOUT_MS);
  A.post('postWrite', KEY, seq);
  const s = await withTimeout(seen, SAMPLE_TIMEOUT_MS + 2000, `B seeing seq ${seq}`);
  if (s.error) throw new Error(`B failed: ${s.error}`);
  return s;
}

function latencies(seen, timings) {
  const lat = [];
  const setUs = [];
  let lost = 0;
  for (const s of seen) {
    const w = timings[s.seq];
    if (w === undefined) throw new Error(`no write timing for seq ${s.seq}`);
    setUs.push(usBetween(w.t0, w.t1));
    if (s.timeout) lost++;
    else lat.push(usBetween(w.t0, s.t));
  }
  return { lat, setUs, lost };
}

async function measureOnce(ctx, id, run, samples) {
  const namespace = `prop-${id}-${run}`;
  const A = await startWorker(CHILD, { name: `${id}/A` });
  const B = await startWorker(CHILD, { name: `${id}/B` });
  let aError;
  A.on('error', (e) => {
    aError ??= e;
  });
  const failed = () => (aError ? new Error(`${id}: A's posted write failed: ${aError.message}\n${aError.stack}`) : undefined);
  try {
    await A.call('init', { system: id, redisUrl: ctx.redisUrl, namespace, role: 'A' });
    await B.call('init', { system: id, redisUrl: ctx.redisUrl, namespace, role: 'B' });
    await A.call('prefill', 'A', BACKGROUND_KEYS);
    await B.call('prefill', 'B', BACKGROUND_KEYS);
    // Readiness: the first write may race the subscriptions (cacheable subscribes in the
    // background), so write seq 0 until B has it, then warm up with samples we discard.
    let seq = 0;
    const deadline = Date.now() + 10_000;
    for (;;) {
      await A.call('write', KEY, seq);
      if ((await B.call('peek', KEY)) === seq) {
        const r = await sample(A, B, ++seq);
        if (!r.timeout) break;
      }
      if (Date.now() > deadline) throw new Error(`${id}: B never saw A's write`);
      await new Promise((r) => setTimeout(r, 50));
    }
    for (let i = 0; i < WARMUP; i++) await sample(A, B, ++seq);
    await A.call('takeTimings');
    const seen = [];
    let lostInARow = 0;
    for (let i = 0; i < samples; i++) {
      const s = await sample(A, B, ++seq);
      seen.push(s);
      lostInARow = s.timeout ? lostInARow + 1 : 0;
      if (failed()) throw failed();
      if (lostInARow >= 5) throw new Error(`${id}: 5 samples in a row never reached B`);
    }
    // the last posted write may still be finishing
    await A.call('postWrite', KEY, ++seq);
    const { lat, setUs, lost } = latencies(seen, await A.call('takeTimings'));
    const bStats = await B.call('stats');
    await Promise.all([A.call('close'), B.call('close')]);
    return { lat, setUs, lost, bStats, foundByFallback: bStats.foundByFallback };
  } finally {
    await Promise.all([A.stop(), B.stop()]);
  }
}

export async function run(ctx) {
  const ids = systemsFor(ctx);
  const samples = ctx.quick ? 200 : 1000;
  const pooled = Object.fromEntries(ids.map((id) => [id, []]));
  const perRun = await runRotated(
    ctx,
    ids,
    async (id, run) => {
      const m = await measureOnce(ctx, id, run, samples);
      pooled[id].push(...m.lat);
      return { ...summarize(m.lat), lost: m.lost, setP50: summarize(m.setUs).p50, foundByFallback: m.foundByFallback };
    },
    { note: ` (${samples} samples)` },
  );
  const rows = ids.map((id) => {
    const pick = (f) => medianOf(perRun, id, f);
    return {
      ...systemRow(id, BASELINES),
      p50: pick('p50'),
      p90: pick('p90'),
      p99: pick('p99'),
      max: pick('max'),
      p50Ratio: median(perRun.map((r) => r[id].p50 / r['raw-pubsub'].p50)),
      lost: perRun.reduce((a, r) => a + r[id].lost, 0),
      foundByFallback: perRun.reduce((a, r) => a + r[id].foundByFallback, 0),
      setP50: pick('setP50'),
      runsP99: perRun.map((r) => r[id].p99),
    };
  });
  const svg = percentileChart({
    title: 'Propagation latency: set() in process A until get() in process B returns the new value',
    subtitle: `${samples} samples x ${ctx.runs} runs per system, pooled; ${ctx.quick ? 'quick run; ' : ''}lower is better`,
    series: ids.map((id) => ({
      label: BASELINES[id] ? 'raw PUBLISH -> message' : SYSTEMS[id].label.replace(/ \(.*\)$/, id === 'synced-cache' ? ' (ours)' : ''),
      samples: pooled[id],
      emphasis: SYSTEMS[id]?.ours,
    })),
  });
  return {
    name,
    title,
    description:
      `Both processes hold ${BACKGROUND_KEYS.toLocaleString('en-US')} other keys in memory (a warm cache). ` +
      "Process B holds the key in memory; process A calls set() with `{ writer, seq }`; latency = the moment B's get() " +
      "first returns the new seq minus the start of A's set(), both from process.hrtime.bigint() (one monotonic clock for " +
      'all processes). B idles in its event loop like a server; a spare connection PSUBSCRIBEd to `*` wakes it on any ' +
      'publish, and B then calls get() every event-loop turn (for up to 20 ms) until it returns the new value (a spinning ' +
      'reader would take a core from Redis on this 2-core machine and inflate every tail). For raw pub/sub, B stamps its ' +
      `'message' handler. ${samples} samples per run after ${WARMUP} discarded, fresh processes each run; each ` +
      'percentile is the median of the per-run percentiles. "set() resolves": from the start of set() until its promise resolves in A.',
    columns: [
      { key: 'system', label: 'system' },
      { key: 'p50', label: 'p50 µs', fmt: 'us' },
      { key: 'p90', label: 'p90 µs', fmt: 'us' },
      { key: 'p99', label: 'p99 µs', fmt: 'us' },
      { key: 'max', label: 'max µs', fmt: 'us' },
      { key: 'p50Ratio', label: 'p50 x raw', fmt: 'ratio' },
      { key: 'setP50', label: 'set() resolves, p50 µs', fmt: 'us' },
      { key: 'lost', label: 'never seen (2 s)', fmt: 'int' },
      { key: 'foundByFallback', label: 'seen by the 5 ms fallback', fmt: 'int' },
    ],
    rows,
    chart: { file: 'propagation.svg', alt: 'Propagation latency by percentile' },
    svg,
  };
}
