import Keyv from 'keyv';
import { describe, expect, it, vi } from 'vitest';
import { BroadcastChannelTransport, CacheClosedError, StoreError } from '../../src/index.js';
import { ControlledStore } from '../helpers/controlled-store.js';
import { makeCache, uniqueNamespace } from '../helpers/factory.js';
import { KEYV_GENERATION } from '../helpers/keyv-generation.js';
import { waitFor } from '../helpers/wait.js';

describe('reads and writes', () => {
  it('serves a written value from memory, and a stored one from the store once', async () => {
    const cache = makeCache<{ n: number }>();
    await cache.set('a', { n: 1 });
    expect(await cache.get('a')).toEqual({ n: 1 });
    expect(cache.stats().hits).toEqual({ memory: 1, store: 0 });
    await cache.keyv.set('b', { n: 2 });
    expect(await cache.get('b')).toEqual({ n: 2 });
    expect(await cache.get('b')).toEqual({ n: 2 });
    expect(cache.stats().hits).toEqual({ memory: 2, store: 1 });
    expect(await cache.get('missing')).toBeUndefined();
    expect(cache.stats().misses).toBe(1);
  });

  it.each([0, '', false, null])('stores the falsy value %o, hits it in memory and round-trips it through the store', async (value) => {
    const store = new Map();
    const cache = makeCache({ store, namespace: 'falsy' });
    await cache.set('k', value);
    expect(await cache.get('k')).toBe(value);
    expect(cache.stats().hits.memory).toBe(1);
    expect(await cache.has('k')).toBe(true);
    const fresh = makeCache({ store, namespace: 'falsy' });
    expect(await fresh.get('k')).toBe(value);
    expect(fresh.stats().hits.store).toBe(1);
    expect(await fresh.get('k')).toBe(value);
    expect(fresh.stats().hits.memory).toBe(1);
  });

  it('deletes, reports whether the key existed, and has() follows', async () => {
    const cache = makeCache();
    await cache.set('a', 1);
    expect(await cache.delete('a')).toBe(true);
    expect(await cache.get('a')).toBeUndefined();
    expect(await cache.has('a')).toBe(false);
    expect(await cache.delete('a')).toBe(false);
  });

  it('getMany aligns with keys and reads all misses in one store call; setMany and deleteMany', async () => {
    const store = new ControlledStore();
    const cache = makeCache<number>({ store });
    await cache.setMany([
      { key: 'a', value: 1 },
      { key: 'b', value: 2 },
    ]);
    await cache.keyv.set('c', 3);
    expect(await cache.getMany(['a', 'x', 'c', 'b'])).toEqual([1, undefined, 3, 2]);
    expect(cache.stats().hits).toEqual({ memory: 2, store: 1 });
    expect(await cache.getMany(['c'])).toEqual([3]);
    // Misses are real entries, not holes: for...in and forEach must see them (Keyv walks with for...in).
    const misses = await cache.getMany(['x', 'y']);
    expect(Object.keys(misses)).toEqual(['0', '1']);
    expect(cache.stats().hits.memory).toBe(3);
    expect(await cache.deleteMany(['a', 'b'])).toBe(true);
    expect(await cache.getMany(['a', 'b', 'c'])).toEqual([undefined, undefined, 3]);
  });

  it('clear empties the namespace in both tiers', async () => {
    const cache = makeCache();
    await cache.set('a', 1);
    await cache.clear();
    expect(await cache.get('a')).toBeUndefined();
    expect(await cache.keyv.get('a')).toBeUndefined();
    expect(cache.stats().flushes.clear).toBe(1);
  });
});

describe('peek', () => {
  it('answers from trusted memory only, synchronously, and never reads the store', async () => {
    const store = new ControlledStore();
    const cache = makeCache<number>({ store });
    await cache.set('a', 1);
    await cache.keyv.set('b', 2);
    const reads = store.calls.get;
    expect(cache.peek('a')).toBe(1);
    expect(cache.peek('b')).toBeUndefined();
    expect(store.calls.get).toBe(reads);
    expect(cache.stats().hits.memory).toBe(1);
    await cache.close();
    expect(cache.peek('a')).toBeUndefined();
  });
});

