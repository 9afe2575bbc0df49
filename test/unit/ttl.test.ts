import { describe, expect, it } from 'vitest';
import { manualClock } from '../helpers/clock.js';
import { makeCache } from '../helpers/factory.js';
import { mapRecord } from '../helpers/keyv-generation.js';

describe('lifetimes', () => {
  it('a memory copy never outlives the store copy it was read from', async () => {
    const clock = manualClock();
    const cache = makeCache({ clock });
    await cache.keyv.set('k', 'v', 10_000);
    expect(await cache.get('k')).toBe('v');
    expect(await cache.get('k')).toBe('v');
    expect(cache.stats().hits).toEqual({ memory: 1, store: 1 });
    // The store entry had at most 10 s left when it was read; memory must give it up by then.
    clock.advance(10_001);
    expect(await cache.get('k')).toBe('v');
    expect(cache.stats().hits).toEqual({ memory: 1, store: 2 });
  });

  it('a write with a ttl lives in memory for at most that ttl', async () => {
    const clock = manualClock();
    const cache = makeCache({ clock });
    await cache.set('k', 'v', { ttl: 60_000 });
    // The memory copy's life is what the store copy had left when memory was filled (the store's expiry
    // runs on the wall clock, a few ms of which pass during the write): well before the ttl it is there.
    clock.advance(59_000);
    expect(await cache.get('k')).toBe('v');
    expect(cache.stats().hits.memory).toBe(1);
    clock.advance(1_001);
    expect(await cache.get('k')).toBe('v');
    expect(cache.stats().hits).toEqual({ memory: 1, store: 1 });
  });

  it('the default ttl applies to both tiers, and ttl 0 on a call means no expiry', async () => {
    const cache = makeCache({ ttl: 60_000 });
    await cache.set('a', 1);
    await cache.set('b', 2, { ttl: 0 });
    const a = await cache.keyv.getRaw('a');
    const b = await cache.keyv.getRaw('b');
    expect(a?.expires).toBeGreaterThan(Date.now() + 59_000);
    expect(a?.expires).toBeLessThanOrEqual(Date.now() + 60_000);
    expect(b?.expires).toBeUndefined();
  });

  it('memory.ttl caps the memory lifetime of entries that live longer in the store', async () => {
    const clock = manualClock();
    const cache = makeCache({ clock, memory: { ttl: 100 } });
    await cache.set('k', 'v');
    clock.advance(99);
    expect(await cache.get('k')).toBe('v');
    clock.advance(2);
    expect(await cache.get('k')).toBe('v');
    expect(cache.stats().hits).toEqual({ memory: 1, store: 1 });
  });

  it('an entry already expired in the store is not kept in memory', async () => {
    const cache = makeCache();
    await cache.keyv.set('k', 'v', 1);
    const expires = (await cache.keyv.getRaw('k'))?.expires ?? 0;
    while (Date.now() <= expires) await new Promise((resolve) => setImmediate(resolve));
    expect(await cache.get('k')).toBeUndefined();
    expect(cache.stats().memorySize).toBe(0);
  });

  it('memory.max evicts the least recently used entries', async () => {
    const cache = makeCache({ memory: { max: 2 } });
    await cache.set('a', 1);
    await cache.set('b', 2);
    await cache.get('a');
    await cache.set('c', 3);
    expect(cache.stats().memorySize).toBe(2);
    await cache.get('a');
    await cache.get('c');
    expect(cache.stats().hits.memory).toBe(3);
    await cache.get('b');
    expect(cache.stats().hits.store).toBe(1);
  });

  it('memory.maxSize bounds the serialized bytes held in memory', async () => {
    const cache = makeCache({ memory: { max: 1_000, maxSize: 100 } });
    await cache.set('small', 'x'.repeat(10));
    await cache.set('big', 'y'.repeat(500));
    expect(cache.stats().memorySize).toBe(1);
    expect(await cache.get('big')).toBe('y'.repeat(500));
    expect(cache.stats().hits.store).toBe(1);
    for (let i = 0; i < 20; i++) await cache.set(`k${i}`, 'z'.repeat(20));
    expect(cache.stats().memorySize).toBeLessThanOrEqual(5);
  });
});

describe('per-call ttls', () => {
  it('a number where options are expected is the ttl, as in Keyv and cache-manager: the entry expires in both tiers', async () => {
    const clock = manualClock();
    const store = new Map<string, unknown>();
    const cache = makeCache<string>({ clock, store, namespace: 'positional' });
    await cache.set('k', 'v', 50);
    expect(await cache.getOrSet('g', () => 'loaded', 50)).toBe('loaded');
    const record = (key: string) => mapRecord<{ expires?: number }>(store, 'positional', key);
    for (const key of ['k', 'g']) {
      expect(record(key).expires).toBeGreaterThan(Date.now());
      expect(record(key).expires).toBeLessThanOrEqual(Date.now() + 50);
    }
    clock.advance(51);
    // Memory gave them up; the store's records expire on the Date.now() clock.
    expect(cache.peek('k')).toBeUndefined();
    expect(cache.peek('g')).toBeUndefined();
  });

  it('fractional ttls are rounded up to a whole millisecond, the same for every store', async () => {
    const store = new Map<string, unknown>();
    const cache = makeCache<string>({ store, namespace: 'fraction' });
    const before = Date.now();
    await cache.set('k', 'v', { ttl: 60_000.2 });
    const { expires } = mapRecord<{ expires: number }>(store, 'fraction', 'k');
    expect(Number.isInteger(expires)).toBe(true);
    expect(expires - before).toBeGreaterThanOrEqual(60_001);
  });

  it('misspelt per-call options and non-options are refused before anything is written', async () => {
    const store = new Map<string, unknown>();
    const cache = makeCache<string>({ store });
    await expect(cache.set('k', 'v', { tll: 5 } as never)).rejects.toThrow(/set: unknown option "tll" \(did you mean "ttl"\?\)/);
    await expect(cache.set('k', 'v', 'soon' as never)).rejects.toThrow(
      /set: options must be an object \{ ttl, grace \} or a ttl in milliseconds, got "soon"/,
    );
    await expect(cache.getOrSet('k', () => 'v', { TTL: 5 } as never)).rejects.toThrow(/getOrSet: unknown option "TTL"/);
    expect(store.size).toBe(0);
  });
});
