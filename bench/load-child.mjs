// Child process of the write-storm and stale-after-mixed-load scenarios: one cache instance
// per process, driven by the parent through these exports.
import { performance } from 'node:perf_hooks';
import { yieldLoop } from './lib/ipc.mjs';
import { forEachConcurrent } from './lib/load.mjs';
import { createSystem } from './lib/systems.mjs';
import { makeVersioned, versionOf } from './lib/values.mjs';

let sys;
let keys = [];
const memPeak = { rss: 0, heapUsed: 0 };
let sampler;

function nowUs() {
  return Number(process.hrtime.bigint() / 1000n);
}

function sampleMemory() {
  const m = process.memoryUsage();
  if (m.rss > memPeak.rss) memPeak.rss = m.rss;
  if (m.heapUsed > memPeak.heapUsed) memPeak.heapUsed = m.heapUsed;
}

export async function init({ system, redisUrl, namespace, keyCount }) {
  sys = await createSystem(system, { redisUrl, namespace });
  await sys.ready();
  keys = Array.from({ length: keyCount }, (_, i) => `k:${i}`);
  sampler = setInterval(sampleMemory, 100);
  sampler.unref();
  return { pid: process.pid };
}

/** Writes `{ writer: 'seed', seq: 0 }` to every key. */
export async function seed() {
  await forEachConcurrent(keys.length, 64, (i) => sys.set(keys[i], makeVersioned('seed', 0)));
}

/** Reads every key once, so the memory tier holds them all. */
export async function warm() {
  for (const k of keys) await sys.get(k);
}

export async function setKey(key, value) {
  await sys.set(key, value);
}

export async function getSeq(key) {
  const v = await sys.get(key);
  return v?.seq ?? null;
}

/** Polls get(key) until its seq is at least `seq`; false after `timeoutMs`. */
export async function waitForSeq(key, seq, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const v = await sys.get(key);
    if (v !== undefined && v.seq >= seq) return true;
    await new Promise((r) => setTimeout(r, 2));
  }
  return false;
}

function randomKey() {
  return keys[(Math.random() * keys.length) | 0];
}

/**
 * The storm writer: `concurrency` loops of set(random key, { writer, seq }) for `durationMs`, and
 * every `probeEveryMs` a set of `probeKey` to `{ seq, t0 }` with t0 the start of that set() in µs.
 */
export async function storm({ writer, durationMs, concurrency, probeKey, probeEveryMs }) {
  const statsBefore = sys.stats();
  let seq = 0;
  let sets = 0;
  const end = performance.now() + durationMs;
  async function loop() {
    while (performance.now() < end) {
      await sys.set(randomKey(), makeVersioned(writer, ++seq));
      sets++;
    }
  }
  let probes = 0;
  async function probe() {
    while (performance.now() < end) {
      await new Promise((r) => setTimeout(r, probeEveryMs));
      const t0 = nowUs();
      await sys.set(probeKey, { writer: 'probe', seq: ++probes, t0 });
    }
  }
  const t0 = performance.now();
  await Promise.all([...Array.from({ length: concurrency }, loop), probe()]);
  const seconds = (performance.now() - t0) / 1000;
  sampleMemory();
  return { sets, probes, seconds, setsPerSec: sets / seconds, statsBefore, statsAfter: sys.stats(), memPeak: { ...memPeak } };
}

/**
 * A storm reader: `concurrency` loops of get(random key) for `durationMs`, yielding to the event
 * loop every 32 reads, plus one loop watching `probeKey`: each new probe seq seen gives one lag
 * sample, now - t0 (µs), the time from the start of the writer's set() to this process reading it.
 */
export async function read({ durationMs, concurrency, probeKey }) {
  const statsBefore = sys.stats();
  let gets = 0;
  const end = performance.now() + durationMs;
  async function loop() {
    let n = 0;
    while (performance.now() < end) {
      await sys.get(randomKey());
      gets++;
      if (++n % 32 === 0) await yieldLoop();
    }
  }
  const lags = [];
  let lastProbe = 0;
  async function watchProbe() {
    while (performance.now() < end) {
      const v = await sys.get(probeKey);
      if (v !== undefined && v.seq > lastProbe) {
        const now = nowUs();
        lastProbe = v.seq;
        if (v.t0 !== undefined) lags.push(now - v.t0);
      }
      await yieldLoop();
    }
  }
  const t0 = performance.now();
  await Promise.all([...Array.from({ length: concurrency }, loop), watchProbe()]);
  const seconds = (performance.now() - t0) / 1000;
  sampleMemory();
  return { gets, seconds, getsPerSec: gets / seconds, lags, statsBefore, statsAfter: sys.stats(), memPeak: { ...memPeak } };
}

/** Mixed load: `workers` loops, each op a set with probability `setRatio`, else a get, for `durationMs`. */
export async function mixed({ writer, durationMs, workers, setRatio }) {
  let seq = 0;
  let sets = 0;
  let gets = 0;
  const end = performance.now() + durationMs;
  async function loop() {
    let n = 0;
    while (performance.now() < end) {
      if (Math.random() < setRatio) {
        await sys.set(randomKey(), makeVersioned(writer, ++seq));
        sets++;
      } else {
        await sys.get(randomKey());
        gets++;
      }
      if (++n % 32 === 0) await yieldLoop();
    }
  }
  await Promise.all(Array.from({ length: workers }, loop));
  return { sets, gets, stats: sys.stats() };
}

/** What get() returns for every key, as `writer:seq` (or null). */
export async function dump() {
  const out = new Array(keys.length);
  for (let i = 0; i < keys.length; i++) out[i] = versionOf(await sys.get(keys[i]));
  return out;
}

export function stats() {
  return sys.stats() ?? null;
}

export function memory() {
  sampleMemory();
  return { now: process.memoryUsage(), peak: { ...memPeak } };
}

export async function close() {
  clearInterval(sampler);
  await sys?.close();
  sys = undefined;
}