describe('keys', () => {
  it.each([
    [undefined, /get: key must be a string, got undefined/],
    [42, /get: key must be a string, got number/],
    [null, /get: key must be a string, got null/],
    ['', /get: key must not be empty/],
  ])('rejects %o with a TypeError', async (key, message) => {
    const cache = makeCache();
    await expect(cache.get(key as never)).rejects.toThrow(TypeError);
    await expect(cache.get(key as never)).rejects.toThrow(message);
    await expect(cache.set(key as never, 1)).rejects.toThrow(TypeError);
    await expect(cache.delete(key as never)).rejects.toThrow(TypeError);
    await expect(cache.getMany([key as never])).rejects.toThrow(TypeError);
  });

  it.each(['__proto__', 'constructor', 'hasOwnProperty', 'x'.repeat(10_240)])('treats %s as an ordinary key', async (key) => {
    const store = new Map();
    const cache = makeCache({ store, namespace: 'keys' });
    await cache.set(key, { ok: key.length });
    expect(await cache.get(key)).toEqual({ ok: key.length });
    const fresh = makeCache({ store, namespace: 'keys' });
    expect(await fresh.get(key)).toEqual({ ok: key.length });
    expect(await fresh.get('other')).toBeUndefined();
  });

  it('agrees with Keyv on whether "namespace:key" and "key" are one store entry (Keyv 5: one; Keyv 6: two)', async () => {
    const cache = makeCache({ namespace: 'ns' });
    await cache.set('a', 1);
    await cache.set('ns:a', 2);
    const one = KEYV_GENERATION === 5;
    expect(await cache.get('a')).toBe(one ? 2 : 1);
    expect(await cache.keyv.get('a')).toBe(one ? 2 : 1);
    expect(await cache.keyv.get('ns:a')).toBe(2);
  });
});

describe('bad values change nothing', () => {
  const circular: Record<string, unknown> = {};
  circular.self = circular;
  const holey: string[] = [];
  holey[1] = 'x';
  it.each([
    ['undefined', undefined, /cannot set key "k": undefined is not a value/],
    ['a function', () => 1, /cannot set key "k": the value is a function, which cannot be stored/],
    ['a symbol', Symbol('s'), /cannot set key "k": the value is a symbol, which cannot be stored/],
    ['a BigInt', 10n, /cannot set key "k": the value is a bigint, which JSON cannot store/],
    ['a nested BigInt', { n: 10n }, /cannot set key "k": value.n is a bigint, which JSON cannot store/],
    ['a circular object', circular, /cannot set key "k": value.self is circular/],
    ['NaN', Number.NaN, /cannot set key "k": the value is NaN, which JSON stores as null/],
    // What Keyv's serializer writes for these is not what comes back: every other process would read
    // something else than the writer keeps in memory (or, for a symbol, an entry no process can read).
    ['a symbol in an object', { state: Symbol('s') }, /cannot set key "k": value.state is a symbol/],
    ['an array with a hole', holey, /cannot set key "k": the value has a hole at index 0/],
    ['a function in an array', ['x', () => 1], /cannot set key "k": value\[1\] is a function/],
    ['a boxed number', new Number(5), /cannot set key "k": the value is a Number/],
    ['a Map', new Map([['a', 1]]), /cannot set key "k": the value is a Map, .*; store Object.fromEntries\(map\)/],
    ['a Set', { s: new Set([1]) }, /cannot set key "k": value.s is a Set/],
    ['an Error', new Error('x'), /cannot set key "k": the value is a Error/],
    ['a RegExp', /x/, /cannot set key "k": the value is a RegExp/],
    ['a Date', { when: new Date(0) }, /cannot set key "k": value.when is a Date, .*; store date.toISOString\(\)/],
    ['a Uint8Array', new Uint8Array([1]), /cannot set key "k": the value is a Uint8Array/],
    ['a class instance', new (class Point {})(), /cannot set key "k": the value is a Point/],
    ['a nested NaN', { n: [Number.NaN, 1] }, /cannot set key "k": value.n\[0\] is NaN/],
  ])('%s is rejected with a TypeError naming the key', async (_, value, message) => {
    const store = new ControlledStore();
    const cache = makeCache({ store });
    await cache.set('k', 'before');
    const writes = store.calls.set;
    await expect(cache.set('k', value as never)).rejects.toThrow(TypeError);
    await expect(cache.set('k', value as never)).rejects.toThrow(message);
    expect(store.calls.set).toBe(writes);
    expect(await cache.get('k')).toBe('before');
    expect(cache.stats().hits.memory).toBe(1);
    await expect(
      cache.setMany([
        { key: 'z', value: 1 },
        { key: 'k', value: value as never },
      ]),
    ).rejects.toThrow(TypeError);
    expect(await cache.keyv.get('z')).toBeUndefined();
  });

  it('rejects a bad per-call ttl, naming the key', async () => {
    const cache = makeCache();
    await expect(cache.set('k', 1, { ttl: -1 })).rejects.toThrow(RangeError);
    await expect(cache.set('k', 1, { ttl: -1 })).rejects.toThrow(/invalid ttl for key "k": must be a finite number/);
    expect(await cache.get('k')).toBeUndefined();
  });
});

