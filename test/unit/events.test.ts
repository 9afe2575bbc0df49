// Every event stamped with `at` and `instance`, and the 'expire' event: an entry found past its end of
// life on access, in memory or handed back by a store that keeps expired records. Memory lifetimes follow
// an injected clock and store expiry Date.now(), so the few waits here poll the wall clock.
import { describe, expect, it } from 'vitest';
import { BroadcastChannelTransport, type Clock, type SyncedCache } from '../../src/index.js';
import { ControlledStore } from '../helpers/controlled-store.js';
import { makeCache, uniqueNamespace } from '../helpers/factory.js';
import { waitFor } from '../helpers/wait.js';

function manualClock(): Clock & { advance(ms: number): void } {
  let now = 1_000_000;
  return {
    now: () => now,
    advance(ms: number) {
      now += ms;
    },
  };
}

async function wallClockPast(until: number): Promise<void> {
  while (Date.now() <= until) await new Promise((resolve) => setTimeout(resolve, 5));
}

/** The expire and miss events of `cache`, in order, as `expire k` / `miss k`. */
function reads(cache: SyncedCache<unknown>): string[] {
  const seen: string[] = [];
  cache.on('expire', (e) => seen.push(`expire ${e.key}`));
  cache.on('miss', (e) => seen.push(`miss ${e.key}`));
  return seen;
}

/** Writes `key` with `ttl` and lets it expire in both tiers' clocks. */
async function expire<V>(cache: SyncedCache<V>, clock: ReturnType<typeof manualClock>, key: string, ttl = 20): Promise<void> {
  await cache.set(key, 'v' as V, { ttl });
  // Read after the write, so past it the record's expiry (taken during the write) has passed too.
  await wallClockPast(Date.now() + ttl);
  clock.advance(ttl + 1);
}

