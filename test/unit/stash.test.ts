// The stash on one process, over the in-memory default store: names that are never overwritten by
// accident, the LIFO stack, listing with a glob, the push/pop events, and the rules for bad input.
// The stash comes from src/, the core it builds on from the built package (npm run build first).
import { EventEmitter } from 'node:events';
import type { KeyvStoreAdapter, StoredData } from 'keyv';
import { CacheClosedError, ErrorCodes, KeyExistsError, type StashEvent, type SyncedCache, SyncedCacheError } from 'synced-cache';
import { describe, expect, expectTypeOf, it, onTestFinished, vi } from 'vitest';
import { globMatcher } from '../../src/stash/glob.js';
import { isPushId, PUSH_ID_LENGTH, PushIds } from '../../src/stash/ids.js';
import { Stash, type StashOptions } from '../../src/stash/stash.js';
import { uniqueNamespace } from '../helpers/factory.js';
import { waitFor } from '../helpers/wait.js';

function makeStash<V = unknown>(options: StashOptions = {}): Stash<V> {
  const stash = new Stash<V>({ namespace: uniqueNamespace('stash'), ...options });
  onTestFinished(() => stash.close());
  return stash;
}

/** A Keyv store adapter that cannot list its keys (no iterator()), as memcached's cannot. */
class UnlistableStore extends EventEmitter implements KeyvStoreAdapter {
  opts: Record<string, unknown> = {};
  namespace?: string | undefined;
  readonly #map = new Map<string, unknown>();
  async get<Value>(key: string): Promise<StoredData<Value> | undefined> {
    return this.#map.get(key) as StoredData<Value> | undefined;
  }
  async set(key: string, value: unknown): Promise<boolean> {
    this.#map.set(key, value);
    return true;
  }
  async delete(key: string): Promise<boolean> {
    return this.#map.delete(key);
  }
  async clear(): Promise<void> {
    this.#map.clear();
  }
  async has(key: string): Promise<boolean> {
    return this.#map.has(key);
  }
}

describe('push ids', () => {
  it('are 20 URL-safe characters of one shape, which isPushId recognises', () => {
    const ids = new PushIds();
    for (let i = 0; i < 100; i++) {
      const id = ids.next();
      expect(id).toHaveLength(PUSH_ID_LENGTH);
      expect(PUSH_ID_LENGTH).toBeLessThanOrEqual(22);
      expect(id).toMatch(/^_[0-9a-z]{19}$/);
      expect(encodeURIComponent(id)).toBe(id);
      expect(isPushId(id)).toBe(true);
    }
    for (const key of ['user:1', '_short', `_${'a'.repeat(18)}`, `_${'a'.repeat(20)}`, `_${'A'.repeat(19)}`, `x${'a'.repeat(19)}`]) {
      expect({ key, id: isPushId(key) }).toEqual({ key, id: false });
    }
  });

  it('sort in push order: by time, then by counter within a millisecond, and stay increasing when the clock stands still or goes back', () => {
    let now = 1_700_000_000_000;
    const ids = new PushIds(
      () => now,
      () => 0,
    );
    const made = [ids.next(), ids.next(), ids.next()];
    now += 1;
    made.push(ids.next());
    now -= 5_000; // an NTP step back
    made.push(ids.next(), ids.next());
    now = 1_800_000_000_000;
    made.push(ids.next());
    expect(new Set(made).size).toBe(made.length);
    expect([...made].sort()).toEqual(made);
    // The time is the first 9 characters after `_`: base-36 milliseconds.
    expect(Number.parseInt(made[0]?.slice(1, 10) ?? '', 36)).toBe(1_700_000_000_000);
    expect(Number.parseInt(made[6]?.slice(1, 10) ?? '', 36)).toBe(1_800_000_000_000);
  });

  it('a full counter moves time on by a millisecond rather than wrapping', () => {
    const ids = new PushIds(
      () => 5,
      () => 0,
    );
    let last = ids.next();
    for (let i = 1; i < 36 ** 4 + 3; i++) {
      const id = ids.next();
      if (!(id > last)) throw new Error(`${id} does not sort after ${last}`);
      last = id;
    }
    expect(Number.parseInt(last.slice(1, 10), 36)).toBe(6);
  });

  it('two generators with the same clock are told apart by their random part', () => {
    const a = new PushIds(
      () => 1,
      () => 1,
    );
    const b = new PushIds(
      () => 1,
      () => 2,
    );
    expect(a.next()).not.toBe(b.next());
  });
});

