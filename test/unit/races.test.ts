import { describe, expect, it } from 'vitest';
import { BroadcastChannelTransport, type SyncedCache } from '../../src/index.js';
import { ControlledStore } from '../helpers/controlled-store.js';
import { makeCache, uniqueNamespace } from '../helpers/factory.js';
import { waitFor } from '../helpers/wait.js';

// Each race is driven step by step: the store holds the calls, the test releases them in the order
// that would leave a stale value in memory without the fences.

/**
 * Starts set('k', 'first') then set('k', 'second'), both held by the store: before they reach it
 * ('hold'), or after they have landed, with their replies held ('holdReply').
 */
async function twoHeldWrites(store: ControlledStore, cache: SyncedCache<string>, how: 'hold' | 'holdReply') {
  store[how]('set', 2);
  const first = cache.set('k', 'first');
  const a = await store.whenHeld('set');
  const second = cache.set('k', 'second');
  const b = await store.whenHeld('set');
  return { first, a, second, b };
}

describe('local races (one process: no message arrives, fences alone must hold)', () => {
  it('a get that read the store before an overlapping set does not refill memory with the old value', async () => {
    const store = new ControlledStore();
    const cache = makeCache<string>({ store });
    await cache.keyv.set('k', 'old');
    store.hold('get');
    const read = cache.get('k');
    const held = await store.whenHeld('get');
    await cache.set('k', 'new');
    held.release();
    expect(await read).toBe('old');
    expect(await cache.get('k')).toBe('new');
    expect(await cache.get('k')).toBe('new');
  });

  it('a get that starts during a set and finishes before it cannot leave the old value behind', async () => {
    const store = new ControlledStore();
    const cache = makeCache<string>({ store });
    await cache.keyv.set('k', 'old');
    store.hold('set');
    const write = cache.set('k', 'new');
    const heldWrite = await store.whenHeld('set');
    expect(await cache.get('k')).toBe('old');
    heldWrite.release();
    await write;
    expect(await cache.get('k')).toBe('new');
  });

  it('a get that starts during a set and finishes after it does not refill memory (fence at the end of the write)', async () => {
    const store = new ControlledStore();
    const cache = makeCache<string>({ store });
    await cache.keyv.set('k', 'old');
    store.hold('set');
    const write = cache.set('k', 'new');
    const heldWrite = await store.whenHeld('set');
    store.hold('get');
    const read = cache.get('k');
    const heldRead = await store.whenHeld('get');
    heldWrite.release();
    await write;
    heldRead.release();
    expect(await read).toBe('old');
    expect(await cache.get('k')).toBe('new');
    const fromStore = cache.stats().hits.store;
    expect(await cache.get('k')).toBe('new');
    expect(cache.stats().hits.store).toBe(fromStore);
  });

  it('a get overlapping a delete does not bring the deleted value back', async () => {
    const store = new ControlledStore();
    const cache = makeCache<string>({ store });
    await cache.keyv.set('k', 'old');
    store.hold('get');
    const read = cache.get('k');
    const held = await store.whenHeld('get');
    await cache.delete('k');
    held.release();
    expect(await read).toBe('old');
    expect(await cache.get('k')).toBeUndefined();
  });

  it('a get overlapping a clear does not bring the cleared value back', async () => {
    const store = new ControlledStore();
    const cache = makeCache<string>({ store });
    await cache.keyv.set('k', 'old');
    store.hold('get');
    const read = cache.get('k');
    const held = await store.whenHeld('get');
    await cache.clear();
    held.release();
    expect(await read).toBe('old');
    expect(await cache.get('k')).toBeUndefined();
  });

  it('two concurrent writes of one key leave memory equal to what the store ended with', async () => {
    const store = new ControlledStore();
    const cache = makeCache<string>({ store });
    const { first, a, second, b } = await twoHeldWrites(store, cache, 'hold');
    // The second write lands first, the first write last: the store ends with 'first'.
    b.release();
    await second;
    a.release();
    await first;
    expect(await cache.keyv.get('k')).toBe('first');
    expect(await cache.get('k')).toBe('first');
    expect(await cache.get('k')).toBe('first');
  });

  it('the same two writes released in the other order also agree with the store', async () => {
    const store = new ControlledStore();
    const cache = makeCache<string>({ store });
    const { first, a, second, b } = await twoHeldWrites(store, cache, 'hold');
    a.release();
    await first;
    b.release();
    await second;
    expect(await cache.keyv.get('k')).toBe('second');
    expect(await cache.get('k')).toBe('second');
  });

  it('two writes whose replies come back in the other order than they landed leave no stale memory', async () => {
    const store = new ControlledStore();
    const cache = makeCache<string>({ store });
    const { first, a, second, b } = await twoHeldWrites(store, cache, 'holdReply');
    // Both have landed, 'second' last; the reply of 'second' comes back first.
    expect(await cache.keyv.get('k')).toBe('second');
    b.release();
    await second;
    a.release();
    await first;
    expect(await cache.get('k')).toBe('second');
    expect(await cache.get('k')).toBe('second');
  });

  it('a caller arriving after an invalidation does not join a read that started before it', async () => {
    const store = new ControlledStore();
    const cache = makeCache<string>({ store });
    await cache.keyv.set('k', 'old');
    store.hold('get');
    const early = cache.get('k');
    const held = await store.whenHeld('get');
    const joined = cache.get('k');
    await cache.delete('k');
    const late = cache.get('k');
    held.release();
    expect(await early).toBe('old');
    expect(await joined).toBe('old');
    expect(await late).toBeUndefined();
    expect(store.calls.get).toBe(2);
  });
});

describe('remote races (two instances on an in-process bus)', () => {
  it("a read in flight when another instance's invalidation arrives returns the old value but does not cache it", async () => {
    const namespace = uniqueNamespace();
    const shared = new Map<string, unknown>();
    const storeB = new ControlledStore(shared);
    const transport = new BroadcastChannelTransport();
    const a = makeCache<string>({ namespace, store: new ControlledStore(shared), transport });
    const b = makeCache<string>({ namespace, store: storeB, transport });
    await waitFor(() => a.stats().bus === 'up' && b.stats().bus === 'up', 'both buses up');
    await a.set('k', 'old');
    storeB.hold('get');
    const read = b.get('k');
    const held = await storeB.whenHeld('get');
    await a.set('k', 'new');
    await waitFor(() => b.stats().invalidations.received >= 2, 'B to receive the invalidation');
    held.release();
    expect(await read).toBe('old');
    expect(await b.get('k')).toBe('new');
    expect(await b.get('k')).toBe('new');
    expect(b.stats().hits.memory).toBe(1);
  });
});
