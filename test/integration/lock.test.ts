// One loader call across processes: real processes, a real Redis for the bus and the lock, another for
// the store, so the bus's Redis can hold locks while the store is shared.
import { afterEach, describe, expect, it } from 'vitest';
import { uniqueNamespace } from '../helpers/factory.js';
import { type Fixture, forkFixture } from '../helpers/fork-fixture.js';
import { useRedisServer } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';

interface Burst {
  values: string[];
  loaderCalls: number;
  lock: { acquired: number; waited: number; tookOver: number };
}

describe('getOrSet with lock: one loader call across processes', () => {
  const bus = useRedisServer();
  const storeServer = useRedisServer();
  const workers: Fixture[] = [];
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((w) => w.kill()));
  });

  async function start(namespace: string, lockTtl: number, onLoading: (pid: number) => void): Promise<Fixture[]> {
    const env = {
      REDIS_URL: bus.url,
      STORE_URL: storeServer.url,
      CACHE_NAMESPACE: namespace,
      LOCK_TTL: String(lockTtl),
      LOCK_WAIT: '10000',
    };
    const started = await Promise.all(
      [0, 1, 2].map(() =>
        forkFixture('lock-worker.mjs', env, 10_000, { onEvent: (m) => m.event === 'loading' && onLoading(m.pid as number) }),
      ),
    );
    workers.push(...started);
    await Promise.all(started.map((w) => w.call('ready')));
    return started;
  }

  it('3 processes x 50 concurrent calls on one cold key: the loader runs once, every caller gets its value', async () => {
    const loads: number[] = [];
    const procs = await start(uniqueNamespace('lock'), 10_000, (pid) => loads.push(pid));
    const bursts = await Promise.all(procs.map((p) => p.call<Burst>('burst', { key: 'cold', n: 50, loadMs: 300 })));
    expect(loads).toHaveLength(1);
    const values = bursts.flatMap((b) => b.values);
    expect(values).toHaveLength(150);
    expect(new Set(values)).toEqual(new Set([`loaded by ${loads[0]}`]));
    expect(bursts.reduce((n, b) => n + b.loaderCalls, 0)).toBe(1);
    const lock = bursts.reduce(
      (sum, b) => ({
        acquired: sum.acquired + b.lock.acquired,
        waited: sum.waited + b.lock.waited,
        tookOver: sum.tookOver + b.lock.tookOver,
      }),
      {
        acquired: 0,
        waited: 0,
        tookOver: 0,
      },
    );
    expect(lock).toEqual({ acquired: 1, waited: 2, tookOver: 0 });
  });

  it('the holder SIGKILLed mid-load: its lock expires, one waiter takes over (two loader calls in all), every surviving caller gets a value', async () => {
    const loads: number[] = [];
    const procs = await start(uniqueNamespace('lock-kill'), 800, (pid) => loads.push(pid));
    const [holder, ...others] = procs as [Fixture, Fixture, Fixture];
    const doomed = holder.call<Burst>('burst', { key: 'cold', n: 50, loadMs: 5_000 }).catch(() => undefined);
    await waitFor(() => loads.length === 1, 'the first process to start loading');
    expect(loads[0]).toBe(holder.pid);
    const survivors = Promise.all(others.map((p) => p.call<Burst>('burst', { key: 'cold', n: 50, loadMs: 200 })));
    await holder.kill();
    await doomed;
    const bursts = await survivors;
    expect(loads).toHaveLength(2);
    const taker = loads[1] as number;
    expect(others.map((p) => p.pid)).toContain(taker);
    const values = bursts.flatMap((b) => b.values);
    expect(values).toHaveLength(100);
    expect(new Set(values)).toEqual(new Set([`loaded by ${taker}`]));
    expect(bursts.reduce((n, b) => n + b.lock.tookOver, 0)).toBe(1);
  });

  it.each([
    ["the store's own SET NX", 0],
    ["a lock on the bus's Redis", 1_000],
  ])('add(): 3 processes x 20 adds of one key at the same moment, through %s: exactly one writes', async (_, grace) => {
    const procs = await start(uniqueNamespace('add'), 10_000, () => {});
    const winners = (await Promise.all(procs.map((p) => p.call<string[]>('adds', { key: 'once', n: 20, grace })))).flat();
    expect(winners).toHaveLength(1);
    for (const p of procs) expect(await p.call('get', { key: 'once' })).toBe(winners[0]);
  });
});