describe('glob patterns', () => {
  const cases: [string, string, boolean][] = [
    ['*', '', true],
    ['*', 'anything:at all', true],
    ['user:*', 'user:1', true],
    ['user:*', 'user:', true],
    ['user:*', 'users:1', false],
    ['user:?', 'user:1', true],
    ['user:?', 'user:12', false],
    ['*:1', 'user:1', true],
    ['*:1', 'user:10', false],
    ['a*b*c', 'aXXbYYc', true],
    ['a*b*c', 'aXXbYY', false],
    ['???', 'abc', true],
    ['???', 'ab', false],
    ['?', '😀', true],
    ['a?c', 'a\nc', true],
    ['*', 'line\nbreak', true],
    ['\\*', '*', true],
    ['\\*', 'x', false],
    ['a\\?', 'a?', true],
    ['a\\?', 'ab', false],
    ['a\\\\b', 'a\\b', true],
    ['trailing\\', 'trailing\\', true],
    ['.+', '.+', true],
    ['.+', 'aa', false],
    ['[ab]', 'a', false],
    ['[ab]', '[ab]', true],
  ];
  it.each(cases)('%j against %j: %s', (pattern, key, matches) => {
    expect(globMatcher(pattern)(key)).toBe(matches);
  });

  it('takes time linear in the key for a pattern that makes a backtracking regex explode', () => {
    const key = 'a'.repeat(20_000);
    const started = performance.now();
    expect(globMatcher('*a*a*a*a*a*a*b')(key)).toBe(false);
    expect(performance.now() - started).toBeLessThan(2_000);
  });
});

describe('stash.set and get', () => {
  it('refuses to overwrite a key with KeyExistsError unless force: true', async () => {
    const stash = makeStash();
    await stash.set('user_emails', ['ada@example.com']);
    const refused = await stash.set('user_emails', ['grace@example.com']).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(KeyExistsError);
    expect(refused).toBeInstanceOf(SyncedCacheError);
    expect(refused).toMatchObject({
      name: 'KeyExistsError',
      code: 'ERR_SYNCED_CACHE_KEY_EXISTS',
      key: 'user_emails',
      message: 'key "user_emails" already exists (pass force: true to overwrite it)',
    });
    expect(ErrorCodes.KEY_EXISTS).toBe('ERR_SYNCED_CACHE_KEY_EXISTS');
    expect(await stash.get('user_emails')).toEqual(['ada@example.com']);
    await stash.set('user_emails', ['grace@example.com'], { force: true });
    expect(await stash.get('user_emails')).toEqual(['grace@example.com']);
    // force: false is the default spelled out.
    await expect(stash.set('user_emails', 1, { force: false })).rejects.toBeInstanceOf(KeyExistsError);
  });

  it('a key deleted or expired can be set again; ttl expires the entry', async () => {
    const stash = makeStash();
    await stash.set('a', 1);
    expect(await stash.delete('a')).toBe(true);
    expect(await stash.delete('a')).toBe(false);
    await stash.set('a', 2, { ttl: 50 });
    expect(await stash.get('a')).toBe(2);
    await waitFor(async () => (await stash.get('a')) === undefined, 'the entry to expire');
    await stash.set('a', 3);
    expect(await stash.get('a')).toBe(3);
  });

  it('falsy values are values: 0, "", false and null are stored and refused as existing', async () => {
    const stash = makeStash();
    for (const [i, value] of [0, '', false, null].entries()) {
      await stash.set(`k${i}`, value);
      expect(await stash.get(`k${i}`)).toBe(value);
      await expect(stash.set(`k${i}`, 'other')).rejects.toBeInstanceOf(KeyExistsError);
    }
  });
});

