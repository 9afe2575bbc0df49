import { EventEmitter } from 'node:events';
import { promisify } from 'node:util';
import KeyvRedis from '@keyv/redis';
import type { SessionData } from 'express-session';
import { Redis } from 'ioredis';
import { Keyv, type KeyvStoreAdapter, type StoredData } from 'keyv';
// The session store imports the core by the package name, so the tests build their caches from it too.
import { SyncedCache, type SyncedCacheOptions, type SyncedCacheStats } from 'synced-cache';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { SyncedSessionStore } from '../../src/integrations/session.js';
import { type Fixture, forkFixture } from '../helpers/fork-fixture.js';
import { KEYV_GENERATION } from '../helpers/keyv-generation.js';
import { useRedisServer } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';

/** The store's callback API as promises. */
function api(store: SyncedSessionStore) {
  return {
    get: promisify(store.get.bind(store)) as (sid: string) => Promise<SessionData | null>,
    set: promisify(store.set.bind(store)) as (sid: string, session: unknown) => Promise<void>,
    touch: promisify(store.touch.bind(store)) as (sid: string, session: unknown) => Promise<void>,
    destroy: promisify(store.destroy.bind(store)) as (sid: string) => Promise<void>,
    all: promisify(store.all.bind(store)) as () => Promise<Record<string, SessionData>>,
    length: promisify(store.length.bind(store)) as () => Promise<number>,
    clear: promisify(store.clear.bind(store)) as () => Promise<void>,
  };
}

/** Session data as express-session hands it to a store: the cookie with its remaining lifetime. */
function sessionData(maxAge: number | null, extra: Record<string, unknown> = {}): SessionData {
  const cookie = {
    originalMaxAge: maxAge,
    maxAge: maxAge ?? undefined,
    expires: maxAge === null ? null : new Date(Date.now() + maxAge),
    httpOnly: true,
    path: '/',
  };
  return { cookie, ...extra } as unknown as SessionData;
}

function memoryCache(options: SyncedCacheOptions = {}): SyncedCache<unknown> {
  const cache = new SyncedCache<unknown>({ namespace: 'sessions', ...options });
  onTestFinished(() => cache.close());
  return cache;
}

/** A Keyv store adapter with no iterator (the minimum Keyv accepts), over a Map. */
class PlainAdapter extends EventEmitter implements KeyvStoreAdapter {
  opts = {};
  namespace: string | undefined;
  readonly #map = new Map<string, unknown>();
  async get<Value>(key: string): Promise<StoredData<Value> | undefined> {
    return this.#map.get(key) as StoredData<Value> | undefined;
  }
  async set(key: string, value: unknown): Promise<void> {
    this.#map.set(key, value);
  }
  async delete(key: string): Promise<boolean> {
    return this.#map.delete(key);
  }
  async clear(): Promise<void> {
    this.#map.clear();
  }
}