describe('Keyv interoperability', () => {
  it('a value written by the cache is read by plain Keyv in the same namespace, and the reverse', async () => {
    const store = new Map();
    const cache = makeCache({ store, namespace: 'users' });
    const plain = new Keyv({ store, namespace: 'users' });
    await cache.set('u1', { name: 'Ada', when: '2026-01-01' });
    expect(await plain.get('u1')).toEqual({ name: 'Ada', when: '2026-01-01' });
    await plain.set('u2', { name: 'Grace' });
    expect(await cache.get('u2')).toEqual({ name: 'Grace' });
  });

  it('takes the namespace, ttl and serializer of a Keyv instance it is given', async () => {
    const serialize = vi.fn((data: unknown) => JSON.stringify(data));
    const deserialize = (s: string) => JSON.parse(s);
    const serializer = KEYV_GENERATION === 6 ? { serialization: { stringify: serialize, parse: deserialize } } : { serialize, deserialize };
    const plain = new Keyv({ store: new Map(), namespace: 'sessions', ttl: 60_000, ...serializer } as never);
    const cache = makeCache({ store: plain });
    expect(cache.namespace).toBe('sessions');
    await cache.set('s', { a: 1 });
    expect(serialize).toHaveBeenCalled();
    const raw = await plain.getRaw('s');
    expect(raw?.value).toEqual({ a: 1 });
    expect(raw?.expires).toBeGreaterThan(Date.now() + 50_000);
    if (KEYV_GENERATION === 5) expect(plain.throwOnErrors).toBe(false);
  });

  it("keeps a memory copy equal to what the store gives back, not the caller's object", async () => {
    const cache = makeCache<{ when: string; tags: string[] }>();
    const value = { when: '1970-01-01T00:00:00.000Z', tags: ['a'] };
    await cache.set('k', value);
    value.tags.push('mutated after set');
    expect(await cache.get('k')).toEqual({ when: '1970-01-01T00:00:00.000Z', tags: ['a'] });
    expect(cache.stats().hits.memory).toBe(1);
  });
});

describe('one adapter, one namespace', () => {
  it('refuses a second namespace on an adapter in use, and allows it once the first cache is closed', async () => {
    const adapter = new ControlledStore();
    const users = makeCache({ namespace: 'users', store: adapter });
    const again = makeCache({ namespace: 'users', store: adapter });
    expect(() => makeCache({ namespace: 'posts', store: adapter })).toThrow(TypeError);
    await users.close();
    await again.close();
    const posts = makeCache({ namespace: 'posts', store: adapter });
    await posts.set('p', 1);
    expect(await posts.get('p')).toBe(1);
  });

  it('lets namespaces share one Map, and clear() empties only its own', async () => {
    const map = new Map();
    const users = makeCache({ namespace: 'users', store: map });
    const posts = makeCache({ namespace: 'posts', store: map });
    await users.set('1', 'u');
    await posts.set('1', 'p');
    await users.clear();
    expect(await users.keyv.get('1')).toBeUndefined();
    expect(await posts.keyv.get('1')).toBe('p');
  });

  it('turns on throwOnErrors of an adapter that would otherwise swallow its errors', () => {
    const adapter = Object.assign(new ControlledStore(), { throwOnErrors: false });
    makeCache({ store: adapter });
    expect(adapter.throwOnErrors).toBe(true);
  });
});

