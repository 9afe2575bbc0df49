// The stash shared by real processes: a real redis-server for the store (@keyv/redis, built from a URL)
// and another for the bus, and workers forked from test/fixtures/stash-worker.mjs, which load the built
// package (npm run build first).
import { KeyExistsError } from 'synced-cache';
import { afterEach, describe, expect, it, onTestFinished } from 'vitest';
import { Stash } from '../../src/stash/stash.js';
import { uniqueNamespace } from '../helpers/factory.js';
import { type Fixture, forkFixture } from '../helpers/fork-fixture.js';
import { useRedisServer } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';

describe('the stash across processes', () => {
  const bus = useRedisServer();
  const store = useRedisServer();
  const workers: Fixture[] = [];
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((w) => w.kill()));
  });

  async function start(namespace: string, count: number): Promise<Fixture[]> {
    const env = { REDIS_URL: bus.url, STORE_URL: store.url, CACHE_NAMESPACE: namespace };
    const started = await Promise.all(Array.from({ length: count }, () => forkFixture('stash-worker.mjs', env)));
    workers.push(...started);
    await Promise.all(started.map((w) => w.call('ready')));
    return started;
  }

  function local(namespace: string): Stash<unknown> {
    const stash = new Stash({ namespace, store: store.url, redis: bus.url });
    onTestFinished(() => stash.close());
    return stash;
  }

  it('3 processes x 4 concurrent pop loops take 300 pushed values: each exactly once, none left', async () => {
    const ns = uniqueNamespace('stash-pop');
    const pusher = local(ns);
    const pushed = Array.from({ length: 300 }, (_, i) => `value-${i}`);
    for (const value of pushed) await pusher.push(value);
    const procs = await start(ns, 3);
    const started = performance.now();
    const popped = await Promise.all(procs.map((p) => p.call<string[]>('popAll', { lanes: 4 })));
    const ms = performance.now() - started;
    const all = popped.flat();
    const counts = new Map<string, number>();
    for (const value of all) counts.set(value, (counts.get(value) ?? 0) + 1);
    expect([...counts].filter(([, n]) => n > 1)).toEqual([]);
    expect(all).toHaveLength(300);
    expect(new Set(all)).toEqual(new Set(pushed));
    // The pops really were concurrent: more than one process took a share.
    expect(popped.filter((share) => share.length > 0).length).toBeGreaterThan(1);
    expect(await pusher.peek()).toBeUndefined();
    expect(await pusher.ls()).toEqual([]);
    console.log(`stash: 3 processes popped 300 entries in ${Math.round(ms)} ms (shares ${popped.map((s) => s.length).join('/')})`);
  }, 60_000);

  it('LIFO across processes: what one pushed last, another peeks and pops first; the popper drops it from the pusher memory', async () => {
    const ns = uniqueNamespace('stash-lifo');
    const [a, b, c] = (await start(ns, 3)) as [Fixture, Fixture, Fixture];
    const first = await a.call<string>('push', { value: { from: 'a' } });
    const second = await b.call<string>('push', { value: { from: 'b' } });
    expect(second > first).toBe(true);
    // a reads its own entry, so its memory holds it.
    expect(await a.call('get', { key: first })).toEqual({ from: 'a' });
    expect(await c.call('peek')).toEqual({ from: 'b' });
    expect(await c.call('pop')).toEqual({ from: 'b' });
    expect(await c.call('pop')).toEqual({ from: 'a' });
    expect(await c.call('pop')).toBeUndefined();
    await waitFor(async () => (await a.call('get', { key: first })) === undefined, "the pop to drop a's memory copy");
    expect(await b.call('get', { key: second })).toBeUndefined();
  });

  it('set without force from 3 processes x 20 at once: exactly one writes, the 59 others get KeyExistsError', async () => {
    const ns = uniqueNamespace('stash-set');
    const procs = await start(ns, 3);
    const results = await Promise.all(procs.map((p) => p.call<{ wrote: string[]; refused: number }>('sets', { key: 'report', n: 20 })));
    const wrote = results.flatMap((r) => r.wrote);
    expect(wrote).toHaveLength(1);
    expect(results.reduce((n, r) => n + r.refused, 0)).toBe(59);
    const reader = local(ns);
    expect(await reader.get('report')).toBe(wrote[0]);
    await expect(reader.set('report', 'mine')).rejects.toBeInstanceOf(KeyExistsError);
    await reader.set('report', 'mine', { force: true });
    await waitFor(
      async () => (await (procs[0] as Fixture).call('get', { key: 'report' })) === 'mine',
      'the forced write to reach the other processes',
    );
  });

  it('an expired entry on the Redis store is skipped by peek and pop', async () => {
    const ns = uniqueNamespace('stash-ttl');
    const stash = local(ns);
    await stash.push('old');
    await stash.push('new', { ttl: 300 });
    expect(await stash.peek()).toBe('new');
    await waitFor(async () => (await stash.peek()) === 'old', 'the newest entry to expire', 10_000);
    expect(await stash.pop()).toBe('old');
    expect(await stash.pop()).toBeUndefined();
  });
});
