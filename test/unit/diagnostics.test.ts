import diagnostics from 'node:diagnostics_channel';
import { describe, expect, it, onTestFinished } from 'vitest';
import { BroadcastChannelTransport, DIAGNOSTICS_CHANNELS, StoreError } from '../../src/index.js';
import { ControlledStore } from '../helpers/controlled-store.js';
import { makeCache, uniqueNamespace } from '../helpers/factory.js';
import { waitFor } from '../helpers/wait.js';

function record(name: string): unknown[] {
  const seen: unknown[] = [];
  const listener = (message: unknown) => seen.push(message);
  diagnostics.subscribe(name, listener);
  onTestFinished(() => {
    diagnostics.unsubscribe(name, listener);
  });
  return seen;
}

describe('diagnostics_channel', () => {
  it('publishes writes, publishes, invalidations, flushes and bus changes to subscribers', async () => {
    const writes = record(DIAGNOSTICS_CHANNELS.write);
    const publishes = record(DIAGNOSTICS_CHANNELS.publish);
    const invalidations = record(DIAGNOSTICS_CHANNELS.invalidate);
    const flushes = record(DIAGNOSTICS_CHANNELS.flush);
    const bus = record(DIAGNOSTICS_CHANNELS.bus);
    const namespace = uniqueNamespace();
    const transport = new BroadcastChannelTransport();
    const store = new Map();
    const a = makeCache({ namespace, store, transport });
    const b = makeCache({ namespace, store, transport });
    await waitFor(() => a.stats().bus === 'up' && b.stats().bus === 'up', 'buses up');
    expect(bus).toContainEqual({ namespace, instanceId: a.instanceId, status: 'up', previous: 'connecting' });
    await a.set('k', 1);
    await a.delete('k');
    await a.clear();
    expect(writes).toMatchObject([
      { namespace, operation: 'set', keys: ['k'] },
      { namespace, operation: 'delete', keys: ['k'] },
      { namespace, operation: 'clear', keys: '*' },
    ]);
    expect((writes[0] as { durationMs: number }).durationMs).toBeGreaterThanOrEqual(0);
    expect(publishes).toEqual([
      { namespace, instanceId: a.instanceId, keys: ['k'] },
      { namespace, instanceId: a.instanceId, keys: ['k'] },
      { namespace, instanceId: a.instanceId, keys: '*' },
    ]);
    await waitFor(() => invalidations.length === 3, 'B to apply three messages');
    expect(invalidations[0]).toEqual({ namespace, instanceId: b.instanceId, origin: a.instanceId, keys: ['k'] });
    expect(flushes).toEqual([{ namespace, instanceId: b.instanceId, cause: 'clear' }]);
  });

  it('traces batch writes like every other write', async () => {
    const writes = record(DIAGNOSTICS_CHANNELS.write);
    const namespace = uniqueNamespace();
    const cache = makeCache({ namespace });
    await cache.setMany([
      { key: 'a', value: 1 },
      { key: 'b', value: 2 },
    ]);
    await cache.deleteMany(['a', 'b']);
    expect(writes).toMatchObject([
      { namespace, operation: 'set', keys: ['a', 'b'] },
      { namespace, operation: 'delete', keys: ['a', 'b'] },
    ]);
  });

  it('reports a failed store write with its error, and nothing for input rejected before any write', async () => {
    const writes = record(DIAGNOSTICS_CHANNELS.write);
    const store = new ControlledStore();
    const cache = makeCache({ store });
    await expect(cache.set('k', () => 1)).rejects.toThrow(TypeError);
    expect(writes).toHaveLength(0);
    store.fail('set');
    const error = await cache.set('k', 1).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreError);
    expect(writes).toEqual([expect.objectContaining({ operation: 'set', keys: ['k'], error })]);
  });
});
