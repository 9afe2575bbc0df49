// The bus over a real local Redis Cluster (3 masters, no replicas) that this file starts, with ioredis
// Cluster clients, including the loss and return of the master that owns the channel's slot.
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { type RedisCluster, startRedisCluster } from '../../scripts/redis-cluster.mjs';
import { RedisTransport, SyncedCache } from '../../src/index.js';
import { keySlot } from '../../src/redis/key-slot.js';
import { uniqueNamespace } from '../helpers/factory.js';
import { waitFor } from '../helpers/wait.js';

let cluster: RedisCluster;

beforeAll(async () => {
  cluster = await startRedisCluster({ masters: 3, nodeTimeout: 1_000 });
}, 60_000);

afterAll(async () => {
  await cluster?.stop();
});

/** An application's own Cluster client, closed after the test. Its errors are the app's business. */
function clusterClient(): Cluster {
  const client = new Cluster(cluster.startupNodes, { redisOptions: { connectionName: 'app' } });
  client.on('error', () => {});
  onTestFinished(() => client.disconnect());
  return client;
}

function cache(namespace: string, store: Map<unknown, unknown>, client: Cluster): SyncedCache<unknown> {
  const c = new SyncedCache<unknown>({ namespace, store, redis: client, heartbeat: { interval: 200, timeout: 1_000 } });
  c.on('error', () => {});
  onTestFinished(() => c.close());
  return c;
}

async function shardSubscribers(port: number, channel: string): Promise<number> {
  const lines = (await cluster.command(port, 'PUBSUB', 'SHARDNUMSUB', channel)).trim().split('\n');
  return Number(lines[1]);
}

async function classicSubscribers(port: number, channel: string): Promise<number> {
  const lines = (await cluster.command(port, 'PUBSUB', 'NUMSUB', channel)).trim().split('\n');
  return Number(lines[1]);
}

