// The limits of issue 11 (security item 3): maxKeyLength and maxValueBytes refuse what is too large with a
// RangeError naming the limit and the key, before anything is touched.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DEFAULTS, SyncedCache, type SyncedCacheOptions } from '../../src/index.js';
import { makeCache, uniqueNamespace } from '../helpers/factory.js';
import { Hub } from '../helpers/hub.js';
import { KEYV_GENERATION } from '../helpers/keyv-generation.js';

/** A cache over a Map, with a second cache on one bus that records every invalidation it hears. */
function watched(options: SyncedCacheOptions = {}) {
  const store = new Map<unknown, unknown>();
  const namespace = uniqueNamespace('limits');
  const hub = new Hub();
  const cache = makeCache<unknown>({ store, namespace, transport: hub.transport(), ...options });
  const heard: unknown[] = [];
  makeCache<unknown>({ store, namespace, transport: hub.transport() }).on('invalidate', (event) => heard.push(event));
  const events: string[] = [];
  for (const name of ['set', 'delete', 'hit', 'miss'] as const) cache.on(name, () => events.push(name));
  return { store, cache, heard, events };
}

describe('maxKeyLength', () => {
  const long = 'k'.repeat(65_537);

  it('defaults to 65,536 UTF-8 bytes, counted in bytes rather than characters', async () => {
    expect(DEFAULTS.maxKeyLength).toBe(65_536);
    const { cache } = watched();
    await cache.set('k'.repeat(65_536), 'fits');
    expect(await cache.get('k'.repeat(65_536))).toBe('fits');
    // 21,846 euro signs are fewer characters than the limit, and 65,538 bytes.
    const euros = '€'.repeat(21_846);
    await expect(cache.set(euros, 'v')).rejects.toThrow(RangeError);
    await expect(cache.set(euros, 'v')).rejects.toThrow(/ is 65538 bytes \(UTF-8\), more than maxKeyLength \(65536\)$/);
    await cache.set('€'.repeat(21_845), 'fits');
  });

  it.each([
    ['get', (c: SyncedCache<unknown>) => c.get(long)],
    ['getMany', (c: SyncedCache<unknown>) => c.getMany(['ok', long])],
    ['has', (c: SyncedCache<unknown>) => c.has(long)],
    ['set', (c: SyncedCache<unknown>) => c.set(long, 'v')],
    ['add', (c: SyncedCache<unknown>) => c.add(long, 'v')],
    [
      'setMany',
      (c: SyncedCache<unknown>) =>
        c.setMany([
          { key: 'ok', value: 1 },
          { key: long, value: 2 },
        ]),
    ],
    ['delete', (c: SyncedCache<unknown>) => c.delete(long)],
    ['deleteMany', (c: SyncedCache<unknown>) => c.deleteMany(['ok', long])],
    ['getOrSet', (c: SyncedCache<unknown>) => c.getOrSet(long, () => 'loaded')],
  ])('%s rejects a longer key with a RangeError naming the limit and the key (cut), touching nothing', async (operation, call) => {
    const { store, cache, heard, events } = watched();
    await cache.set('ok', 'kept');
    const before = [...store.entries()];
    events.length = 0;
    heard.length = 0;
    const error = await call(cache).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(RangeError);
    expect((error as Error).message).toBe(
      `synced-cache: ${operation}: key "${'k'.repeat(80)}"... is 65537 bytes (UTF-8), more than maxKeyLength (65536)`,
    );
    expect([...store.entries()]).toEqual(before);
    expect(events).toEqual([]);
    expect(heard).toEqual([]);
    expect(cache.stats().sets).toBe(1);
  });

  it('is configurable, and validated at construction', async () => {
    const cache = makeCache({ maxKeyLength: 8 });
    await cache.set('12345678', 'v');
    await expect(cache.get('123456789')).rejects.toThrow(
      'synced-cache: get: key "123456789" is 9 bytes (UTF-8), more than maxKeyLength (8)',
    );
    // A key in memory is never longer than the limit, so a memory hit needs no check: it is still one lookup.
    expect(await cache.get('12345678')).toBe('v');
    expect(() => new SyncedCache({ maxKeyLength: 0 })).toThrow(
      new RangeError('synced-cache: option "maxKeyLength" must be a finite number > 0, got 0'),
    );
    expect(() => new SyncedCache({ maxKeyLength: '64k' as never })).toThrow(
      new TypeError('synced-cache: option "maxKeyLength" must be a number, got "64k"'),
    );
    expect(() => new SyncedCache({ maxKeyLength: 1.5 })).toThrow(
      new RangeError('synced-cache: option "maxKeyLength" must be a whole number, got 1.5'),
    );
  });
});