describe('stash.push, peek and pop', () => {
  it('push resolves an id under which get reads the value; peek shows the newest; pop takes them last-in first-out', async () => {
    const stash = makeStash<string>();
    const ids: string[] = [];
    for (const value of ['first', 'second', 'third']) ids.push(await stash.push(value));
    expect(ids.every(isPushId)).toBe(true);
    expect([...ids].sort()).toEqual(ids);
    expect(await stash.get(ids[0] as string)).toBe('first');
    expect(await stash.peek()).toBe('third');
    expect(await stash.peek()).toBe('third');
    expect(await stash.pop()).toBe('third');
    expect(await stash.get(ids[2] as string)).toBeUndefined();
    expect(await stash.pop()).toBe('second');
    expect(await stash.pop()).toBe('first');
    expect(await stash.pop()).toBeUndefined();
    expect(await stash.peek()).toBeUndefined();
  });

  it('names set with set() are neither peeked nor popped', async () => {
    const stash = makeStash();
    await stash.set('named', 'kept');
    expect(await stash.peek()).toBeUndefined();
    expect(await stash.pop()).toBeUndefined();
    await stash.push('pushed');
    expect(await stash.pop()).toBe('pushed');
    expect(await stash.pop()).toBeUndefined();
    expect(await stash.get('named')).toBe('kept');
  });

  it('skips deleted and expired entries', async () => {
    const stash = makeStash();
    await stash.push('oldest');
    const deleted = await stash.push('deleted');
    await stash.push('expiring', { ttl: 50 });
    expect(await stash.delete(deleted)).toBe(true);
    expect(await stash.peek()).toBe('expiring');
    await waitFor(async () => (await stash.peek()) === 'oldest', 'the newest entry to expire');
    expect(await stash.pop()).toBe('oldest');
    expect(await stash.pop()).toBeUndefined();
  });

  it('concurrent pops within one process never return one entry twice', async () => {
    const stash = makeStash<number>();
    for (let i = 0; i < 50; i++) await stash.push(i);
    const popped = await Promise.all(Array.from({ length: 60 }, () => stash.pop()));
    const values = popped.filter((v) => v !== undefined);
    expect(values).toHaveLength(50);
    expect(new Set(values).size).toBe(50);
  });

  it('values keep their type (objects, arrays, falsy values)', async () => {
    const stash = makeStash();
    for (const value of [{ a: [1, { b: 'c' }] }, [1, 2], 0, '', false, null]) {
      const id = await stash.push(value);
      expect(await stash.get(id)).toEqual(value);
      expect(await stash.pop()).toEqual(value);
    }
  });
});

describe('stash.ls', () => {
  it('lists every key, push ids included, sorted; filters with a glob; never the library own keys', async () => {
    const stash = makeStash();
    await stash.set('user:2', 1);
    await stash.set('user:1', 1);
    await stash.set('users', 1);
    await stash.set('report', 1);
    const id = await stash.push('x');
    // A key the library keeps for itself (an encryption salt, say), written beside the stash's.
    await stash.cache.keyv.set('__synced-cache:salt', 'secret');
    expect(await stash.ls()).toEqual([id, 'report', 'user:1', 'user:2', 'users'].sort());
    expect(await stash.ls('user:*')).toEqual(['user:1', 'user:2']);
    expect(await stash.ls('user?')).toEqual(['users']);
    expect(await stash.ls('_*')).toEqual([id]);
    expect(await stash.ls('nothing*')).toEqual([]);
    expect(await stash.ls('__synced-cache:*')).toEqual([]);
  });

  it('ls, peek and pop on a store that cannot list reject with a TypeError saying so; set, get and push still work', async () => {
    const stash = makeStash({ store: new UnlistableStore() });
    expect(stash.cache.canList).toBe(false);
    await stash.set('a', 1);
    expect(await stash.get('a')).toBe(1);
    const id = await stash.push('p');
    expect(await stash.get(id)).toBe('p');
    for (const method of ['ls', 'peek', 'pop'] as const) {
      const error = await stash[method]().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TypeError);
      expect((error as Error).message).toBe(
        `synced-cache: stash.${method}: the store of namespace ${JSON.stringify(stash.cache.namespace)} cannot list its keys ` +
          '(its Keyv adapter has no iterator()), and ls, peek and pop need a listing: use a store that can (Redis, PostgreSQL, SQLite, the in-memory default)',
      );
    }
  });
});

