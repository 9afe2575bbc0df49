import { describe, expectTypeOf, it } from 'vitest';
import type {
  BusTransport,
  EventStamp,
  EventsOptions,
  HitEvent,
  InvalidateEvent,
  KeyEvent,
  StampEvent,
  StoreError,
  SyncedCache,
  SyncedCacheError,
  SyncedCacheOptions,
  SyncedCacheStats,
} from '../../src/index.js';
import { logEvents } from '../../src/index.js';

// Checked by `tsc --noEmit` (part of `npm test`); at run time these assertions are no-ops.
describe('public types', () => {
  it('types values, events, stats and options', () => {
    interface User {
      id: number;
    }
    // Never called: the body is only type-checked.
    const check = (cache: SyncedCache<User>) => {
      expectTypeOf(cache.get('k')).toEqualTypeOf<Promise<User | undefined>>();
      expectTypeOf(cache.getMany(['a'])).toEqualTypeOf<Promise<(User | undefined)[]>>();
      expectTypeOf(cache.peek('k')).toEqualTypeOf<User | undefined>();
      expectTypeOf(cache.set).parameter(1).toEqualTypeOf<User>();
      // A loader that always returns a value gives a value; one that may return undefined, maybe not.
      expectTypeOf(cache.getOrSet('k', async () => ({ id: 1 }))).toEqualTypeOf<Promise<User>>();
      expectTypeOf(cache.getOrSet('k', () => ({ id: 1 }))).toEqualTypeOf<Promise<User>>();
      expectTypeOf(cache.getOrSet('k', async () => (Math.random() > 0.5 ? { id: 1 } : undefined))).toEqualTypeOf<
        Promise<User | undefined>
      >();
      expectTypeOf(cache.getOrSet('k', async () => ({ id: 1 }), 1_000)).toEqualTypeOf<Promise<User>>();
      expectTypeOf(cache.keys()).toEqualTypeOf<AsyncGenerator<string, void>>();
      expectTypeOf(cache.entries()).toEqualTypeOf<AsyncGenerator<[string, User], void>>();
      expectTypeOf(cache.stats()).toEqualTypeOf<SyncedCacheStats>();
      // A typed cache is a SyncedCache: cacheResponses and the session store take any cache.
      expectTypeOf(cache).toExtend<SyncedCache>();
      expectTypeOf<SyncedCache<string>>().toExtend<SyncedCache<unknown>>();
      expectTypeOf<SyncedCacheStats['bus']>().toEqualTypeOf<'up' | 'down' | 'off'>();
      cache.on('hit', (event) => expectTypeOf(event).toEqualTypeOf<HitEvent>());
      cache.on('invalidate', (event) => expectTypeOf(event).toEqualTypeOf<InvalidateEvent>());
      cache.on('error', (error) => expectTypeOf(error).toEqualTypeOf<Error>());
      cache.on('expire', (event) => expectTypeOf(event).toEqualTypeOf<KeyEvent>());
      cache.on('clear', (event) => expectTypeOf(event).toEqualTypeOf<StampEvent>());
      cache.on('bus:up', (event) => expectTypeOf(event).toEqualTypeOf<StampEvent>());
      expectTypeOf<StampEvent>().toEqualTypeOf<EventStamp>();
      expectTypeOf<HitEvent>().toMatchTypeOf<EventStamp>();
      expectTypeOf(cache.instanceId).toEqualTypeOf<string>();
      expectTypeOf(cache.stats().events).toEqualTypeOf<{ published: number; dropped: number }>();
      expectTypeOf<NonNullable<SyncedCacheOptions['events']>>().toEqualTypeOf<EventsOptions>();
      expectTypeOf(logEvents(cache)).toEqualTypeOf<() => void>();
      // @ts-expect-error: emit is typed like on
      cache.emit('set', { key: 'k' });
      expectTypeOf<SyncedCacheOptions['ttl']>().toEqualTypeOf<number | undefined>();
      expectTypeOf<SyncedCacheOptions['transport']>().toEqualTypeOf<BusTransport | undefined>();
      expectTypeOf<StoreError>().toMatchTypeOf<SyncedCacheError>();
      // @ts-expect-error: values are typed
      void cache.set('k', 'not a user');
      // @ts-expect-error: unknown events are refused
      cache.on('nope', () => {});
    };
    expectTypeOf(check).parameter(0).toEqualTypeOf<SyncedCache<User>>();
  });
});