describe('the memory copy is what the store gives back', () => {
  it.each([
    ['a Buffer', { bytes: Buffer.from('hi') }],
    ['a string that looks like an escape', { s: ':base64:aGk=', t: '::x' }],
    ['an undefined property (dropped by every JSON serializer)', { a: undefined, n: [1] }],
    ['keys in an unusual order', { 2: 'b', 1: 'a', z: { y: [true, null, -0] } }],
  ])('for %s, in this process and in a fresh one', async (_, value) => {
    const store = new Map();
    const cache = makeCache<unknown>({ store, namespace: 'copy' });
    await cache.set('k', value);
    const fromMemory = await cache.get('k');
    expect(cache.stats().hits.memory).toBe(1);
    const fresh = makeCache<unknown>({ store, namespace: 'copy' });
    const fromStore = await fresh.get('k');
    expect(fresh.stats().hits.store).toBe(1);
    expect(fromMemory).toEqual(fromStore);
  });
});

describe('store failures surface', () => {
  it('get rejects with a StoreError keeping the cause, even though Keyv 5 hides adapter errors by default', async () => {
    const store = new ControlledStore();
    const cause = new Error('connection reset');
    const cache = makeCache({ store: new Keyv({ store }) });
    store.fail('get', cause);
    const error = await cache.get('k').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreError);
    expect(error).toMatchObject({ code: 'ERR_SYNCED_CACHE_STORE', operation: 'get', key: 'k', cause });
    expect((error as Error).message).toBe('store get for key "k" failed: connection reset');
  });

  it('set rejects and leaves memory without the new value (and without the old one: the store state is unknown)', async () => {
    const store = new ControlledStore();
    const cache = makeCache({ store });
    await cache.set('k', 'old');
    store.fail('set');
    await expect(cache.set('k', 'new')).rejects.toThrow(StoreError);
    store.heal('set');
    expect(cache.stats().memorySize).toBe(0);
    expect(await cache.get('k')).toBe('old');
    expect(cache.stats().hits.store).toBe(1);
  });

  it('serves a trusted memory hit while the store is failing', async () => {
    const store = new ControlledStore();
    const cache = makeCache({ store });
    await cache.set('k', 'v');
    store.fail('get');
    expect(await cache.get('k')).toBe('v');
    await expect(cache.get('other')).rejects.toThrow(StoreError);
  });

  it('delete, clear, has, getMany, setMany and getOrSet reject with StoreError too', async () => {
    const store = new ControlledStore();
    const cache = makeCache({ store });
    // Something to clear: Keyv 6 clears a namespace key by key, Keyv 5 with the adapter's clear().
    await cache.set('k', 1);
    store.fail('delete');
    store.fail('clear');
    store.fail('has');
    store.fail('get');
    store.fail('set');
    await expect(cache.delete('k')).rejects.toThrow(StoreError);
    await expect(cache.clear()).rejects.toThrow(StoreError);
    await expect(cache.has('k')).rejects.toThrow(StoreError);
    await expect(cache.getMany(['a', 'b'])).rejects.toThrow(StoreError);
    await expect(cache.setMany([{ key: 'a', value: 1 }])).rejects.toThrow(StoreError);
  });

  it('getOrSet with the store down still answers from the loader, reports the failed write, and keeps nothing in memory', async () => {
    const store = new ControlledStore();
    const cache = makeCache<number>({ store, circuitBreaker: false });
    const errors: Error[] = [];
    cache.on('error', (e) => errors.push(e));
    store.fail('get');
    store.fail('set');
    let calls = 0;
    expect(await cache.getOrSet('a', () => ++calls)).toBe(1);
    // The write was attempted in the background, and its failure reported.
    await waitFor(() => errors.length === 1, 'the failed write to be reported');
    expect(errors).toEqual([expect.any(StoreError)]);
    expect(errors[0]?.message).toMatch(/store set for key "a" failed: injected set failure/);
    // Memory never holds what the store may not have: the next call loads again.
    expect(cache.peek('a')).toBeUndefined();
    expect(await cache.getOrSet('a', () => ++calls)).toBe(2);
    // A loader that fails is the caller's failure.
    await expect(cache.getOrSet('b', () => Promise.reject(new Error('source down')))).rejects.toThrow('source down');
  });

  it('reports a write the adapter says it did not apply', async () => {
    const store = new ControlledStore();
    store.set = async () => false;
    const cache = makeCache({ store });
    await expect(cache.set('k', 1)).rejects.toThrow(
      /store set for key "k" failed: the store adapter reported that the write was not applied/,
    );
    expect(cache.stats().memorySize).toBe(0);
  });
});

