// Stale-if-error (grace), the loader's timeouts, refresh ahead, and getOrSet when the store or the key
// changes under it. Memory lifetimes follow an injected clock; store expiry follows Date.now(), so the
// few waits here poll the wall clock until an entry's fresh life is over.
import { describe, expect, it } from 'vitest';
import { LoaderTimeoutError, type StaleEvent, StoreError, StoreTimeoutError } from '../../src/index.js';
import { manualClock } from '../helpers/clock.js';
import { ControlledStore } from '../helpers/controlled-store.js';
import { makeCache, uniqueNamespace } from '../helpers/factory.js';
import { Hub } from '../helpers/hub.js';
import { mapRecord } from '../helpers/keyv-generation.js';
import { deferred, waitFor } from '../helpers/wait.js';

/** Waits until `ms` of wall-clock time have passed (store expiry is on Date.now()). */
async function wallClockPast(until: number): Promise<void> {
  while (Date.now() <= until) await new Promise((resolve) => setTimeout(resolve, 5));
}

function staleEvents(cache: { on(event: 'stale', listener: (e: StaleEvent) => void): unknown }): StaleEvent[] {
  const seen: StaleEvent[] = [];
  cache.on('stale', (e) => seen.push(e));
  return seen;
}

describe('grace: a stale copy answers when fresh data cannot be had', () => {
  it('get answers with the stale copy when the store fails, times out or its breaker is open, and says why', async () => {
    const clock = manualClock();
    const store = new ControlledStore();
    const cache = makeCache<string>({ store, clock, grace: 60_000, storeTimeout: 50, circuitBreaker: { threshold: 2, cooldown: 60_000 } });
    const events = staleEvents(cache);
    const until = Date.now() + 40;
    await cache.set('k', 'v1', { ttl: 40 });
    await wallClockPast(until);
    clock.advance(41);
    // Past its ttl, with the store up: a miss, as without grace.
    expect(await cache.get('k')).toBeUndefined();
    store.fail('get');
    expect(await cache.get('k')).toBe('v1');
    store.heal('get');
    store.hold('get', 10);
    expect(await cache.get('k')).toBe('v1');
    // Two failures opened the breaker.
    expect(await cache.get('k')).toBe('v1');
    expect(events).toEqual([
      { key: 'k', reason: 'store-error', at: expect.any(Number), instance: cache.instanceId },
      { key: 'k', reason: 'store-timeout', at: expect.any(Number), instance: cache.instanceId },
      { key: 'k', reason: 'store-unavailable', at: expect.any(Number), instance: cache.instanceId },
    ]);
    expect(cache.stats().stale).toEqual({
      'store-error': 1,
      'store-timeout': 1,
      'store-unavailable': 1,
      'loader-error': 0,
      'loader-timeout': 0,
    });
  });

  it('getOrSet answers with the stale copy when the store fails, without calling the loader', async () => {
    const clock = manualClock();
    const store = new ControlledStore();
    const cache = makeCache<string>({ store, clock, grace: 60_000, circuitBreaker: false });
    const events = staleEvents(cache);
    const until = Date.now() + 20;
    await cache.set('k', 'old', { ttl: 20 });
    await wallClockPast(until);
    clock.advance(21);
    store.fail('get');
    let calls = 0;
    expect(await cache.getOrSet('k', () => `new ${++calls}`)).toBe('old');
    expect(calls).toBe(0);
    expect(events).toEqual([{ key: 'k', reason: 'store-error', at: expect.any(Number), instance: cache.instanceId }]);
    // Without a stale copy, the loader answers (its value cannot be stored).
    expect(await cache.getOrSet('other', () => `new ${++calls}`)).toBe('new 1');
  });

  it('without grace, or once a key is deleted, overwritten or cleared (here or elsewhere), there is no stale copy', async () => {
    const clock = manualClock();
    const namespace = uniqueNamespace();
    const hub = new Hub();
    const store = new ControlledStore();
    const plainStore = new ControlledStore();
    const plain = makeCache<string>({ store: plainStore, clock, circuitBreaker: false });
    await plain.set('k', 'v', { ttl: 10 });
    const a = makeCache<string>({ namespace, store, clock, grace: 60_000, transport: hub.transport(), circuitBreaker: false });
    const b = makeCache<string>({ namespace, store, clock, grace: 60_000, transport: hub.transport(), circuitBreaker: false });
    await waitFor(() => a.stats().bus === 'up' && b.stats().bus === 'up', 'buses up');
    for (const key of ['deleted', 'overwritten', 'remote', 'cleared']) await a.set(key, 'old', { ttl: 10 });
    clock.advance(11);
    await a.delete('deleted');
    await a.set('overwritten', 'new', { ttl: 10, grace: 0 });
    await b.delete('remote');
    await waitFor(() => a.stats().invalidations.received > 0, 'the remote delete to arrive');
    clock.advance(11);
    const failing = new Error('store down');
    plainStore.fail('get', failing);
    await expect(plain.get('k')).rejects.toThrow(StoreError);
    store.fail('get', failing);
    for (const key of ['deleted', 'overwritten', 'remote']) await expect(a.get(key)).rejects.toThrow(StoreError);
    expect(await a.get('cleared')).toBe('old');
    store.heal('get');
    await b.clear();
    await waitFor(() => a.stats().flushes.clear > 0, 'the remote clear to arrive');
    store.fail('get', failing);
    await expect(a.get('cleared')).rejects.toThrow(StoreError);
  });

  it('getOrSet falls back on the stale store copy when the loader fails, and gives it to the loader', async () => {
    const store = new Map<string, unknown>();
    const namespace = uniqueNamespace();
    const writer = makeCache<string>({ store, namespace, grace: 60_000 });
    const until = Date.now() + 30;
    await writer.set('k', 'old', { ttl: 30 });
    await wallClockPast(until);
    // Another process, with nothing in memory, reads the store's copy: stale within its grace.
    const reader = makeCache<string>({ store, namespace, grace: 60_000 });
    const events = staleEvents(reader);
    const seen: unknown[] = [];
    const value = await reader.getOrSet('k', (_key, { stale }) => {
      seen.push(stale);
      throw new Error('source down');
    });
    expect(value).toBe('old');
    expect(seen).toEqual(['old']);
    expect(events).toEqual([{ key: 'k', reason: 'loader-error', at: expect.any(Number), instance: reader.instanceId }]);
    // A loader that answers replaces it.
    expect(await reader.getOrSet('k', () => 'new', { ttl: 60_000 })).toBe('new');
    expect(await makeCache<string>({ store, namespace }).get('k')).toBe('new');
  });

  it('a plain Keyv reader still reads a value kept with grace, until its grace ends', async () => {
    const store = new Map<string, unknown>();
    const cache = makeCache<string>({ store, namespace: 'plain-reader', grace: 60_000 });
    await cache.set('k', 'v', { ttl: 1_000 });
    const record = mapRecord<{ value: string; expires: number; fresh: number }>(store, 'plain-reader', 'k');
    expect(record.value).toBe('v');
    expect(record.expires - record.fresh).toBe(60_000);
    expect(await cache.keyv.get('k')).toBe('v');
  });
});