describe('push and pop events on stash.cache', () => {
  it("'push' and 'pop' carry the id, the time and the instance", async () => {
    const stash = makeStash();
    const seen: [string, StashEvent][] = [];
    stash.cache.on('push', (e) => seen.push(['push', e]));
    stash.cache.on('pop', (e) => seen.push(['pop', e]));
    const before = Date.now();
    const id = await stash.push('v');
    await stash.pop();
    expect(seen).toEqual([
      ['push', { key: id, at: expect.any(Number), instance: stash.cache.instanceId }],
      ['pop', { key: id, at: expect.any(Number), instance: stash.cache.instanceId }],
    ]);
    for (const [, e] of seen) expect(e.at).toBeGreaterThanOrEqual(before);
    expect((seen[1] as [string, StashEvent])[1].at).toBeGreaterThanOrEqual((seen[0] as [string, StashEvent])[1].at);
    // An empty pop pops nothing and says nothing.
    expect(await stash.pop()).toBeUndefined();
    expect(seen).toHaveLength(2);
  });

  it('are not emitted at all while nobody listens and the cache streams no events', async () => {
    const stash = makeStash();
    const emit = vi.spyOn(stash.cache as EventEmitter, 'emit');
    const stashEvents = () => emit.mock.calls.map((call) => call[0]).filter((e) => e === 'push' || e === 'pop');
    await stash.push('v');
    await stash.pop();
    expect(stashEvents()).toEqual([]);
    const listener = () => {};
    stash.cache.on('pop', listener);
    await stash.push('w');
    await stash.pop();
    expect(stashEvents()).toEqual(['pop']);
  });

  it('a listener that throws does not lose the popped value: the pop resolves, the error goes to "error"', async () => {
    const stash = makeStash();
    const errors: Error[] = [];
    stash.cache.on('error', (e) => errors.push(e));
    stash.cache.on('pop', () => {
      throw new Error('listener broke');
    });
    await stash.push('precious');
    expect(await stash.pop()).toBe('precious');
    expect(errors.map((e) => e.message)).toEqual(['listener broke']);
  });
});

