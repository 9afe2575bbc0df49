import { describe, expect, it, vi } from 'vitest';
import { BroadcastChannelTransport, SyncedCache } from '../../src/index.js';
import { ControlledStore } from '../helpers/controlled-store.js';
import { makeCache, uniqueNamespace } from '../helpers/factory.js';
import { Hub } from '../helpers/hub.js';
import { waitFor } from '../helpers/wait.js';

// Regressions found in review: each scenario left another process serving an overwritten value, or
// wedged the bus, before it was fixed.

const turns = async (n: number) => {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
};

describe('robustness', () => {
  it('close() during a write lets the write finish and announce itself', async () => {
    const hub = new Hub();
    const shared = new Map<string, unknown>();
    const storeA = new ControlledStore(shared);
    const a = new SyncedCache<string>({ namespace: 'ci', store: storeA, transport: hub.transport() });
    const b = makeCache<string>({ namespace: 'ci', store: new ControlledStore(shared), transport: hub.transport() });
    await waitFor(() => a.stats().bus === 'up' && b.stats().bus === 'up', 'up');
    await a.set('k', 'old');
    expect(await b.get('k')).toBe('old');
    expect(await b.get('k')).toBe('old');
    expect(b.stats().hits.memory).toBe(1);
    storeA.hold('set');
    const write = a.set('k', 'new');
    const held = await storeA.whenHeld('set');
    const closing = a.close();
    await expect(a.set('other', 'x')).rejects.toThrow(/the cache is closed/);
    held.release();
    await write;
    await closing;
    expect(await b.get('k')).toBe('new');
  });

  it('a getOrSet whose loader answers after close() began returns its value and writes nothing: the store may be closed, the bus is', async () => {
    const hub = new Hub();
    const shared = new Map<string, unknown>();
    const store = new ControlledStore(shared);
    const a = new SyncedCache<string>({ namespace: 'gc', store, transport: hub.transport() });
    const b = makeCache<string>({ namespace: 'gc', store: new ControlledStore(shared), transport: hub.transport() });
    await waitFor(() => a.stats().bus === 'up' && b.stats().bus === 'up', 'up');
    let answer!: (value: string) => void;
    let aborted = false;
    const loading = a.getOrSet('k', (_key, { signal }) => {
      signal.addEventListener('abort', () => {
        aborted = true;
      });
      return new Promise<string>((resolve) => {
        answer = resolve;
      });
    });
    await waitFor(() => answer !== undefined, 'the loader called');
    await a.close();
    expect(aborted).toBe(true);
    // A loader that ignores its signal still answers its caller; nothing reaches the store after close,
    // where a write could neither be announced nor find the store open (an adapter would reconnect).
    answer('late');
    expect(await loading).toBe('late');
    await turns(5);
    expect(store.calls.set).toBe(0);
    expect(shared.size).toBe(0);
    expect(await b.get('k')).toBeUndefined();
  });

  it('an update() whose updater answers after close() stopped waiting rejects and writes nothing: it could not be announced', async () => {
    const hub = new Hub();
    const shared = new Map<string, unknown>();
    const store = new ControlledStore(shared);
    const a = new SyncedCache<string>({ namespace: 'uc', store, transport: hub.transport(), storeTimeout: 50 });
    const b = makeCache<string>({ namespace: 'uc', store: new ControlledStore(shared), transport: hub.transport() });
    a.on('error', () => {});
    await waitFor(() => a.stats().bus === 'up' && b.stats().bus === 'up', 'up');
    await a.set('k', 'old');
    expect(await b.get('k')).toBe('old');
    let answer: ((value: string) => void) | undefined;
    const updated = a.update('k', () => new Promise<string>((resolve) => (answer = resolve)));
    await waitFor(() => answer !== undefined, 'the updater called');
    // close() waits storeTimeout for the update in flight, then gives up on it and closes the bus.
    await a.close();
    const setsBefore = store.calls.set;
    answer?.('new');
    await expect(updated).rejects.toThrow(/the cache is closed/);
    expect(store.calls.set).toBe(setsBefore);
    expect(await b.get('k')).toBe('old');
    expect(await makeCache<string>({ namespace: 'uc', store: new ControlledStore(shared) }).get('k')).toBe('old');
  });

  it('an update() whose updater answers while close() still waits is written and announced', async () => {
    const hub = new Hub();
    const shared = new Map<string, unknown>();
    const a = new SyncedCache<string>({ namespace: 'uw', store: new ControlledStore(shared), transport: hub.transport() });
    const b = makeCache<string>({ namespace: 'uw', store: new ControlledStore(shared), transport: hub.transport() });
    await waitFor(() => a.stats().bus === 'up' && b.stats().bus === 'up', 'up');
    await a.set('k', 'old');
    expect(await b.get('k')).toBe('old');
    let answer: ((value: string) => void) | undefined;
    const updated = a.update('k', () => new Promise<string>((resolve) => (answer = resolve)));
    await waitFor(() => answer !== undefined, 'the updater called');
    const closing = a.close();
    answer?.('new');
    expect(await updated).toBe('new');
    await closing;
    await waitFor(async () => (await b.get('k')) === 'new', 'B told of the update');
  });

  it('without echo, one failed publish is noticed by receivers and republished at the next beat', async () => {
    const hub = new Hub();
    const shared = new Map<string, unknown>();
    const heartbeat = { interval: 20, timeout: 40 };
    const a = makeCache<string>({ namespace: 'ne', store: new ControlledStore(shared), transport: hub.transport(false), heartbeat });
    const b = makeCache<string>({ namespace: 'ne', store: new ControlledStore(shared), transport: hub.transport(false), heartbeat });
    await waitFor(() => a.stats().bus === 'up' && b.stats().bus === 'up', 'up');
    await a.set('k', 'old');
    expect(await b.get('k')).toBe('old');
    hub.failNextPublish(0);
    await a.set('k', 'new');
    expect(a.stats().bus).toBe('up');
    await waitFor(() => a.stats().pendingInvalidations === 0, 'the queued key to be republished');
    expect(b.stats().flushes.gap + b.stats().invalidations.received).toBeGreaterThanOrEqual(2);
    expect(await b.get('k')).toBe('new');
  });

  it('a throwing bus:down listener does not wedge the bus: the write settles, close settles, nothing goes unhandled', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    // The warning this provokes is captured, not printed: Node writes every emitted warning to stderr.
    const emitWarning = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    try {
      const hub = new Hub();
      const a = new SyncedCache<string>({ namespace: 'tl', transport: hub.transport(true) });
      await waitFor(() => a.stats().bus === 'up', 'up');
      a.on('bus:down', () => {
        throw new Error('listener bug');
      });
      hub.failNextPublish(0);
      await a.set('k', 'v');
      expect(a.stats().bus).toBe('down');
      await a.close();
      await turns(5);
      expect(unhandled).toEqual([]);
      expect(emitWarning.mock.calls).toContainEqual([
        "a 'bus:down' listener of a SyncedCache threw: listener bug",
        { type: 'SyncedCacheWarning', code: 'SYNCED_CACHE_LISTENER_THREW' },
      ]);
    } finally {
      emitWarning.mockRestore();
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('a listener error goes to the error event when someone listens there', async () => {
    const hub = new Hub();
    const a = makeCache<string>({ namespace: 'tl2', transport: hub.transport(true) });
    await waitFor(() => a.stats().bus === 'up', 'up');
    const errors: Error[] = [];
    a.on('error', (e) => errors.push(e));
    a.on('bus:down', () => {
      throw new Error('listener bug');
    });
    hub.failNextPublish(0);
    await a.set('k', 'v');
    expect(errors.map((e) => e.message)).toContain('listener bug');
  });

  it.each([true, false])('a transport that reports up() from inside open() works (echo: %s)', async (echo) => {
    const hub = new Hub();
    const cache = makeCache({ namespace: 'su', transport: hub.transport(echo, true) });
    await waitFor(() => cache.stats().bus === 'up', 'up');
    await cache.set('k', 1);
    expect(await cache.get('k')).toBe(1);
  });

  it('an invalidation a receiver refuses as oversized is not applied, but the gap is noticed at the next heartbeat', async () => {
    const namespace = uniqueNamespace();
    const store = new Map();
    const transport = new BroadcastChannelTransport();
    const heartbeat = { interval: 30, timeout: 60 };
    const a = makeCache<string>({ namespace, store, transport, heartbeat });
    const b = makeCache<string>({ namespace, store, transport, heartbeat, maxMessageBytes: 1_024 });
    await waitFor(() => a.stats().bus === 'up' && b.stats().bus === 'up', 'up');
    // B knows A's sequence from here on (a loss before a receiver first hears of a sender goes unseen).
    await a.set('warm', 'x');
    await waitFor(() => b.stats().invalidations.received === 1, 'B to hear of A');
    const key = 'k'.repeat(2_000);
    await a.set(key, 'old');
    await waitFor(() => b.stats().invalidations.ignored === 1, 'the first message ignored');
    await waitFor(async () => (await b.get(key)) === 'old' && b.stats().memorySize === 1, 'B to hold the old value');
    const gaps = b.stats().flushes.gap;
    await a.set(key, 'new');
    await waitFor(() => b.stats().invalidations.ignored === 2, 'the second message ignored');
    await waitFor(() => b.stats().flushes.gap > gaps, 'the gap to be noticed');
    expect(await b.get(key)).toBe('new');
  });
});

describe('batching', () => {
  it('writes made while a message is in flight share the next message', async () => {
    const payloads: string[] = [];
    const releases: (() => void)[] = [];
    const transport = {
      echoesOwnMessages: false,
      open(_channel: string, handlers: { up(): void }) {
        queueMicrotask(() => handlers.up());
        return {
          publish: (payload: string) => {
            // Heartbeats go through at once; invalidations wait for the test.
            if (!payload.includes('"t":"i"')) return Promise.resolve();
            payloads.push(payload);
            return new Promise<void>((resolve) => releases.push(resolve));
          },
          close: async () => {},
        };
      },
    };
    const cache = makeCache<number>({ namespace: 'batch', transport });
    await waitFor(() => cache.stats().bus === 'up', 'up');
    const first = cache.set('x', 1);
    await waitFor(() => payloads.length === 1, 'the first message');
    const later = [cache.set('y', 2), cache.set('z', 3), cache.delete('x')];
    // The in-memory store answers within microtasks: after a turn of the loop all three have asked to publish.
    await turns(2);
    expect(payloads).toHaveLength(1);
    releases.shift()?.();
    await first;
    await waitFor(() => payloads.length === 2, 'the second message');
    releases.shift()?.();
    await Promise.all(later);
    expect(payloads.map((p) => [...JSON.parse(p).k].sort())).toEqual([['x'], ['x', 'y', 'z']]);
  });
});