describe('the bus on a Redis Cluster', () => {
  it('hashes channel names to the slot the cluster computes (hash tags included)', async () => {
    for (const channel of [
      'synced-cache:default',
      'synced-cache:users',
      'synced-cache:{tenant-7}:a',
      'synced-cache:x{}y',
      'synced-cache:é',
    ]) {
      expect({ channel, slot: keySlot(channel) }).toEqual({ channel, slot: (await cluster.ownerOf(channel)).slot });
    }
  });

  it('two caches on separate Cluster clients see each other through sharded pub/sub, and survive the loss of the slot owner', async () => {
    const namespace = uniqueNamespace('cluster');
    const channel = `synced-cache:${namespace}`;
    const store = new Map();
    const a = cache(namespace, store, clusterClient());
    const b = cache(namespace, store, clusterClient());
    await waitFor(() => a.stats().bus === 'up' && b.stats().bus === 'up', 'both buses up', 10_000);

    // Sharded: both subscriptions are on the master that owns the channel's slot, none are classic.
    const owner = await cluster.ownerOf(channel);
    expect(await shardSubscribers(owner.port, channel)).toBe(2);
    for (const port of cluster.ports) expect(await classicSubscribers(port, channel)).toBe(0);
    for (const port of cluster.ports.filter((p) => p !== owner.port)) expect(await shardSubscribers(port, channel)).toBe(0);

    // Invalidations travel both ways.
    await a.set('k', 1);
    await waitFor(() => b.stats().invalidations.received === 1, 'b to hear the first write');
    expect(await b.get('k')).toBe(1);
    expect(await b.get('k')).toBe(1);
    expect(b.stats().hits.memory).toBe(1);
    const before = b.stats().invalidations.received;
    await a.set('k', 2);
    await waitFor(() => b.stats().invalidations.received === before + 1, 'b to hear a');
    expect(await b.get('k')).toBe(2);
    expect(await a.get('k')).toBe(2);
    await b.delete('k');
    await waitFor(() => a.stats().invalidations.received === 1, 'a to hear b');
    expect(await a.get('k')).toBeUndefined();

    // Fill both memories, then take the slot owner away.
    await a.set('m', 'kept');
    await waitFor(() => b.stats().invalidations.received === before + 2, 'b to hear the write of m');
    expect(await b.get('m')).toBe('kept');
    expect(a.stats().memorySize).toBeGreaterThan(0);
    expect(b.stats().memorySize).toBeGreaterThan(0);
    const reconnects = { a: a.stats().flushes.reconnect, b: b.stats().flushes.reconnect };
    const downs = { a: 0, b: 0 };
    a.on('bus:down', () => downs.a++);
    b.on('bus:down', () => downs.b++);

    await cluster.kill(owner.port);
    await waitFor(() => a.stats().bus === 'down' && b.stats().bus === 'down', 'both buses down', 10_000);
    expect(downs).toEqual({ a: 1, b: 1 });
    // While down, memory is not trusted: reads go to the store.
    expect(a.stats().memorySize).toBe(0);
    const storeHits = b.stats().hits.store;
    expect(await b.get('m')).toBe('kept');
    expect(b.stats().hits.store).toBe(storeHits + 1);

    await cluster.restart(owner.port);
    await cluster.waitForOk();
    await waitFor(() => a.stats().bus === 'up' && b.stats().bus === 'up', 'both buses up again', 30_000);

    // The flush-on-reconnect rule: once each, and memory starts empty.
    expect(a.stats().flushes.reconnect).toBe(reconnects.a + 1);
    expect(b.stats().flushes.reconnect).toBe(reconnects.b + 1);
    expect(a.stats().memorySize).toBe(0);
    expect(b.stats().memorySize).toBe(0);
    expect(await shardSubscribers(owner.port, channel)).toBe(2);

    // And the bus carries invalidations again.
    expect(await b.get('m')).toBe('kept');
    expect(await b.get('m')).toBe('kept');
    const heard = b.stats().invalidations.received;
    await a.set('m', 'changed');
    await waitFor(() => b.stats().invalidations.received === heard + 1, 'b to hear a after the restart', 10_000);
    expect(await b.get('m')).toBe('changed');
  });

  it('reconnect() (asked by the bus after an unanswered heartbeat) replaces the subscriber connection, and messages flow again', async () => {
    const namespace = uniqueNamespace('cluster');
    const channel = `synced-cache:${namespace}`;
    const client = clusterClient();
    const events: string[] = [];
    const messages: string[] = [];
    const connection = new RedisTransport(client).open(channel, {
      message: (payload) => messages.push(String(payload)),
      up: () => events.push('up'),
      down: () => events.push('down'),
      error: () => {},
    });
    onTestFinished(() => connection.close());
    await waitFor(() => events.includes('up'), 'subscribed', 10_000);
    const owner = await cluster.ownerOf(channel);
    const subscriberIds = async () =>
      (await cluster.command(owner.port, 'CLIENT', 'LIST'))
        .split('\n')
        .filter((line) => line.includes('name=synced-cache:sub'))
        .map((line) => /\bid=(\d+)/.exec(line)?.[1]);
    const before = await subscriberIds();
    expect(before).toHaveLength(1);
    connection.reconnect?.();
    await waitFor(() => events.join(',') === 'up,down,up', 'down, then up again', 10_000);
    await waitFor(async () => (await subscriberIds()).length === 1, 'one subscriber left');
    const after = await subscriberIds();
    expect(after[0]).not.toBe(before[0]);
    await connection.publish('after the reconnect');
    await waitFor(() => messages.includes('after the reconnect'), 'the message');
  });

  it('a closed cache leaves no subscription behind, and the Cluster client passed in stays open', async () => {
    const namespace = uniqueNamespace('cluster');
    const channel = `synced-cache:${namespace}`;
    const client = clusterClient();
    const c = cache(namespace, new Map(), client);
    await waitFor(() => c.stats().bus === 'up', 'bus up', 10_000);
    const owner = await cluster.ownerOf(channel);
    expect(await shardSubscribers(owner.port, channel)).toBe(1);
    await c.close();
    await waitFor(async () => (await shardSubscribers(owner.port, channel)) === 0, 'the subscription to go');
    expect(client.status).toBe('ready');
    expect(await client.set(`${namespace}:probe`, '1')).toBe('OK');
  });
});
