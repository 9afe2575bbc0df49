import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RedisServer, startRedisServer } from '../../scripts/redis-server.mjs';
import { registerMetrics } from '../../src/integrations/prometheus.js';
import { makeCache, uniqueNamespace } from '../helpers/factory.js';
import { waitFor } from '../helpers/wait.js';

/** Parses the Prometheus text format into `name{labels}` -> value, labels in the order prom-client writes them. */
function parse(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    samples.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return samples;
}

async function scrape(registry: Registry): Promise<Map<string, number>> {
  return parse(await registry.metrics());
}

function sample(samples: Map<string, number>, series: string): number {
  const value = samples.get(series);
  if (value === undefined) throw new Error(`no sample ${series} in the scrape; have: ${[...samples.keys()].join(', ')}`);
  return value;
}

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(async () => {
  await redis?.stop();
});

const heartbeat = { interval: 100, timeout: 300 };

describe('synced-cache/prometheus', () => {
  it('exposes hits per tier, misses, writes, invalidations, lag, flushes, bus state and memory size at scrape time', async () => {
    const namespace = uniqueNamespace('prom');
    const store = new Map();
    const a = makeCache<unknown>({ namespace, store, redis: redis.url, heartbeat });
    const b = makeCache<unknown>({ namespace, store, redis: redis.url, heartbeat });
    const registry = new Registry();
    registerMetrics(a, { registry });
    await waitFor(() => a.stats().bus === 'up' && b.stats().bus === 'up', 'both buses up');

    const ns = `namespace="${namespace}"`;
    let s = await scrape(registry);
    expect(sample(s, `synced_cache_bus_state{${ns},state="up"}`)).toBe(1);
    expect(sample(s, `synced_cache_bus_state{${ns},state="down"}`)).toBe(0);
    expect(sample(s, `synced_cache_hits_total{${ns},tier="memory"}`)).toBe(0);

    await b.set('x', { n: 1 });
    await b.set('y', 2);
    await waitFor(() => a.stats().invalidations.received === 2, 'two invalidations at a');
    expect(await a.get('x')).toEqual({ n: 1 }); // store hit, fills memory
    expect(await a.get('x')).toEqual({ n: 1 }); // memory hit
    expect(await a.get('x')).toEqual({ n: 1 }); // memory hit
    expect(await a.get('nope')).toBeUndefined();
    await a.set('z', 3);
    await a.delete('z');

    s = await scrape(registry);
    expect(sample(s, `synced_cache_hits_total{${ns},tier="memory"}`)).toBe(2);
    expect(sample(s, `synced_cache_hits_total{${ns},tier="store"}`)).toBe(1);
    expect(sample(s, `synced_cache_misses_total{${ns}}`)).toBe(1);
    expect(sample(s, `synced_cache_sets_total{${ns}}`)).toBe(1);
    expect(sample(s, `synced_cache_deletes_total{${ns}}`)).toBe(1);
    expect(sample(s, `synced_cache_invalidations_sent_total{${ns}}`)).toBe(2);
    expect(sample(s, `synced_cache_invalidations_received_total{${ns}}`)).toBe(2);
    expect(sample(s, `synced_cache_bus_messages_ignored_total{${ns}}`)).toBe(0);
    expect(sample(s, `synced_cache_memory_entries{${ns}}`)).toBe(a.stats().memorySize);
    expect(sample(s, `synced_cache_memory_entries{${ns}}`)).toBe(1);
    expect(sample(s, `synced_cache_pending_invalidations{${ns}}`)).toBe(0);

    // Lag: the sample count matches, and the quantiles are the stats' milliseconds as seconds.
    const lag = a.stats().lag;
    expect(lag.count).toBe(2);
    expect(sample(s, `synced_cache_propagation_lag_samples_total{${ns}}`)).toBe(2);
    expect(sample(s, `synced_cache_propagation_lag_seconds{${ns},quantile="0.5"}`)).toBeCloseTo(lag.p50 / 1000, 9);
    expect(sample(s, `synced_cache_propagation_lag_seconds{${ns},quantile="0.99"}`)).toBeCloseTo(lag.p99 / 1000, 9);
    expect(sample(s, `synced_cache_propagation_lag_max_seconds{${ns}}`)).toBeCloseTo(lag.max / 1000, 9);
    expect(sample(s, `synced_cache_propagation_lag_max_seconds{${ns}}`)).toBeLessThan(5);

    // A clear from the other process flushes this one's memory (cause "clear").
    await b.clear();
    await waitFor(() => a.stats().flushes.clear === 1, 'the clear at a');
    s = await scrape(registry);
    expect(sample(s, `synced_cache_flushes_total{${ns},cause="clear"}`)).toBe(1);
    expect(sample(s, `synced_cache_flushes_total{${ns},cause="reconnect"}`)).toBe(0);
    expect(sample(s, `synced_cache_memory_entries{${ns}}`)).toBe(0);

    // The scrape follows the bus through an outage: down, then up with a reconnect flush.
    await redis.kill();
    await waitFor(async () => sample(await scrape(registry), `synced_cache_bus_state{${ns},state="down"}`) === 1, 'bus_state down', 10_000);
    s = await scrape(registry);
    expect(sample(s, `synced_cache_bus_state{${ns},state="up"}`)).toBe(0);
    await redis.restart();
    await waitFor(async () => sample(await scrape(registry), `synced_cache_bus_state{${ns},state="up"}`) === 1, 'bus_state up', 10_000);
    s = await scrape(registry);
    expect(sample(s, `synced_cache_flushes_total{${ns},cause="reconnect"}`)).toBe(1);

    // Closed: the bus is reported off.
    await a.close();
    s = await scrape(registry);
    expect(sample(s, `synced_cache_bus_state{${ns},state="off"}`)).toBe(1);
    expect(sample(s, `synced_cache_bus_state{${ns},state="up"}`)).toBe(0);
  });

  it('reports several caches on one registry, told apart by namespace; unregister removes one, then the metrics', async () => {
    const registry = new Registry();
    const one = makeCache<number>({ namespace: uniqueNamespace('one') });
    const two = makeCache<number>({ namespace: uniqueNamespace('two') });
    const h1 = registerMetrics(one, { registry, prefix: 'app_cache_' });
    const h2 = registerMetrics(two, { registry, prefix: 'app_cache_' });
    await one.set('k', 1);
    await one.get('k');
    await two.get('k');

    let s = await scrape(registry);
    expect(sample(s, `app_cache_hits_total{namespace="${one.namespace}",tier="memory"}`)).toBe(1);
    expect(sample(s, `app_cache_misses_total{namespace="${two.namespace}"}`)).toBe(1);
    expect(sample(s, `app_cache_misses_total{namespace="${one.namespace}"}`)).toBe(0);
    // Without a bus, the state is "off".
    expect(sample(s, `app_cache_bus_state{namespace="${one.namespace}",state="off"}`)).toBe(1);

    expect(() => registerMetrics(makeCache({ namespace: one.namespace }), { registry, prefix: 'app_cache_' })).toThrow(
      /already registered on this registry/,
    );

    h1.unregister();
    s = await scrape(registry);
    expect(s.has(`app_cache_misses_total{namespace="${one.namespace}"}`)).toBe(false);
    expect(sample(s, `app_cache_misses_total{namespace="${two.namespace}"}`)).toBe(1);
    h2.unregister();
    expect((await registry.getMetricsAsJSON()).length).toBe(0);
    // The metric names are free again.
    registerMetrics(one, { registry, prefix: 'app_cache_' }).unregister();
  });

  it('rejects what is not a cache, and a prefix Prometheus would not accept', () => {
    expect(() => registerMetrics({} as never)).toThrow(TypeError);
    expect(() => registerMetrics(makeCache(), { registry: new Registry(), prefix: 'bad-prefix' })).toThrow(
      /option "prefix" must be a valid Prometheus metric name prefix/,
    );
  });
});