describe('every event carries at and instance', () => {
  it('the instance id exists without a bus, is a UUID, and is the origin other caches see on the bus', async () => {
    const alone = makeCache();
    expect(alone.instanceId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(makeCache().instanceId).not.toBe(alone.instanceId);

    const namespace = uniqueNamespace('stamp');
    const transport = new BroadcastChannelTransport();
    const store = new Map();
    const a = makeCache({ namespace, store, transport });
    const b = makeCache({ namespace, store, transport });
    const ups: unknown[] = [];
    a.on('bus:up', (e) => ups.push(e));
    const invalidations: unknown[] = [];
    b.on('invalidate', (e) => invalidations.push(e));
    await waitFor(() => a.stats().bus === 'up' && b.stats().bus === 'up', 'buses up');
    expect(ups).toEqual([{ at: expect.any(Number), instance: a.instanceId }]);
    const before = Date.now();
    await a.set('k', 1);
    await waitFor(() => invalidations.length === 1, 'the invalidation at B');
    expect(invalidations[0]).toEqual({ keys: ['k'], origin: a.instanceId, at: expect.any(Number), instance: b.instanceId });
    expect((invalidations[0] as { at: number }).at).toBeGreaterThanOrEqual(before);
  });

  it('breaker and stale carry them too', async () => {
    const clock = manualClock();
    const store = new ControlledStore();
    const cache = makeCache<string>({ store, clock, grace: 60_000, circuitBreaker: { threshold: 1, cooldown: 60_000 } });
    const seen: unknown[] = [];
    cache.on('breaker', (e) => seen.push(['breaker', e]));
    cache.on('stale', (e) => seen.push(['stale', e]));
    await expire(cache, clock, 'k');
    store.fail('get');
    expect(await cache.get('k')).toBe('v');
    const stamp = { at: expect.any(Number), instance: cache.instanceId };
    expect(seen).toEqual([
      ['breaker', { state: 'open', ...stamp }],
      ['stale', { key: 'k', reason: 'store-error', ...stamp }],
    ]);
  });

  it('an expire listener added after removeAllListeners() is still called (the switches are kept)', async () => {
    const clock = manualClock();
    const cache = makeCache({ clock });
    cache.on('expire', () => {});
    cache.removeAllListeners();
    const seen = reads(cache);
    await expire(cache, clock, 'k');
    await cache.get('k');
    expect(seen).toEqual(['expire k', 'miss k']);
  });
});

describe("'expire': an entry found past its life on access", () => {
  it('a read past the ttl: one expire, then its miss, stamped; a store that keeps the record reports it on every read', async () => {
    const clock = manualClock();
    // A store that keeps expired records, as the SQL stores do (and Keyv 5's Map; Keyv 6's drops them).
    const cache = makeCache({ clock, store: new ControlledStore() });
    const payloads: unknown[] = [];
    cache.on('expire', (e) => payloads.push(e));
    const seen = reads(cache);
    await expire(cache, clock, 'k');
    expect(await cache.get('k')).toBeUndefined();
    expect(seen).toEqual(['expire k', 'miss k']);
    expect(payloads).toEqual([{ key: 'k', at: expect.any(Number), instance: cache.instanceId }]);
    // Memory dropped its copy; the store still holds the record past its life.
    expect(await cache.get('k')).toBeUndefined();
    expect(seen).toEqual(['expire k', 'miss k', 'expire k', 'miss k']);
  });

  it('memory finds its copy expired and the store has dropped the record itself (as Redis does): one expire, from memory', async () => {
    const clock = manualClock();
    const cache = makeCache({ clock });
    const seen = reads(cache);
    await expire(cache, clock, 'k');
    // Behind the cache's back, as a store that drops expired records does: nothing announced, memory untouched.
    await cache.keyv.delete('k');
    expect(await cache.get('k')).toBeUndefined();
    expect(seen).toEqual(['expire k', 'miss k']);
    // Memory no longer has it either: the next read is a plain miss.
    expect(await cache.get('k')).toBeUndefined();
    expect(seen).toEqual(['expire k', 'miss k', 'miss k']);
  });

  it('a key that was never there, or was deleted, is a miss and no expire', async () => {
    const cache = makeCache();
    const seen = reads(cache);
    await cache.get('never');
    await cache.set('gone', 1);
    await cache.delete('gone');
    await cache.get('gone');
    expect(seen).toEqual(['miss never', 'miss gone']);
  });

  it('a memory copy past a memory.ttl cap, while the store still holds the entry fresh, is no expire: a store hit', async () => {
    const clock = manualClock();
    const cache = makeCache({ clock, memory: { ttl: 10 } });
    const seen = reads(cache);
    await cache.set('k', 'v', { ttl: 60_000 });
    clock.advance(11);
    expect(await cache.get('k')).toBe('v');
    expect(seen).toEqual([]);
    expect(cache.stats().hits).toEqual({ memory: 0, store: 1 });
  });

  it('with grace, past the ttl is stale, not expired; past the grace it is expired', async () => {
    const clock = manualClock();
    const cache = makeCache({ clock, grace: 40, store: new ControlledStore() });
    const seen = reads(cache);
    await cache.set('k', 'v', { ttl: 20 });
    const start = Date.now();
    await wallClockPast(start + 20);
    clock.advance(21);
    expect(await cache.get('k')).toBeUndefined();
    expect(seen).toEqual(['miss k']);
    await wallClockPast(start + 60);
    clock.advance(40);
    expect(await cache.get('k')).toBeUndefined();
    expect(seen).toEqual(['miss k', 'expire k', 'miss k']);
  });

  it('getMany, getOrSet and a get after peek report it, once each', async () => {
    const clock = manualClock();
    const cache = makeCache({ clock });
    const seen = reads(cache);
    await expire(cache, clock, 'a');
    await cache.keyv.delete('a');
    await expire(cache, clock, 'b');
    await cache.keyv.delete('b');
    await expire(cache, clock, 'c');
    await cache.keyv.delete('c');
    expect(await cache.getMany(['a', 'x'])).toEqual([undefined, undefined]);
    expect(await cache.getOrSet('b', () => 'loaded')).toBe('loaded');
    expect(cache.peek('c')).toBeUndefined();
    expect(await cache.get('c')).toBeUndefined();
    expect(seen).toEqual(['expire a', 'miss a', 'miss x', 'expire b', 'miss b', 'expire c', 'miss c']);
  });

  it('listening to it changes nothing that is served, counted or kept', async () => {
    const run = async (listen: boolean) => {
      const clock = manualClock();
      const cache = makeCache({ clock, store: new ControlledStore() });
      const seen: string[] = [];
      if (listen) cache.on('expire', (e) => seen.push(e.key));
      const results: unknown[] = [];
      await cache.set('fresh', 1);
      await expire(cache, clock, 'k');
      await cache.set('other', 2, { ttl: 60_000 });
      results.push(await cache.get('k'), await cache.get('fresh'), await cache.getMany(['k', 'other']), cache.peek('k'));
      await cache.set('k', 3);
      results.push(await cache.get('k'));
      const { hits, misses } = cache.stats();
      return { results, hits, misses, memorySize: cache.stats().memorySize, seen };
    };
    const quiet = await run(false);
    const heard = await run(true);
    expect(heard.seen).toEqual(['k', 'k']);
    expect({ ...heard, seen: [] }).toEqual(quiet);
    expect(quiet.results).toEqual([undefined, 1, [undefined, 2], undefined, 3]);
  });

  it('a fresh memory hit reports nothing, and neither does an expired entry nobody reads', async () => {
    const clock = manualClock();
    const cache = makeCache({ clock });
    const seen = reads(cache);
    await cache.set('k', 1);
    await cache.set('short', 1, { ttl: 5 });
    clock.advance(6);
    for (let i = 0; i < 3; i++) expect(await cache.get('k')).toBe(1);
    await cache.clear();
    expect(seen).toEqual([]);
    expect(cache.stats().hits.memory).toBe(3);
  });
});
