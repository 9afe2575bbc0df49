import { describe, expect, it } from 'vitest';
import { BroadcastChannelTransport } from '../../src/index.js';
import { makeCache, uniqueNamespace } from '../helpers/factory.js';
import { deferred, waitFor } from '../helpers/wait.js';

// The README promises that a getOrSet result is not stored when the key changed while the loader ran:
// the change (here or in another process) wins over a value loaded before it.
describe('getOrSet: a change during the load wins', () => {
  it('a delete in this process while the loader runs: the loaded value is returned, not stored', async () => {
    const cache = makeCache<string>();
    const started = deferred();
    const gate = deferred();
    const loading = cache.getOrSet('k', async () => {
      started.resolve();
      await gate.promise;
      return 'loaded before the delete';
    });
    await started.promise;
    await cache.delete('k');
    gate.resolve();
    expect(await loading).toBe('loaded before the delete');
    expect(await cache.keyv.get('k')).toBeUndefined();
    expect(await cache.get('k')).toBeUndefined();
  });

  it("a set in another process while the loader runs: the other process's value stays, in the store and in memory", async () => {
    const namespace = uniqueNamespace('get-or-set');
    const transport = new BroadcastChannelTransport();
    const store = new Map();
    const a = makeCache<string>({ namespace, store, transport });
    const b = makeCache<string>({ namespace, store, transport });
    await Promise.all([a.ready(), b.ready()]);
    const started = deferred();
    const gate = deferred();
    const loading = a.getOrSet('k', async () => {
      started.resolve();
      await gate.promise;
      return 'old';
    });
    await started.promise;
    await b.set('k', 'new');
    await waitFor(() => a.stats().invalidations.received === 1, "b's invalidation to reach a");
    gate.resolve();
    expect(await loading).toBe('old');
    expect(await a.keyv.get('k')).toBe('new');
    expect(await a.get('k')).toBe('new');
    expect(await b.get('k')).toBe('new');
  });
});