describe('SyncedSessionStore', () => {
  it('stores and returns a session, as a fresh copy on every memory hit', async () => {
    const cache = memoryCache();
    const store = api(new SyncedSessionStore({ cache }));
    await store.set('sid1', sessionData(60_000, { user: { name: 'Ada' } }));
    const first = (await store.get('sid1')) as SessionData & { user: { name: string } };
    expect(first.user).toEqual({ name: 'Ada' });
    expect(first.cookie.originalMaxAge).toBe(60_000);
    first.user.name = 'changed in the request';
    const second = (await store.get('sid1')) as SessionData & { user: { name: string } };
    expect(second.user.name).toBe('Ada');
    expect(cache.stats().hits.memory).toBe(2);
    expect(await store.get('unknown')).toBeNull();
  });

  it('accepts the cache itself, and a prefix', async () => {
    const cache = memoryCache();
    const plain = new SyncedSessionStore(cache);
    expect(plain.prefix).toBe('sess:');
    await api(plain).set('a', sessionData(60_000));
    expect(await cache.get('sess:a')).toBeDefined();
    const prefixed = new SyncedSessionStore({ cache, prefix: 'app1:' });
    await api(prefixed).set('a', sessionData(60_000));
    expect(await cache.get('app1:a')).toBeDefined();
  });

  it('lets a session expire with its cookie, and uses the ttl option for browser-session cookies', async () => {
    const cache = memoryCache();
    const store = api(new SyncedSessionStore({ cache, ttl: 150 }));
    await store.set('short', sessionData(100));
    await store.set('browser', sessionData(null));
    await store.set('long', sessionData(60_000));
    expect(await store.get('short')).not.toBeNull();
    await waitFor(async () => (await store.get('short')) === null, 'the 100 ms session to expire', 3_000);
    await waitFor(async () => (await store.get('browser')) === null, 'the 150 ms fallback to expire', 3_000);
    expect(await store.get('long')).not.toBeNull();
  });

  it('deletes rather than stores a session whose cookie has already expired', async () => {
    const cache = memoryCache();
    const store = api(new SyncedSessionStore({ cache }));
    await store.set('sid', sessionData(60_000));
    const expired = sessionData(60_000);
    expired.cookie.expires = new Date(Date.now() - 1_000);
    await store.set('sid', expired);
    expect(await store.get('sid')).toBeNull();
    expect(await cache.get('sess:sid')).toBeUndefined();
  });

  it('touch() pushes the expiry back only when the gain reaches touchAfter, and never revives a destroyed session', async () => {
    const cache = memoryCache();
    const store = api(new SyncedSessionStore({ cache, touchAfter: 5_000 }));
    await store.set('sid', sessionData(60_000, { n: 1 }));
    const setsAfterSet = cache.stats().sets;
    // A request a moment later: the expiry would move by a few ms, not worth a write and an invalidation.
    await store.touch('sid', sessionData(60_000, { n: 1 }));
    expect(cache.stats().sets).toBe(setsAfterSet);
    // A later request (its cookie now reaches 10 s further): rewritten, keeping what is stored.
    await store.set('sid', sessionData(60_000, { n: 2 }));
    await store.touch('sid', sessionData(70_000, { n: 'stale copy from the request' }));
    expect(cache.stats().sets).toBe(setsAfterSet + 2);
    const touched = (await store.get('sid')) as SessionData & { n: number };
    expect(touched.n).toBe(2);
    expect(touched.cookie.originalMaxAge).toBe(70_000);
    // Logged out elsewhere: a touch from a request still in flight must not bring it back.
    await store.destroy('sid');
    await store.touch('sid', sessionData(120_000, { n: 2 }));
    expect(await store.get('sid')).toBeNull();
  });

  it("a touch in a process that still holds a session destroyed elsewhere does not undo the logout, nor overwrite another's change", async () => {
    // Two processes on one store: B holds the session in memory; A's changes never reach B's memory
    // (A's bus link is down and its invalidations are queued: modelled by A having no bus at all).
    const shared = new Map();
    const b = memoryCache({ namespace: 'two-processes', store: shared });
    const a = memoryCache({ namespace: 'two-processes', store: shared });
    const storeA = api(new SyncedSessionStore({ cache: a, touchAfter: 1_000 }));
    const storeB = api(new SyncedSessionStore({ cache: b, touchAfter: 1_000 }));
    await storeB.set('sid', sessionData(60_000, { user: 'alice' }));
    expect(await storeB.get('sid')).not.toBeNull();
    expect(b.peek('sess:sid')).toBeDefined();
    await storeA.destroy('sid');
    // B's memory still has it; its request ends with a touch that would push the expiry far enough.
    await storeB.touch('sid', sessionData(120_000, { user: 'alice' }));
    expect(await memoryCache({ namespace: 'two-processes', store: shared }).get('sess:sid')).toBeUndefined();
    // A newer change made elsewhere keeps its data when B touches from its older copy.
    await storeB.set('sid', sessionData(60_000, { user: 'alice', cart: 1 }));
    await storeA.set('sid', sessionData(60_000, { user: 'alice', cart: 2 }));
    await storeB.touch('sid', sessionData(120_000, { user: 'alice', cart: 1 }));
    const stored = (await memoryCache({ namespace: 'two-processes', store: shared }).get('sess:sid')) as {
      session: { cart: number; cookie: { originalMaxAge: number } };
    };
    expect(stored.session.cart).toBe(2);
    expect(stored.session.cookie.originalMaxAge).toBe(120_000);
  });

  it('all(), length() and clear() cover the sessions of its prefix only', async () => {
    const cache = memoryCache();
    const store = api(new SyncedSessionStore({ cache }));
    const other = api(new SyncedSessionStore({ cache, prefix: 'other:' }));
    await store.set('a', sessionData(60_000, { who: 'a' }));
    await store.set('b', sessionData(60_000, { who: 'b' }));
    await other.set('c', sessionData(60_000, { who: 'c' }));
    await cache.set('unrelated', 1);
    const all = await store.all();
    expect(Object.keys(all).sort()).toEqual(['a', 'b']);
    expect((all.b as SessionData & { who: string }).who).toBe('b');
    expect(await store.length()).toBe(2);
    await store.clear();
    expect(await store.length()).toBe(0);
    expect(await other.length()).toBe(1);
    expect(await cache.get('unrelated')).toBe(1);
  });

  it('all() works when the prefix begins with the cache namespace', async () => {
    const cache = memoryCache({ namespace: 'sess' });
    const store = api(new SyncedSessionStore({ cache, prefix: 'sess:' }));
    await store.set('a', sessionData(60_000));
    expect(Object.keys(await store.all())).toEqual(['a']);
  });

  it('all(), length() and clear() report a clear error when the store cannot be iterated', async () => {
    const cache = memoryCache({ store: new PlainAdapter() });
    const store = api(new SyncedSessionStore({ cache }));
    await store.set('a', sessionData(60_000));
    expect(await store.get('a')).not.toBeNull();
    for (const call of [store.all, store.length, store.clear]) {
      await expect(call()).rejects.toThrow(/needs a store that can be iterated.*cache namespace "sessions" cannot/);
    }
    // With an empty prefix the store is the whole cache, and clear() is the cache's: Keyv 5 clears the
    // adapter; Keyv 6 refuses to clear one namespace of an adapter that cannot list its keys.
    const whole = api(new SyncedSessionStore({ cache, prefix: '' }));
    if (KEYV_GENERATION === 5) {
      await whole.clear();
      expect(await store.get('a')).toBeNull();
    } else {
      await expect(whole.clear()).rejects.toThrow(/Can't clear namespace "sessions"/);
    }
  });

  describe('bad input', () => {
    it('rejects a non-object session with a TypeError passed to the callback', async () => {
      const cache = memoryCache();
      const store = new SyncedSessionStore({ cache });
      for (const [bad, described] of [
        ['a string', 'string'],
        [null, 'null'],
        [42, 'number'],
        [[1], 'an array'],
        [undefined, 'undefined'],
      ] as const) {
        const error = await new Promise<unknown>((resolve) => store.set('sid', bad as unknown as SessionData, resolve));
        expect(error).toBeInstanceOf(TypeError);
        expect((error as Error).message).toBe(`synced-cache/session: set: session must be an object, got ${described}`);
      }
      expect(cache.stats().sets).toBe(0);
    });

    it('rejects a session that cannot be serialized, and a bad session id', async () => {
      const store = api(new SyncedSessionStore({ cache: memoryCache() }));
      const circular = sessionData(60_000) as SessionData & { self?: unknown };
      circular.self = circular;
      await expect(store.set('sid', circular)).rejects.toThrow(TypeError);
      await expect(store.set('sid', circular)).rejects.toThrow(/session "sid" cannot be serialized/);
      await expect(store.get('')).rejects.toThrow(
        new TypeError('synced-cache/session: get: session id must be a non-empty string, got string'),
      );
      await expect(store.destroy(7 as unknown as string)).rejects.toThrow(/destroy: session id must be a non-empty string, got number/);
    });

    it('validates its options in the constructor', () => {
      const cache = memoryCache();
      expect(() => new SyncedSessionStore({} as never)).toThrow(
        new TypeError('synced-cache/session: option "cache" must be a SyncedCache, got undefined'),
      );
      expect(() => new SyncedSessionStore(undefined as never)).toThrow(/option "cache" must be a SyncedCache/);
      expect(() => new SyncedSessionStore({ cache, prefix: 1 as never })).toThrow(/option "prefix" must be a string, got number/);
      expect(() => new SyncedSessionStore({ cache, ttl: 0 })).toThrow(RangeError);
      expect(() => new SyncedSessionStore({ cache, ttl: '1d' as never })).toThrow(
        /option "ttl" must be a number of milliseconds, got string/,
      );
      expect(() => new SyncedSessionStore({ cache, touchAfter: -1 })).toThrow(
        /option "touchAfter" must be a finite number of milliseconds >= 0, got -1/,
      );
    });
  });

  describe('over Redis', () => {
    const redis = useRedisServer();

    it("gives the Redis entry the cookie's lifetime", async () => {
      const keyvRedis = new KeyvRedis<unknown>(redis.url);
      const cache = new SyncedCache<unknown>({ store: new Keyv(keyvRedis), redis: redis.url, namespace: 'sessions' });
      const client = new Redis(redis.url);
      onTestFinished(async () => {
        await cache.close();
        await keyvRedis.disconnect();
        client.disconnect();
      });
      const store = api(new SyncedSessionStore({ cache }));
      await store.set('sid', sessionData(90_000));
      await store.set('browser', sessionData(null));
      // @keyv/redis prefixes `namespace::`; Keyv 5 also prefixes `namespace:` before it.
      const redisKey = (sid: string) => (KEYV_GENERATION === 5 ? `sessions::sessions:sess:${sid}` : `sessions::sess:${sid}`);
      const keys = await client.keys('*sess:*');
      expect(keys.sort()).toEqual([redisKey('browser'), redisKey('sid')]);
      const pttl = await client.pttl(redisKey('sid'));
      expect(pttl).toBeGreaterThan(85_000);
      expect(pttl).toBeLessThanOrEqual(90_000);
      const fallback = await client.pttl(redisKey('browser'));
      expect(fallback).toBeGreaterThan(86_400_000 - 5_000);
      expect(Object.keys(await store.all()).sort()).toEqual(['browser', 'sid']);
    });

    it('the same over @keyv/redis, whose compare-and-set is one script: a destroyed session stays destroyed', async () => {
      const keyvRedis = new KeyvRedis<unknown>(redis.url);
      const b = new SyncedCache<unknown>({ store: keyvRedis, namespace: 'touch-redis' });
      const a = new SyncedCache<unknown>({ store: keyvRedis, namespace: 'touch-redis' });
      onTestFinished(async () => {
        await a.close();
        await b.close();
        await keyvRedis.disconnect();
      });
      const storeA = api(new SyncedSessionStore({ cache: a, touchAfter: 1_000 }));
      const storeB = api(new SyncedSessionStore({ cache: b, touchAfter: 1_000 }));
      await storeB.set('sid', sessionData(60_000));
      expect(await storeB.get('sid')).not.toBeNull();
      await storeA.destroy('sid');
      await storeB.touch('sid', sessionData(120_000));
      expect(await storeA.get('sid')).toBeNull();
    });

    describe('express-session in two Express 5 processes', () => {
      const apps: Fixture[] = [];
      let a: string;
      let b: string;
      beforeAll(async () => {
        const env = { REDIS_URL: redis.url };
        apps.push(...(await Promise.all([forkFixture('session-app.mjs', env), forkFixture('session-app.mjs', env)])));
        [a, b] = apps.map((app) => `http://127.0.0.1:${app.ready.port as number}`) as [string, string];
      });
      afterAll(async () => {
        await Promise.all(apps.map((app) => app.kill()));
      });

      async function request(base: string, path: string, init: { method?: string; cookie?: string; body?: unknown } = {}) {
        const response = await fetch(base + path, {
          method: init.method ?? 'GET',
          headers: {
            ...(init.cookie === undefined ? {} : { cookie: init.cookie }),
            ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
          },
          body: init.body === undefined ? undefined : JSON.stringify(init.body),
        });
        expect(response.status).toBe(200);
        return { body: (await response.json()) as Record<string, unknown>, setCookie: response.headers.getSetCookie() };
      }
      const stats = async (base: string) => (await request(base, '/__stats')).body as unknown as SyncedCacheStats;

      it('log in via A, read via B (then from B memory), log out via A: B sees no session on its next request', async () => {
        for (let round = 0; round < 5; round++) {
          const login = await request(a, '/login', { method: 'POST', body: { name: `Ada ${round}` } });
          const sid = login.setCookie.find((c) => c.startsWith('connect.sid='));
          expect(sid).toBeDefined();
          const cookie = (sid as string).split(';')[0] as string;

          const first = await request(b, '/me', { cookie });
          expect(first.body.pid).not.toBe(login.body.pid);
          expect(first.body.user).toEqual({ name: `Ada ${round}` });

          // The repeat request is served from B's memory: no store read, at least one memory hit.
          const before = await stats(b);
          const again = await request(b, '/me', { cookie });
          expect(again.body.user).toEqual({ name: `Ada ${round}` });
          const after = await stats(b);
          expect(after.hits.store).toBe(before.hits.store);
          expect(after.misses).toBe(before.misses);
          expect(after.hits.memory).toBeGreaterThan(before.hits.memory);

          await request(a, '/logout', { method: 'POST', cookie });
          // No polling: the logout must be seen by B's very next request.
          const afterLogout = await request(b, '/me', { cookie });
          expect(afterLogout.body.user).toBeNull();
          expect(afterLogout.setCookie).toEqual([]);
          expect((await request(a, '/me', { cookie })).body.user).toBeNull();
        }
      });

      it('a session changed via B is seen via A', async () => {
        const login = await request(a, '/login', { method: 'POST', body: { name: 'Grace' } });
        const cookie = (login.setCookie[0] as string).split(';')[0] as string;
        expect((await request(a, '/me', { cookie })).body.user).toEqual({ name: 'Grace' });
        expect((await request(a, '/me', { cookie })).body.user).toEqual({ name: 'Grace' });
        await request(b, '/login', { method: 'POST', cookie, body: { name: 'Grace Hopper' } });
        expect((await request(a, '/me', { cookie })).body.user).toEqual({ name: 'Grace Hopper' });
      });
    });
  });
});
