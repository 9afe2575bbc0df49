// A store that hangs or fails must never hang the caller, and a write in doubt must stay coherent.
import { describe, expect, it } from 'vitest';
import { type BreakerState, ErrorCodes, StoreError, StoreTimeoutError, StoreUnavailableError } from '../../src/index.js';
import { manualClock } from '../helpers/clock.js';
import { ControlledStore } from '../helpers/controlled-store.js';
import { makeCache, uniqueNamespace } from '../helpers/factory.js';
import { announced, Hub } from '../helpers/hub.js';
import { waitFor } from '../helpers/wait.js';

async function elapsed<T>(work: Promise<T>): Promise<{ ms: number; result: T | undefined; error: unknown }> {
  const start = performance.now();
  try {
    const result = await work;
    return { ms: performance.now() - start, result, error: undefined };
  } catch (error) {
    return { ms: performance.now() - start, result: undefined, error };
  }
}

describe('storeTimeout', () => {
  it('a store that never answers fails get, set, delete, has and clear within the timeout, with StoreTimeoutError', async () => {
    const store = new ControlledStore();
    const cache = makeCache<number>({ store, storeTimeout: 80, circuitBreaker: false });
    // `iterate` too: Keyv 6's clear() lists the namespace and deletes what it found.
    for (const op of ['get', 'set', 'delete', 'has', 'clear', 'iterate'] as const) store.hold(op, 100);
    for (const [name, call] of [
      ['get', () => cache.get('k')],
      ['set', () => cache.set('k', 1)],
      ['delete', () => cache.delete('k')],
      ['has', () => cache.has('k')],
      ['clear', () => cache.clear()],
    ] as const) {
      const { ms, error } = await elapsed<unknown>(call());
      expect({ name, error: error instanceof StoreTimeoutError }).toEqual({ name, error: true });
      expect((error as StoreTimeoutError).code).toBe(ErrorCodes.STORE_TIMEOUT);
      expect((error as StoreTimeoutError).operation).toBe(name);
      expect(error).toBeInstanceOf(StoreError);
      expect(ms).toBeLessThan(80 + 400);
    }
    expect((await elapsed(cache.get('k'))).error).toMatchObject({ key: 'k', message: 'store get for key "k" timed out after 80 ms' });
  });

  it('a write that timed out is announced at once, and again when it finally lands; memory does not keep it', async () => {
    const namespace = uniqueNamespace();
    const hub = new Hub();
    const store = new ControlledStore();
    const writer = makeCache<string>({ namespace, store, transport: hub.transport(), storeTimeout: 50, circuitBreaker: false });
    const reader = makeCache<string>({ namespace, store, transport: hub.transport(), storeTimeout: 50, circuitBreaker: false });
    await waitFor(() => writer.stats().bus === 'up' && reader.stats().bus === 'up', 'buses up');
    await writer.set('k', 'old');
    expect(await reader.get('k')).toBe('old');
    store.hold('set');
    await expect(writer.set('k', 'new')).rejects.toThrow(StoreTimeoutError);
    expect(announced(hub, namespace).slice(-1)).toEqual([['k']]);
    // The reader dropped its copy, read the store again (still the old value) and keeps that.
    expect(await reader.get('k')).toBe('old');
    expect(reader.peek('k')).toBe('old');
    expect(writer.peek('k')).toBeUndefined();
    // The write lands late: it is announced again, and the reader's old copy goes.
    (await store.whenHeld('set')).release();
    await waitFor(() => announced(hub, namespace).length === 3, 'the second announcement');
    await waitFor(() => reader.peek('k') === undefined, 'the reader to drop the old value');
    expect(await reader.get('k')).toBe('new');
  });

  it('close() with the store frozen returns within about storeTimeout: the write in flight times out and is announced', async () => {
    const namespace = uniqueNamespace();
    const hub = new Hub();
    const store = new ControlledStore();
    const cache = makeCache<number>({ namespace, store, transport: hub.transport(), storeTimeout: 100, circuitBreaker: false });
    await waitFor(() => cache.stats().bus === 'up', 'bus up');
    store.hold('set');
    const write = cache.set('k', 1);
    await store.whenHeld('set');
    const { ms } = await elapsed(cache.close());
    expect(ms).toBeLessThan(100 + 400);
    await expect(write).rejects.toThrow(StoreTimeoutError);
    expect(announced(hub, namespace)).toEqual([['k']]);
  });
});

describe('circuitBreaker', () => {
  it('opens after threshold failures, fails fast without touching the store, lets one trial through after the cooldown', async () => {
    const clock = manualClock();
    const store = new ControlledStore();
    const cache = makeCache<number>({ store, clock, circuitBreaker: { threshold: 2, cooldown: 1_000 } });
    const states: BreakerState[] = [];
    cache.on('breaker', ({ state }) => states.push(state));
    await cache.set('hot', 1);
    store.fail('get');
    await expect(cache.get('a')).rejects.toThrow(StoreError);
    await expect(cache.get('b')).rejects.toThrow(StoreError);
    expect(states).toEqual(['open']);
    expect(cache.stats().breaker).toEqual({ state: 'open', opened: 1 });
    const calls = store.calls.get;
    const refused = await elapsed(cache.get('c'));
    expect(refused.error).toBeInstanceOf(StoreUnavailableError);
    expect((refused.error as StoreUnavailableError).code).toBe(ErrorCodes.STORE_UNAVAILABLE);
    expect(store.calls.get).toBe(calls);
    // Trusted memory hits go on being served.
    expect(await cache.get('hot')).toBe(1);
    // After the cooldown one trial is let through; it fails, and the breaker opens again.
    clock.advance(1_000);
    await expect(cache.get('d')).rejects.toThrow(/injected get failure/);
    expect(store.calls.get).toBe(calls + 1);
    expect(states).toEqual(['open', 'half-open', 'open']);
    await expect(cache.get('e')).rejects.toThrow(StoreUnavailableError);
    // The store heals; the next trial closes the breaker.
    store.heal('get');
    clock.advance(1_000);
    expect(await cache.get('f')).toBeUndefined();
    expect(states).toEqual(['open', 'half-open', 'open', 'half-open', 'closed']);
    expect(cache.stats().breaker).toEqual({ state: 'closed', opened: 2 });
  });

  it('while half-open, only the trial reaches the store; a write the breaker refused is not announced', async () => {
    const clock = manualClock();
    const namespace = uniqueNamespace();
    const hub = new Hub();
    const store = new ControlledStore();
    const cache = makeCache<number>({
      namespace,
      store,
      clock,
      transport: hub.transport(),
      circuitBreaker: { threshold: 1, cooldown: 100 },
    });
    await waitFor(() => cache.stats().bus === 'up', 'bus up');
    store.fail('set');
    await expect(cache.set('a', 1)).rejects.toThrow(/injected set failure/);
    // A failed write may have landed: it was announced.
    expect(announced(hub, namespace)).toEqual([['a']]);
    await expect(cache.set('b', 1)).rejects.toThrow(StoreUnavailableError);
    // Refused by the breaker: nothing reached the store, nothing to announce.
    expect(announced(hub, namespace)).toEqual([['a']]);
    store.heal('set');
    clock.advance(100);
    store.hold('get');
    const trial = cache.get('x');
    await store.whenHeld('get').then((held) => {
      // The trial is in flight: everything else still fails at once.
      return expect(cache.get('y'))
        .rejects.toThrow(StoreUnavailableError)
        .then(() => held.release());
    });
    expect(await trial).toBeUndefined();
    expect(cache.stats().breaker.state).toBe('closed');
  });
});