describe('getOrSet', () => {
  it('calls the loader once per key for concurrent callers, stores and returns the value', async () => {
    const cache = makeCache<{ id: string }>();
    let calls = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const loader = async (key: string) => {
      calls++;
      await gate;
      return { id: key };
    };
    const all = Promise.all(Array.from({ length: 100 }, () => cache.getOrSet('u', loader)));
    release();
    const results = await all;
    expect(calls).toBe(1);
    expect(new Set(results.map((r) => r?.id))).toEqual(new Set(['u']));
    expect(await cache.keyv.get('u')).toEqual({ id: 'u' });
    expect(await cache.getOrSet('u', loader)).toEqual({ id: 'u' });
    expect(calls).toBe(1);
  });

  it('shares a loader failure with every waiter and retries on the next call', async () => {
    const cache = makeCache<number>();
    let calls = 0;
    const failing = async () => {
      calls++;
      throw new Error('db down');
    };
    const results = await Promise.allSettled([cache.getOrSet('k', failing), cache.getOrSet('k', failing)]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(calls).toBe(1);
    expect(await cache.getOrSet('k', () => 7)).toBe(7);
  });

  it('returns but does not store a loader result of undefined', async () => {
    const cache = makeCache();
    expect(await cache.getOrSet('k', () => undefined)).toBeUndefined();
    expect(await cache.keyv.get('k')).toBeUndefined();
    await expect(cache.getOrSet('k', 'nope' as never)).rejects.toThrow(/loader must be a function/);
  });
});

describe('events and lifecycle', () => {
  it('emits hit, miss, set, delete and clear with their payloads, each stamped with at and instance', async () => {
    const cache = makeCache();
    const seen: [string, Record<string, unknown>][] = [];
    cache.on('hit', (e) => seen.push(['hit', { ...e }]));
    cache.on('miss', (e) => seen.push(['miss', { ...e }]));
    cache.on('set', (e) => seen.push(['set', { ...e }]));
    cache.on('delete', (e) => seen.push(['delete', { ...e }]));
    cache.on('clear', (e) => seen.push(['clear', { ...e }]));
    const before = Date.now();
    await cache.get('a');
    await cache.set('a', 1);
    await cache.get('a');
    await cache.delete('a');
    await cache.clear();
    const after = Date.now();
    const stamp = { at: expect.any(Number), instance: cache.instanceId };
    expect(seen).toEqual([
      ['miss', { key: 'a', ...stamp }],
      ['set', { key: 'a', ...stamp }],
      ['hit', { key: 'a', tier: 'memory', ...stamp }],
      ['delete', { key: 'a', ...stamp }],
      ['clear', stamp],
    ]);
    for (const [, e] of seen) expect(e.at as number).toSatisfy((at: number) => at >= before && at <= after);
    expect(cache.instanceId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('a throwing hit listener rejects the get instead of throwing synchronously', async () => {
    const cache = makeCache();
    await cache.set('a', 1);
    cache.on('hit', () => {
      throw new Error('listener bug');
    });
    let result: Promise<unknown> | undefined;
    expect(() => {
      result = cache.get('a');
    }).not.toThrow();
    await expect(result).rejects.toThrow('listener bug');
  });

  it('stops emitting once the last listener is removed', async () => {
    const cache = makeCache();
    const hits: unknown[] = [];
    const listener = (e: unknown) => hits.push(e);
    cache.on('hit', listener);
    await cache.set('a', 1);
    await cache.get('a');
    cache.off('hit', listener);
    await cache.get('a');
    expect(hits).toHaveLength(1);
  });

  it('listeners added after removeAllListeners() are called, for every event the hot path switches on', async () => {
    const namespace = uniqueNamespace();
    const transport = new BroadcastChannelTransport();
    const cache = makeCache({ namespace, transport });
    const other = makeCache({ namespace, transport });
    await waitFor(() => cache.stats().bus === 'up' && other.stats().bus === 'up', 'buses up');
    cache.on('hit', () => {});
    cache.removeAllListeners();
    cache.on('miss', () => {});
    cache.removeAllListeners('miss');
    const seen: string[] = [];
    for (const event of ['hit', 'miss', 'set', 'delete', 'invalidate'] as const) cache.on(event, () => seen.push(event));
    await cache.get('a');
    await cache.set('a', 1);
    await cache.get('a');
    await cache.delete('a');
    await other.set('b', 1);
    await waitFor(() => seen.includes('invalidate'), 'the invalidation from the other cache');
    expect(seen).toEqual(['miss', 'set', 'hit', 'delete', 'invalidate']);
  });

  it('close is idempotent and later operations reject with CacheClosedError', async () => {
    const cache = makeCache();
    await cache.set('a', 1);
    await Promise.all([cache.close(), cache.close()]);
    await cache.close();
    await expect(cache.get('a')).rejects.toThrow(CacheClosedError);
    await expect(cache.set('a', 2)).rejects.toThrow(/cannot call set\(\): the cache is closed/);
    expect(cache.stats().bus).toBe('off');
  });
});

describe('add', () => {
  it('writes only an absent key, announces and counts only what it wrote, and treats an expired entry as absent', async () => {
    const namespace = uniqueNamespace();
    const transport = new BroadcastChannelTransport();
    const store = new Map();
    const cache = makeCache<string>({ namespace, transport, store });
    const other = makeCache<string>({ namespace, transport, store });
    await waitFor(() => cache.stats().bus === 'up' && other.stats().bus === 'up', 'buses up');
    const sets: string[] = [];
    cache.on('set', ({ key }) => sets.push(key));
    expect(await cache.add('k', 'first', { ttl: 30 })).toBe(true);
    expect(await cache.add('k', 'second')).toBe(false);
    expect(await cache.get('k')).toBe('first');
    expect(sets).toEqual(['k']);
    await waitFor(() => other.stats().invalidations.received === 1, 'the one announcement');
    const until = Date.now() + 31;
    while (Date.now() <= until) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(await cache.add('k', 'third')).toBe(true);
    expect(await other.get('k')).toBe('third');
  });

  it('of many adds of one key at the same moment in one process, exactly one writes', async () => {
    const cache = makeCache<number>();
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => cache.add('k', i)));
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(await cache.get('k')).toBe(results.indexOf(true));
  });
});

describe('update', () => {
  it('gives the updater the fresh value from the store (not memory), writes what it returns, and announces it', async () => {
    const namespace = uniqueNamespace();
    const transport = new BroadcastChannelTransport();
    const store = new Map();
    const a = makeCache<number>({ namespace, transport, store });
    const b = makeCache<number>({ namespace, transport, store });
    await waitFor(() => a.stats().bus === 'up' && b.stats().bus === 'up', 'buses up');
    expect(await a.update('n', (current) => (current ?? 0) + 1)).toBe(1);
    expect(await a.update('n', (current) => (current ?? 0) + 1)).toBe(2);
    await waitFor(async () => (await b.get('n')) === 2, 'the other cache to read 2');
    // Undefined from the updater writes nothing, and announces nothing.
    const sent = a.stats().invalidations.sent;
    expect(await a.update('n', () => undefined)).toBeUndefined();
    expect(a.stats().invalidations.sent).toBe(sent);
    await expect(a.update('n', 'nope' as never)).rejects.toThrow(/update: updater must be a function/);
  });

  it('reads again when a write lands between its read and its write (the compare fails), up to five times', async () => {
    const store = new ControlledStore();
    const a = makeCache<number>({ store, namespace: 'cas' });
    const b = makeCache<number>({ store, namespace: 'cas' });
    await a.set('n', 1);
    const seen: (number | undefined)[] = [];
    const result = await a.update('n', async (current) => {
      seen.push(current);
      if (seen.length === 1) await b.set('n', 100);
      return (current ?? 0) + 1;
    });
    expect(seen).toEqual([1, 100]);
    expect(result).toBe(101);
    let attempts = 0;
    await expect(
      a.update('n', async (current) => {
        attempts++;
        await b.set('n', attempts * 1_000);
        return (current ?? 0) + 1;
      }),
    ).rejects.toThrow(/store update for key "n" failed: the key kept changing: 5 attempts/);
    expect(attempts).toBe(5);
  });
});
