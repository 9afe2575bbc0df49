// Child process of the propagation scenario. Process A writes; process B spins on `get(key)`
// (yielding to the event loop between reads, as a server between requests) until it returns
// the new value. Both stamp process.hrtime.bigint(), which is CLOCK_MONOTONIC and so shared by
// every process on the machine. For the raw pub/sub floor, A PUBLISHes the same payload and B
// stamps the moment its 'message' handler runs (while spinning the same loop, so both
// measurements share the same CPU contention).
import { Redis } from 'ioredis';
import { emit, yieldLoop } from './lib/ipc.mjs';
import { createSystem } from './lib/systems.mjs';
import { makeVersioned } from './lib/values.mjs';

let sys;
let raw;

export async function init({ system, redisUrl, namespace, role }) {
  if (system === 'raw-pubsub') {
    const channel = `${namespace}:raw`;
    raw = { channel, pub: new Redis(redisUrl), sub: new Redis(redisUrl), seq: -1, at: 0n };
    raw.sub.on('message', (_ch, msg) => {
      const at = process.hrtime.bigint();
      const { seq } = JSON.parse(msg);
      if (seq > raw.seq) {
        raw.seq = seq;
        raw.at = at;
      }
    });
    await raw.sub.subscribe(channel);
    await raw.pub.ping();
  } else {
    sys = await createSystem(system, { redisUrl, namespace });
    await sys.ready();
  }
  return { pid: process.pid, role };
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
  const deadline = process.hrtime.bigint() + BigInt(timeoutMs) * 1_000_000n;
  (async () => {
    for (;;) {
      if (raw) {
        if (raw.seq >= seq) return emit('seen', { seq, t: raw.at });
      } else {
        const v = await sys.get(key);
        if (v !== undefined && v.seq >= seq) return emit('seen', { seq, t: process.hrtime.bigint() });
      }
      if (process.hrtime.bigint() > deadline) return emit('seen', { seq, timeout: true });
      await yieldLoop();
    }
  })().catch((err) => emit('seen', { seq, error: String(err?.stack ?? err) }));
  return { before };
}

export function stats() {
  return sys?.stats() ?? null;
}

export async function close() {
  if (raw) {
    raw.sub.disconnect();
    raw.pub.disconnect();
  }
  await sys?.close();
  raw = undefined;
  sys = undefined;
}