describe('bad input is refused, naming the argument, before anything is touched', () => {
  it('keys, options, values and patterns', async () => {
    const stash = makeStash();
    await stash.set('taken', 'original');
    const cases: [() => Promise<unknown>, typeof TypeError, string][] = [
      [() => stash.set(42 as unknown as string, 1), TypeError, 'synced-cache: stash.set: key must be a string, got number'],
      [() => stash.set('', 1), TypeError, 'synced-cache: stash.set: key must not be empty'],
      [() => stash.get(undefined as unknown as string), TypeError, 'synced-cache: stash.get: key must be a string, got undefined'],
      [() => stash.delete(null as unknown as string), TypeError, 'synced-cache: stash.delete: key must be a string, got null'],
      [
        () => stash.set('taken', 1, { forse: true } as never),
        TypeError,
        'synced-cache: stash.set: unknown option "forse" (did you mean "force"?); known options: ttl, force',
      ],
      [
        () => stash.set('taken', 1, { force: 'yes' } as never),
        TypeError,
        'synced-cache: stash.set: option "force" must be true or false, got "yes"',
      ],
      [
        () => stash.set('taken', 1, { force: true, ttl: -1 }),
        RangeError,
        'synced-cache: stash.set: option "ttl" must be a finite number of milliseconds >= 0 (0 means no expiry), got -1',
      ],
      [
        () => stash.set('taken', 1, { force: true, ttl: '1h' } as never),
        TypeError,
        'synced-cache: stash.set: option "ttl" must be a number of milliseconds, got "1h"',
      ],
      [
        () => stash.set('taken', 1, 5_000 as never),
        TypeError,
        'synced-cache: stash.set: options must be an object { ttl, force }, got 5000',
      ],
      [
        () => stash.push(undefined),
        TypeError,
        'synced-cache: stash.push: value must not be undefined (get and pop answer undefined for "nothing")',
      ],
      [
        () => stash.push(1, { ttl: 1, force: true } as never),
        TypeError,
        'synced-cache: stash.push: unknown option "force"; known options: ttl',
      ],
      [
        () => stash.push(1, { ttl: Number.POSITIVE_INFINITY }),
        RangeError,
        'synced-cache: stash.push: option "ttl" must be a finite number of milliseconds >= 0 (0 means no expiry), got Infinity',
      ],
      [() => stash.push(1, [] as never), TypeError, 'synced-cache: stash.push: options must be an object { ttl }, got an array'],
      [() => stash.ls(7 as unknown as string), TypeError, 'synced-cache: stash.ls: pattern must be a string, got 7'],
      [
        () => Reflect.apply(stash.peek, stash, ['taken']) as Promise<unknown>,
        TypeError,
        'synced-cache: stash.peek: takes no arguments (it shows the newest push), got "taken"; read a key with get(key)',
      ],
      [
        () => Reflect.apply(stash.pop, stash, ['taken']) as Promise<unknown>,
        TypeError,
        'synced-cache: stash.pop: takes no arguments (it takes the newest push), got "taken"; read a key with get(key)',
      ],
      [
        () => stash.set('taken', new Date(), { force: true }),
        TypeError,
        'synced-cache: cannot set key "taken": the value is a Date, which the store\'s serializer does not give back as a Date; store date.toISOString() or date.getTime()',
      ],
    ];
    for (const [call, Err, message] of cases) {
      const error = await call().catch((e: unknown) => e);
      expect({ message: (error as Error)?.message, cls: (error as Error)?.constructor?.name }).toEqual({ message, cls: Err.name });
    }
    expect(await stash.get('taken')).toBe('original');
    expect(await stash.ls()).toEqual(['taken']);
  });

  it('the options of the cache are checked as SyncedCache checks them', () => {
    expect(() => new Stash({ namepsace: 'x' } as never)).toThrow(/unknown option "namepsace" \(did you mean "namespace"\?\)/);
  });

  it('after close, every method rejects with CacheClosedError', async () => {
    const stash = new Stash();
    await stash.close();
    await stash.close();
    for (const call of [() => stash.set('a', 1), () => stash.get('a'), () => stash.push(1), () => stash.pop(), () => stash.ls()]) {
      await expect(call()).rejects.toBeInstanceOf(CacheClosedError);
    }
  });
});

describe('types', () => {
  it('types values, ids, the cache and its push/pop events (checked by tsc)', () => {
    interface Note {
      text: string;
    }
    // Never called: the body is only type-checked.
    const check = (stash: Stash<Note>) => {
      expectTypeOf(stash.get('k')).toEqualTypeOf<Promise<Note | undefined>>();
      expectTypeOf(stash.push({ text: 'x' })).toEqualTypeOf<Promise<string>>();
      expectTypeOf(stash.peek()).toEqualTypeOf<Promise<Note | undefined>>();
      expectTypeOf(stash.pop()).toEqualTypeOf<Promise<Note | undefined>>();
      expectTypeOf(stash.ls('a*')).toEqualTypeOf<Promise<string[]>>();
      expectTypeOf(stash.delete('k')).toEqualTypeOf<Promise<boolean>>();
      expectTypeOf(stash.set).parameter(1).toEqualTypeOf<Note>();
      expectTypeOf(stash.cache).toEqualTypeOf<SyncedCache<Note>>();
      stash.cache.on('push', (event) => expectTypeOf(event).toEqualTypeOf<StashEvent>());
      stash.cache.on('pop', (event) => expectTypeOf(event.instance).toEqualTypeOf<string | undefined>());
      // @ts-expect-error: force is an option of set, not of push
      void stash.push({ text: 'x' }, { force: true });
    };
    expect(typeof check).toBe('function');
  });
});
