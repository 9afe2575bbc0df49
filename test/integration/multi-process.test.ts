import KeyvRedis from '@keyv/redis';
import Keyv from 'keyv';
import { afterAll, describe, expect, it, onTestFinished } from 'vitest';
import type { SyncedCacheStats } from '../../src/index.js';
import { uniqueNamespace } from '../helpers/factory.js';
import { useRedisServer } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';
import { startWorker, type Worker } from '../helpers/worker.js';

// Every test here runs real, separate OS processes, each with its own SyncedCache from the built
// package, sharing one private redis-server as both the store (@keyv/redis) and the bus.

describe('coherence across real processes', () => {
  const redis = useRedisServer();
  const stores: Keyv[] = [];
  afterAll(async () => {
    for (const store of stores) await store.disconnect();
  });

  async function workers(n: number, namespace: string, jitterMs = 0): Promise<Worker[]> {
    const started = await Promise.all(Array.from({ length: n }, () => startWorker()));
    onTestFinished(async () => {
      await Promise.all(started.map((w) => w.call('close').catch(() => {})));
      await Promise.all(started.map((w) => w.kill()));
    });
    await Promise.all(
      started.map((w) => w.call('init', { namespace, redisUrl: redis.url, heartbeat: { interval: 200, timeout: 400 }, jitterMs })),
    );
    return started;
  }

  function storeOf(namespace: string): Keyv {
    const store = new Keyv({ store: new KeyvRedis(redis.url), namespace });
    stores.push(store);
    return store;
  }

  const stats = (w: Worker) => w.call<SyncedCacheStats>('stats');

  it("after set() resolves in A, B's next get() once B has the message returns the new value", async () => {
    const namespace = uniqueNamespace('mp');
    const [a, b] = (await workers(2, namespace)) as [Worker, Worker];
    await a.call('set', { key: 'k', value: { v: 1 } });
    await waitFor(async () => (await stats(b)).invalidations.received === 1, 'B to receive');
    expect(await b.call('get', { key: 'k' })).toEqual({ v: 1 });
    expect(await b.call('get', { key: 'k' })).toEqual({ v: 1 });
    expect((await stats(b)).hits.memory).toBe(1);
    for (let i = 2; i <= 20; i++) {
      await a.call('set', { key: 'k', value: { v: i } });
      await waitFor(async () => (await stats(b)).invalidations.received === i, 'B to receive');
      expect(await b.call('get', { key: 'k' })).toEqual({ v: i });
    }
    const lag = (await stats(b)).lag;
    expect(lag.count).toBe(20);
    // On loopback the message arrives within milliseconds; the bound here only catches a broken bus.
    expect(lag.p50).toBeLessThan(50);
  });

  it("a read in flight in B when A's invalidation reaches B returns the old value but does not keep it", async () => {
    const namespace = uniqueNamespace('mp');
    const [a, b] = (await workers(2, namespace)) as [Worker, Worker];
    await a.call('set', { key: 'k', value: 'old' });
    await waitFor(async () => (await stats(b)).invalidations.received === 1, 'B to receive');
    await b.call('holdNextGet');
    const held = b.next('held');
    const read = b.call('get', { key: 'k' });
    await held;
    await a.call('set', { key: 'k', value: 'new' });
    await waitFor(async () => (await stats(b)).invalidations.received === 2, 'B to receive the invalidation');
    await b.call('releaseGet');
    expect(await read).toBe('old');
    expect(await b.call('get', { key: 'k' })).toBe('new');
    expect(await b.call('get', { key: 'k' })).toBe('new');
  });

  it('clear() in one process empties memory in every process of the namespace, and no other', async () => {
    const namespace = uniqueNamespace('mp');
    const otherNamespace = uniqueNamespace('mp-other');
    const [a, b, c] = (await workers(3, namespace)) as [Worker, Worker, Worker];
    const [other] = (await workers(1, otherNamespace)) as [Worker];
    await a.call('set', { key: 'k', value: 1 });
    await other.call('set', { key: 'k', value: 'other' });
    await waitFor(
      async () => (await stats(b)).invalidations.received === 1 && (await stats(c)).invalidations.received === 1,
      'B and C to receive',
    );
    for (const w of [b, c]) expect(await w.call('get', { key: 'k' })).toBe(1);
    expect(await other.call('get', { key: 'k' })).toBe('other');
    await a.call('clear');
    await waitFor(async () => (await stats(b)).flushes.clear === 1 && (await stats(c)).flushes.clear === 1, 'B and C to apply the clear');
    for (const w of [a, b, c]) {
      expect((await stats(w)).memorySize).toBe(0);
      expect(await w.call('get', { key: 'k' })).toBeUndefined();
    }
    expect(await other.call('get', { key: 'k' })).toBe('other');
    expect((await stats(other)).flushes.clear).toBe(0);
    expect(await storeOf(otherNamespace).get('k')).toBe('other');
  });

  it('randomized: 3 processes x 8 loops of get/set/delete, then every process agrees with the store on every key', async () => {
    const namespace = uniqueNamespace('mp');
    // Store replies are delayed at random by up to 4 ms, so reads and writes overlap across processes.
    const ws = await workers(3, namespace, 4);
    const keys = Array.from({ length: 6 }, (_, i) => `key-${i}`);
    const store = storeOf(namespace);
    // Every end of a burst is a fresh chance for a late read to leave a stale copy behind, so the
    // load comes in several bursts, each followed by the check.
    for (let round = 0; round < 5; round++) {
      const counts = await Promise.all(
        ws.map((w, i) => w.call<Record<string, number>>('randomLoad', { keys, durationMs: 600, loops: 8, writer: i })),
      );
      for (const c of counts) {
        expect(c.errors).toBe(0);
        expect(c.set).toBeGreaterThan(10);
      }
      // Settled: every process has received every key the others sent.
      const settled = async () => {
        const all = await Promise.all(ws.map(stats));
        const sent = all.map((s) => s.invalidations.sent);
        const total = sent.reduce((x, y) => x + y, 0);
        return all.every((s, i) => s.invalidations.received === total - (sent[i] as number));
      };
      await waitFor(settled, 'all invalidations to arrive', 10_000);
      // IPC carries undefined inside an array as null.
      const truth = (await Promise.all(keys.map((key) => store.get(key)))).map((v) => v ?? null);
      for (const w of ws) expect(await w.call('getMany', { keys }), `round ${round}, worker ${w.pid}`).toEqual(truth);
    }
    const memory = await Promise.all(ws.map(async (w) => (await stats(w)).memorySize));
    expect(memory.some((n) => n > 0)).toBe(true);
    // And still after a while: nothing late undoes it.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const truth = (await Promise.all(keys.map((key) => store.get(key)))).map((v) => v ?? null);
    for (const w of ws) expect(await w.call('getMany', { keys })).toEqual(truth);
  }, 40_000);
});