describe('loader timeouts', () => {
  it('past softTimeout a stale value answers; the loader goes on and its result is stored when it settles', async () => {
    const store = new Map<string, unknown>();
    const namespace = uniqueNamespace();
    const cache = makeCache<string>({ store, namespace, grace: 60_000, softTimeout: 30 });
    const events = staleEvents(cache);
    const until = Date.now() + 20;
    await cache.set('k', 'old', { ttl: 20 });
    await wallClockPast(until);
    const slow = deferred<string>();
    const started = performance.now();
    expect(await cache.getOrSet('k', () => slow.promise, { ttl: 60_000 })).toBe('old');
    expect(performance.now() - started).toBeLessThan(30 + 300);
    expect(events).toEqual([{ key: 'k', reason: 'loader-timeout', at: expect.any(Number), instance: cache.instanceId }]);
    slow.resolve('new');
    await waitFor(async () => (await makeCache<string>({ store, namespace }).get('k')) === 'new', 'the late result to be stored');
  });

  it('past hardTimeout the signal is aborted and the call rejects with LoaderTimeoutError, or answers with a stale value', async () => {
    const cache = makeCache<string>({ hardTimeout: 40 });
    let signal: AbortSignal | undefined;
    const error = await cache
      .getOrSet('k', (_key, context) => {
        signal = context.signal;
        return new Promise<string>(() => {});
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LoaderTimeoutError);
    expect(error).toMatchObject({ code: 'ERR_SYNCED_CACHE_LOADER_TIMEOUT', key: 'k', timeout: 40 });
    expect(signal?.aborted).toBe(true);
    expect(signal?.reason).toBe(error);

    const store = new Map<string, unknown>();
    const withStale = makeCache<string>({ store, grace: 60_000 });
    const until = Date.now() + 20;
    await withStale.set('s', 'old', { ttl: 20 });
    await wallClockPast(until);
    const events = staleEvents(withStale);
    expect(await withStale.getOrSet('s', () => new Promise<string>(() => {}), { hardTimeout: 40 })).toBe('old');
    expect(events).toEqual([{ key: 's', reason: 'loader-timeout', at: expect.any(Number), instance: withStale.instanceId }]);
  });

  it('a loader that throws synchronously fails like one that rejects; one that answers undefined stores nothing', async () => {
    const store = new Map<string, unknown>();
    const cache = makeCache<string>({ store });
    await expect(
      cache.getOrSet('k', () => {
        throw new Error('sync failure');
      }),
    ).rejects.toThrow('sync failure');
    expect(await cache.getOrSet('u', () => undefined)).toBeUndefined();
    expect(store.size).toBe(0);
  });
});

describe('refreshAhead', () => {
  it('a hit older than the fraction answers at once and refreshes in the background, once per key at a time', async () => {
    const clock = manualClock();
    const cache = makeCache<number>({ clock, refreshAhead: 0.5 });
    let calls = 0;
    const next = deferred<number>();
    const load = () => (++calls === 1 ? 1 : next.promise);
    expect(await cache.getOrSet('k', load, { ttl: 100 })).toBe(1);
    expect(await cache.getOrSet('k', load, { ttl: 100 })).toBe(1);
    expect(calls).toBe(1);
    clock.advance(60);
    expect(await cache.getOrSet('k', load, { ttl: 100 })).toBe(1);
    expect(await cache.getOrSet('k', load, { ttl: 100 })).toBe(1);
    expect(calls).toBe(2);
    expect(cache.stats().refreshes).toBe(1);
    next.resolve(2);
    await waitFor(() => cache.peek('k') === 2, 'the refreshed value');
  });
});

describe('getOrSet when the store fails or the key changes', () => {
  it('with the store frozen, answers from the loader within storeTimeout plus the loader time', async () => {
    const store = new ControlledStore();
    const cache = makeCache<string>({ store, storeTimeout: 50, circuitBreaker: false });
    store.hold('get', 10);
    store.hold('set', 10);
    const errors: Error[] = [];
    cache.on('error', (e) => errors.push(e));
    const started = performance.now();
    expect(await cache.getOrSet('k', async () => 'from the source')).toBe('from the source');
    // Bounded (the exact bound, no second wait for the write, is test/unit/issue10-repros.test.ts's, on faked timers).
    expect(performance.now() - started).toBeLessThan(50 + 50 + 400);
    await waitFor(() => errors.length === 1, 'the timed-out write to be reported');
    expect(errors).toEqual([expect.any(StoreTimeoutError)]);
    expect(cache.peek('k')).toBeUndefined();
  });

  it('a delete that lands during a load wins; a delete before the load does not stop it (local, step by step)', async () => {
    const store = new Map<string, unknown>();
    const namespace = uniqueNamespace();
    const cache = makeCache<string>({ store, namespace });
    await cache.set('k', 'old');
    // Order 1: the load begins, the delete completes, the load finishes: returned, not stored.
    await cache.delete('k');
    const slow = deferred<string>();
    let started = false;
    const loading = cache.getOrSet('k', () => {
      started = true;
      return slow.promise;
    });
    await waitFor(() => started, 'the loader to start');
    await cache.set('k', 'set during the load');
    await cache.delete('k');
    slow.resolve('loaded before the delete');
    expect(await loading).toBe('loaded before the delete');
    expect(store.has(`${namespace}:k`)).toBe(false);
    // Order 2: the delete completes, then the load begins: stored.
    expect(await cache.getOrSet('k', () => 'loaded after the delete')).toBe('loaded after the delete');
    expect(await makeCache<string>({ store, namespace }).get('k')).toBe('loaded after the delete');
  });

  it('a delete made by another process during a load wins, through its invalidation', async () => {
    const store = new Map<string, unknown>();
    const namespace = uniqueNamespace();
    const hub = new Hub();
    const a = makeCache<string>({ store, namespace, transport: hub.transport() });
    const b = makeCache<string>({ store, namespace, transport: hub.transport() });
    await waitFor(() => a.stats().bus === 'up' && b.stats().bus === 'up', 'buses up');
    const slow = deferred<string>();
    let started = false;
    const loading = a.getOrSet('k', () => {
      started = true;
      return slow.promise;
    });
    await waitFor(() => started, 'the loader to start');
    await b.delete('k');
    await waitFor(() => a.stats().invalidations.received > 0, 'the invalidation to reach a');
    slow.resolve('stale by now');
    expect(await loading).toBe('stale by now');
    expect(await makeCache<string>({ store, namespace }).get('k')).toBeUndefined();
  });

  it('per-call options are checked before anything is touched', async () => {
    const cache = makeCache<string>();
    const loader = () => 'v';
    await expect(cache.getOrSet('k', loader, { softTimeout: 10, hardTimeout: 5 })).rejects.toThrow(
      /option "softTimeout" \(10 ms\) must be less than "hardTimeout" \(5 ms\)/,
    );
    await expect(cache.getOrSet('k', loader, { refreshAhead: 2 })).rejects.toThrow(RangeError);
    await expect(cache.getOrSet('k', loader, { lock: true })).rejects.toThrow(/option "lock" needs a Redis bus/);
    await expect(cache.getOrSet('k', loader, { grace: -1 })).rejects.toThrow(/option "grace" must be a finite number of milliseconds >= 0/);
    expect(await cache.get('k')).toBeUndefined();
  });
});
