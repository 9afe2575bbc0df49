// Child process of the propagation scenario. Process A writes; process B finds out when its
// get(key) returns the new value. Both stamp process.hrtime.bigint(), which is CLOCK_MONOTONIC
// and so shared by every process on the machine.
//
// B must not spin on get() for the whole sample: on this 2-core VM a spinning reader takes a
// core from Redis and the writer and inflates every tail (p99 of raw pub/sub goes from ~0.5 ms
// to ~3 ms). So B sleeps in the event loop like a server between requests, and a spare
// connection PSUBSCRIBEd to every channel wakes it whenever anything is published: B then reads
// get(key) every event-loop turn for up to 20 ms, until it returns the new value. (Redis
// delivers to channel subscribers before pattern subscribers, so the system's own subscriber
// gets the message first.) A slow 5 ms check catches a system that would update B any other way;
// the samples it finds are counted.
//
// For the raw pub/sub floor, A PUBLISHes the same payload and B stamps its 'message' handler.
import { Redis } from 'ioredis';
import { emit, yieldLoop } from './lib/ipc.mjs';
import { forEachConcurrent } from './lib/load.mjs';
import { createSystem } from './lib/systems.mjs';
import { makeValue, makeVersioned } from './lib/values.mjs';

const BURST_NS = 20_000_000n;

let sys;
let raw;
let sniffer;
let fallback;
let watching;
let spinning = false;
let foundByFallback = 0;

export async function init({ system, redisUrl, namespace, role }) {
  if (system === 'raw-pubsub') {
    const channel = `${namespace}:raw`;
    raw = { channel, pub: new Redis(redisUrl), sub: new Redis(redisUrl), seq: -1 };
    raw.sub.on('message', (_ch, msg) => {
      const at = process.hrtime.bigint();
      const { seq } = JSON.parse(msg);
      if (seq > raw.seq) raw.seq = seq;
      if (watching && seq >= watching.seq) {
        const w = watching;
        watching = undefined;
        emit('seen', { seq: w.seq, t: at });
      }
    });
    await raw.sub.subscribe(channel);
    await raw.pub.ping();
  } else {
    sys = await createSystem(system, { redisUrl, namespace });
    await sys.ready();
    if (role === 'B') {
      sniffer = new Redis(redisUrl);
      sniffer.on('pmessage', () => {
        if (watching && watching.sniffedAt === undefined) watching.sniffedAt = process.hrtime.bigint();
        kick(true);
      });
      await sniffer.psubscribe('*');
      fallback = setInterval(() => kick(false), 5);
    }
  }
  return { pid: process.pid, role };
}

function kick(burst) {
  if (watching === undefined || spinning) return;
  spinning = true;
  check(burst)
    .catch((err) => {
      const w = watching;
      watching = undefined;
      if (w) emit('seen', { seq: w.seq, error: String(err?.stack ?? err) });
    })
    .finally(() => {
      spinning = false;
    });
}

async function check(burst) {
  const until = process.hrtime.bigint() + BURST_NS;
  for (;;) {
    const w = watching;
    if (w === undefined) return;
    const v = await sys.get(w.key);
    const now = process.hrtime.bigint();
    if (v !== undefined && v.seq >= w.seq) {
      watching = undefined;
      if (!burst) foundByFallback++;
      emit('seen', { seq: w.seq, t: now, sniffedAt: w.sniffedAt });
      return;
    }
    if (now > w.deadline) {
      watching = undefined;
      emit('seen', { seq: w.seq, timeout: true });
      return;
    }
    if (!burst || now > until) return;
    await yieldLoop();
  }
}

/**
 * Fills the memory tier with `count` other keys (A writes them, B reads them), as a warm cache
 * would be. Without them the measured key is the only entry, and in lru-cache deleting the
 * only entry clears the whole cache, which costs O(max) (it refills its arrays): an artifact of
 * a one-key benchmark, not of propagation.
 */
export async function prefill(role, count) {
  if (raw) return;
  const keys = Array.from({ length: count }, (_, i) => `bg:${i}`);
  if (role === 'A') await forEachConcurrent(count, 64, (i) => sys.set(keys[i], makeValue(i)));
  else for (const k of keys) await sys.get(k);
}

const timings = new Map();
let chain = Promise.resolve();

/**
 * Process A, posted without a reply (so nothing else wakes up while the write propagates):
 * writes after the previous write has resolved, and keeps when set() started and resolved.
 */
export function postWrite(key, seq) {
  chain = chain.then(async () => {
    timings.set(seq, await write(key, seq));
  });
  return chain;
}

/** Process A: the start and end of the posted writes, by seq. */
export function takeTimings() {
  const out = Object.fromEntries(timings);
  timings.clear();
  return out;
}

/** Process A: writes `{ writer: 'A', seq }` and reports when set() started and resolved. */
export async function write(key, seq) {
  const value = makeVersioned('A', seq);
  if (raw) {
    const payload = JSON.stringify(value);
    const t0 = process.hrtime.bigint();
    await raw.pub.publish(raw.channel, payload);
    return { t0, t1: process.hrtime.bigint() };
  }
  const t0 = process.hrtime.bigint();
  await sys.set(key, value);
  return { t0, t1: process.hrtime.bigint() };
}

/** Process B: what get(key) returns now (memory, normally). */
export async function peek(key) {
  if (raw) return raw.seq;
  const v = await sys.get(key);
  return v?.seq ?? null;
}

/**
 * Process B: resolves once armed; emits 'seen' `{ seq, t }` when get(key) returns seq or later,
 * or `{ seq, timeout: true }` after `timeoutMs`.
 */
export async function watch(key, seq, timeoutMs) {
  const before = await peek(key);
  if (raw && raw.seq >= seq) throw new Error(`raw seq ${seq} arrived before the watch`);
  watching = { key, seq, deadline: process.hrtime.bigint() + BigInt(timeoutMs) * 1_000_000n };
  return { before };
}

export function stats() {
  return { system: sys?.stats() ?? null, foundByFallback };
}

export async function close() {
  clearInterval(fallback);
  sniffer?.disconnect();
  if (raw) {
    raw.sub.disconnect();
    raw.pub.disconnect();
  }
  await sys?.close();
  raw = undefined;
  sys = undefined;
  sniffer = undefined;
}