describe('maxValueBytes', () => {
  it('defaults to 16 MiB of the serialized value', async () => {
    expect(DEFAULTS.maxValueBytes).toBe(16 * 1024 * 1024);
    const { store, cache } = watched();
    // The serialized record is the string and {"value":""} around it.
    await cache.set('fits', 'x'.repeat(16 * 1024 * 1024 - 12));
    const size = store.size;
    const error = await cache.set('big', 'x'.repeat(16 * 1024 * 1024 - 11)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RangeError);
    expect((error as Error).message).toBe(
      'synced-cache: cannot set key "big": its serialized value is 16777217 bytes, more than maxValueBytes (16777216)',
    );
    expect(store.size).toBe(size);
  });

  it.each([
    ['set', (c: SyncedCache<unknown>, v: unknown) => c.set('big', v)],
    ['add', (c: SyncedCache<unknown>, v: unknown) => c.add('big', v)],
    [
      'setMany',
      (c: SyncedCache<unknown>, v: unknown) =>
        c.setMany([
          { key: 'small', value: 1 },
          { key: 'big', value: v },
        ]),
    ],
    ['getOrSet', (c: SyncedCache<unknown>, v: unknown) => c.getOrSet('big', () => v)],
  ])('%s refuses a larger value with a RangeError naming the limit and the key; nothing is written or announced', async (_, call) => {
    const { store, cache, heard, events } = watched({ maxValueBytes: 100 });
    const error = await call(cache, { text: '€'.repeat(30) }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RangeError);
    // UTF-8 bytes: 30 euro signs are 90 bytes, and 21 more of JSON around them.
    expect((error as Error).message).toBe(
      'synced-cache: cannot set key "big": its serialized value is 111 bytes, more than maxValueBytes (100)',
    );
    expect(store.size).toBe(0);
    expect(cache.peek('big')).toBeUndefined();
    expect(events.filter((e) => e === 'set' || e === 'delete')).toEqual([]);
    expect(heard).toEqual([]);
  });

  it('with encryption, measures the plaintext: a value under the limit is stored though its ciphertext is larger', async () => {
    const key = randomBytes(32);
    const store = new Map<unknown, unknown>();
    const cache = makeCache({ store, maxValueBytes: 120, encryption: { key } });
    const value = 'x'.repeat(100);
    await cache.set('k', value);
    const stored = [...store.values()].map((v) => (typeof v === 'string' ? v : JSON.stringify(v)))[0] as string;
    expect(stored.length).toBeGreaterThan(120);
    expect(await makeCache({ store, encryption: { key } }).get('k')).toBe(value);
    await expect(cache.set('k2', 'x'.repeat(120))).rejects.toThrow(
      'synced-cache: cannot set key "k2": its serialized value is 132 bytes, more than maxValueBytes (120)',
    );
  });

  it('is validated at construction', () => {
    expect(() => new SyncedCache({ maxValueBytes: -1 })).toThrow(
      new RangeError('synced-cache: option "maxValueBytes" must be a finite number > 0, got -1'),
    );
    expect(() => new SyncedCache({ maxValueBytes: Number.POSITIVE_INFINITY })).toThrow(RangeError);
  });
});

describe("the library's own keys", () => {
  it('a write or delete of a key beginning with "__synced-cache:" is refused, touching nothing: the encryption salt stays', async () => {
    const key = 'a passphrase for the salt test';
    const { store, cache, heard, events } = watched({ encryption: { key } });
    await cache.set('k', 'v');
    const before = [...store.entries()].map(([k, v]) => [k, JSON.stringify(v)]);
    expect(before.some(([k]) => String(k).includes('__synced-cache:salt'))).toBe(true);
    const namespace = cache.namespace;
    const refused = 'keys beginning with "__synced-cache:" are the library\'s own; choose another key';
    for (const [operation, call] of [
      ['set', () => cache.set('__synced-cache:salt', 'mine')],
      [
        'setMany',
        () =>
          cache.setMany([
            { key: 'fine', value: 1 },
            { key: '__synced-cache:x', value: 2 },
          ]),
      ],
      ['add', () => cache.add('__synced-cache:salt', 'mine')],
      ['getOrSet', () => cache.getOrSet('__synced-cache:salt', () => 'mine')],
      ['update', () => cache.update('__synced-cache:salt', () => 'mine')],
      ['delete', () => cache.delete('__synced-cache:salt')],
      ['deleteMany', () => cache.deleteMany(['k', '__synced-cache:salt'])],
    ] as const) {
      await expect(call(), operation).rejects.toThrow(new TypeError(`synced-cache: ${operation}: ${refused}`));
    }
    // Keyv 5 stores `ns:k` and `k` as one entry, so the namespaced spelling is the salt too (Keyv 6 keeps them apart).
    if (KEYV_GENERATION === 5) {
      await expect(cache.set(`${namespace}:__synced-cache:salt`, 'mine')).rejects.toThrow(new TypeError(`synced-cache: set: ${refused}`));
    }
    expect([...store.entries()].map(([k, v]) => [k, JSON.stringify(v)])).toEqual(before);
    expect(events.filter((e) => e === 'set' || e === 'delete')).toEqual(['set']);
    expect(heard).toHaveLength(1);
    expect(await makeCache({ store, namespace, encryption: { key } }).get('k')).toBe('v');
  });
});
