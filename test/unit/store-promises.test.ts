// What the store tier promises whatever Keyv does behind a caller's back: Keyv's reads delete the expired
// entries they find (unfenced and unannounced), and its batch writes without adapter batch methods
// reject on the first failed key while the others are still in flight.
import { describe, expect, it } from 'vitest';
import { StoreError } from '../../src/index.js';
import { ControlledStore } from '../helpers/controlled-store.js';
import { makeCache, uniqueNamespace } from '../helpers/factory.js';
import { announced, Hub } from '../helpers/hub.js';
import { adapterKey } from '../helpers/keyv-generation.js';
import { waitFor } from '../helpers/wait.js';

/** Writes `key` through `cache` with a ttl and waits until it has expired (the store keeps it: it has no native expiry). */
async function expire(cache: { set(key: string, value: string, options: { ttl: number }): Promise<void> }, key: string): Promise<void> {
  // Long enough to reach the store alive: Keyv 6's bridge deletes instead of writing an entry already expired.
  await cache.set(key, 'gone', { ttl: 30 });
  const until = Date.now() + 31;
  while (Date.now() <= until) await new Promise((resolve) => setTimeout(resolve, 5));
}

describe('a read of an expired entry', () => {
  it('deletes nothing: a write that lands between the read and what Keyv would delete is kept', async () => {
    const namespace = uniqueNamespace();
    const store = new ControlledStore();
    const writer = makeCache<string>({ namespace, store });
    const reader = makeCache<string>({ namespace, store });
    await expire(writer, 'flag');
    const deletes = store.calls.delete;
    store.hold('get');
    const read = reader.get('flag');
    // The reader has read the expired record from the store; its answer is held here.
    const held = await store.whenHeld('get');
    await writer.set('flag', 'v2');
    held.release();
    expect(await read).toBeUndefined();
    expect(store.calls.delete).toBe(deletes);
    expect(await makeCache<string>({ namespace, store }).get('flag')).toBe('v2');
  });

  it('is a miss for get, getMany, has and entries(), and none of them deletes it', async () => {
    const namespace = uniqueNamespace();
    // A store without native expiry, as PostgreSQL or SQLite, that the cache can list.
    const store = new ControlledStore();
    const cache = makeCache<string>({ namespace, store });
    await expire(cache, 'old');
    await cache.set('live', 'here');
    const deletes = store.calls.delete;
    expect(await cache.get('old')).toBeUndefined();
    expect(await cache.getMany(['old', 'live'])).toEqual([undefined, 'here']);
    expect(await cache.has('old')).toBe(false);
    expect(await cache.has('live')).toBe(true);
    const listed: [string, string][] = [];
    for await (const entry of cache.entries()) listed.push(entry);
    expect(listed).toEqual([['live', 'here']]);
    expect(store.calls.delete).toBe(deletes);
    expect(store.inner.has(adapterKey(namespace, 'old'))).toBe(true);
  });
});

describe('a batch write on an adapter without batch methods', () => {
  it('setMany announces only once every write has settled, the failed one included', async () => {
    const namespace = uniqueNamespace();
    const hub = new Hub();
    const store = new ControlledStore();
    const cache = makeCache<number>({ namespace, store, transport: hub.transport() });
    makeCache<number>({ namespace, store, transport: hub.transport() });
    await waitFor(() => cache.stats().bus === 'up', 'the bus to come up');
    store.failKey(adapterKey(namespace, 'b'));
    // The write of "a" is held before it reaches the store; the write of "b" fails at once.
    store.hold('set');
    const batch = cache.setMany([
      { key: 'a', value: 2 },
      { key: 'b', value: 2 },
    ]);
    const held = await store.whenHeld('set');
    await new Promise((resolve) => setImmediate(resolve));
    expect(announced(hub, namespace)).toEqual([]);
    held.release();
    await expect(batch).rejects.toThrow(StoreError);
    await expect(batch).rejects.toThrow(/store setMany \(\d keys\) failed/);
    expect(announced(hub, namespace)).toEqual([['a', 'b']]);
    expect(store.inner.has(adapterKey(namespace, 'a'))).toBe(true);
  });

  it('deleteMany announces only once every delete has settled, the failed one included', async () => {
    const namespace = uniqueNamespace();
    const hub = new Hub();
    const store = new ControlledStore();
    const cache = makeCache<number>({ namespace, store, transport: hub.transport() });
    await waitFor(() => cache.stats().bus === 'up', 'the bus to come up');
    await cache.setMany([
      { key: 'a', value: 1 },
      { key: 'b', value: 1 },
    ]);
    const before = announced(hub, namespace).length;
    store.failKey(adapterKey(namespace, 'b'));
    store.hold('delete');
    const batch = cache.deleteMany(['a', 'b']);
    const held = await store.whenHeld('delete');
    await new Promise((resolve) => setImmediate(resolve));
    expect(announced(hub, namespace).length).toBe(before);
    held.release();
    await expect(batch).rejects.toThrow(StoreError);
    expect(announced(hub, namespace).slice(before)).toEqual([['a', 'b']]);
    expect(store.inner.has(adapterKey(namespace, 'a'))).toBe(false);
  });
});

describe('a store adapter shared by many caches over time', () => {
  it('keeps no listener of a closed cache (Keyv adds one per cache; close() takes it off)', async () => {
    const store = new ControlledStore();
    const before = store.listenerCount('error');
    for (let i = 0; i < 15; i++) {
      const cache = makeCache({ namespace: 'shared', store });
      await cache.get('k');
      await cache.clear();
      await cache.close();
    }
    expect(store.listenerCount('error')).toBe(before);
  });
});
