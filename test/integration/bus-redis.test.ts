import { Redis } from 'ioredis';
import { describe, expect, it, onTestFinished } from 'vitest';
import { BusError } from '../../src/index.js';
import { makeCache, uniqueNamespace } from '../helpers/factory.js';
import { useRedisServer } from '../helpers/redis.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { waitFor } from '../helpers/wait.js';

const fast = { interval: 100, timeout: 200 };

describe('the Redis bus', () => {
  const redis = useRedisServer();

  function pair(options: { namespace?: string; urlA?: string; maxPendingKeys?: number } = {}) {
    const namespace = options.namespace ?? uniqueNamespace();
    const store = new Map();
    const a = makeCache<unknown>({
      namespace,
      store,
      redis: options.urlA ?? redis.url,
      heartbeat: fast,
      maxPendingKeys: options.maxPendingKeys,
    });
    const b = makeCache<unknown>({ namespace, store, redis: redis.url, heartbeat: fast });
    return { a, b, namespace };
  }

  it('is up once subscribed, on a plain channel named after the namespace that PUBSUB CHANNELS shows', async () => {
    const { a, b, namespace } = pair();
    await waitFor(() => a.stats().bus === 'up' && b.stats().bus === 'up', 'buses up');
    const probe = new Redis(redis.url);
    onTestFinished(() => probe.disconnect());
    expect(await probe.pubsub('CHANNELS', 'synced-cache:*')).toContain(`synced-cache:${namespace}`);
    expect(await probe.pubsub('NUMSUB', `synced-cache:${namespace}`)).toEqual([`synced-cache:${namespace}`, 2]);
  });

  it('propagates writes, and an instance does not invalidate what it wrote itself although Redis echoes it', async () => {
    const { a, b } = pair();
    await waitFor(() => a.stats().bus === 'up' && b.stats().bus === 'up', 'buses up');
    await a.set('k', 'v1');
    await waitFor(() => b.stats().invalidations.received === 1, 'B to receive');
    expect(await b.get('k')).toBe('v1');
    await a.set('k', 'v2');
    await waitFor(() => b.stats().invalidations.received === 2, 'B to receive');
    expect(await b.get('k')).toBe('v2');
    // A's heartbeats and its own invalidations came back to it; none touched its memory.
    expect(await a.get('k')).toBe('v2');
    expect(a.stats().hits.memory).toBe(1);
    expect(a.stats().invalidations.received).toBe(0);
  });

  it('a killed Redis is reported down within 1 s; memory is bypassed while down and dropped when it is back', async () => {
    const { a, b } = pair();
    await waitFor(() => a.stats().bus === 'up' && b.stats().bus === 'up', 'buses up');
    await a.set('k', 'v');
    await waitFor(() => b.stats().invalidations.received === 1, 'B to receive');
    expect(await b.get('k')).toBe('v');
    expect(b.stats().memorySize).toBe(1);
    const downs: unknown[] = [];
    b.on('bus:down', (e) => downs.push(e));
    const killedAt = performance.now();
    await redis.server.kill();
    await waitFor(() => b.stats().bus === 'down', 'bus:down', 1_000);
    expect(performance.now() - killedAt).toBeLessThan(1_000);
    expect(downs).toHaveLength(1);
    expect(downs[0]).toEqual({ reason: expect.any(BusError), at: expect.any(Number), instance: b.instanceId });
    const storeHits = b.stats().hits.store;
    expect(await b.get('k')).toBe('v');
    expect(await b.get('k')).toBe('v');
    expect(b.stats().hits.store).toBe(storeHits + 2);
    await redis.server.restart();
    await waitFor(() => a.stats().bus === 'up' && b.stats().bus === 'up', 'buses up again');
    expect(b.stats().flushes.reconnect).toBe(1);
    expect(b.stats().memorySize).toBe(0);
    expect(await b.get('k')).toBe('v');
    expect(await b.get('k')).toBe('v');
    expect(b.stats().memorySize).toBe(1);
  });

  it('a frozen Redis (SIGSTOP) is reported down within 1 s, and up again after it thaws', async () => {
    const { a, b } = pair();
    await waitFor(() => a.stats().bus === 'up' && b.stats().bus === 'up', 'buses up');
    const frozenAt = performance.now();
    redis.server.freeze();
    try {
      await waitFor(() => a.stats().bus === 'down' && b.stats().bus === 'down', 'both buses down', 1_000);
      expect(performance.now() - frozenAt).toBeLessThan(1_000);
    } finally {
      redis.server.thaw();
    }
    await waitFor(() => a.stats().bus === 'up' && b.stats().bus === 'up', 'buses up again');
    expect(a.stats().flushes.reconnect).toBe(1);
  });

  it('a writer cut off from the bus keeps its invalidations and publishes them when it is back', async () => {
    const proxy = await startTcpProxy(redis.server.port);
    onTestFinished(() => proxy.close());
    const { a, b } = pair({ urlA: proxy.url });
    await waitFor(() => a.stats().bus === 'up' && b.stats().bus === 'up', 'buses up');
    await a.set('k', 'old');
    await waitFor(() => b.stats().invalidations.received === 1, 'B to receive');
    expect(await b.get('k')).toBe('old');
    proxy.cut();
    await waitFor(() => a.stats().bus === 'down', 'A down');
    await a.set('k', 'new');
    expect(a.stats().pendingInvalidations).toBe(1);
    // B never heard of it: this is the window the README states.
    expect(b.stats().bus).toBe('up');
    expect(await b.get('k')).toBe('old');
    proxy.restore();
    await waitFor(() => a.stats().bus === 'up', 'A up again', 5_000);
    await waitFor(() => b.stats().invalidations.received === 2, 'the queued invalidation to reach B');
    expect(a.stats().pendingInvalidations).toBe(0);
    expect(await b.get('k')).toBe('new');
  });

  it('a bus whose connections go silent (blackholed) reconnects both within 2 s, and its queued invalidation then reaches the others', async () => {
    const proxy = await startTcpProxy(redis.server.port);
    onTestFinished(() => proxy.close());
    const { a, b } = pair({ urlA: proxy.url });
    await waitFor(() => a.stats().bus === 'up' && b.stats().bus === 'up', 'buses up');
    await a.set('k', 'old');
    await waitFor(() => b.stats().invalidations.received === 1, 'B to receive');
    expect(await b.get('k')).toBe('old');
    expect(proxy.accepted).toBe(2);
    // The open connections go silent for good (no reset, no close); a new connection would work.
    const silencedAt = performance.now();
    proxy.blackhole('pass');
    await waitFor(() => a.stats().bus === 'down', 'A down', 1_000);
    await a.set('k', 'new');
    expect(a.stats().pendingInvalidations).toBe(1);
    await waitFor(() => a.stats().bus === 'up', 'A up again on new connections', 2_000);
    const backAfter = performance.now() - silencedAt;
    expect(backAfter).toBeLessThan(2_000);
    // Both the publisher and the subscriber were reopened.
    expect(proxy.accepted).toBeGreaterThanOrEqual(4);
    await waitFor(() => b.stats().invalidations.received === 2, 'the queued invalidation to reach B');
    expect(a.stats().pendingInvalidations).toBe(0);
    expect(await b.get('k')).toBe('new');
  });

  it('past maxPendingKeys the writer remembers "everything" and every process drops its memory', async () => {
    const proxy = await startTcpProxy(redis.server.port);
    onTestFinished(() => proxy.close());
    const { a, b } = pair({ urlA: proxy.url, maxPendingKeys: 2 });
    await waitFor(() => a.stats().bus === 'up' && b.stats().bus === 'up', 'buses up');
    await b.set('unrelated', 1);
    proxy.cut();
    await waitFor(() => a.stats().bus === 'down', 'A down');
    await a.set('x', 1);
    await a.set('y', 1);
    await a.set('z', 1);
    expect(a.stats().pendingInvalidations).toBe(1);
    proxy.restore();
    await waitFor(() => b.stats().flushes.clear === 1, 'B to drop everything');
    expect(b.stats().memorySize).toBe(0);
  });

  it('duplicates a Redis client it is given for subscribing, and never closes it', async () => {
    const client = new Redis(redis.url);
    onTestFinished(() => client.disconnect());
    const cache = makeCache({ namespace: uniqueNamespace(), redis: client, heartbeat: fast });
    await waitFor(() => cache.stats().bus === 'up', 'bus up');
    await cache.set('k', 1);
    await cache.close();
    expect(client.status).toBe('ready');
    expect(await client.ping()).toBe('PONG');
  });
});
