import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { type RedisServer, startRedisServer } from '../../scripts/redis-server.mjs';
import { channelFor, encodeMessage, type LoaderContext, MessageType } from '../../src/index.js';
import { registerMetrics } from '../../src/integrations/prometheus.js';
import { manualClock } from '../helpers/clock.js';
import { ControlledStore } from '../helpers/controlled-store.js';
import { makeCache, uniqueNamespace } from '../helpers/factory.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
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

/** Waits until the wall clock is past `until` (store expiry is on Date.now(), memory on the injected clock). */
async function wallClockPast(until: number): Promise<void> {
  while (Date.now() <= until) await new Promise((resolve) => setTimeout(resolve, 5));
}

/** A loader that only ends when its signal is aborted (at hardTimeout). */
function untilAborted(_key: string, { signal }: LoaderContext<string>): Promise<string> {
  return new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
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

  it('exposes implausible lags, tracked and forgotten senders, as a real bus and forged messages produced them', async () => {
    const namespace = uniqueNamespace('prom-senders');
    const channel = channelFor(namespace);
    const raw = new Redis(redis.url);
    onTestFinished(() => {
      raw.disconnect();
    });
    // A long heartbeat timeout: the flood of forged senders below delays A's heartbeat (every new sender
    // after an eviction costs a memory flush), and a heartbeat past its timeout would reconnect A and lose
    // the end of the flood. Senders still expire after 30 intervals (3 s).
    const patient = { interval: 100, timeout: 10_000 };
    const a = makeCache<unknown>({ namespace, redis: redis.url, heartbeat: patient });
    const b = makeCache<unknown>({ namespace, redis: redis.url, heartbeat: patient });
    const registry = new Registry();
    registerMetrics(a, { registry });
    await waitFor(() => a.stats().bus === 'up' && b.stats().bus === 'up', 'both buses up');
    await waitFor(() => a.stats().senders.tracked === 1, 'A to track B by its heartbeats');

    const ns = `namespace="${namespace}"`;
    let s = await scrape(registry);
    expect(sample(s, `synced_cache_senders_tracked{${ns}}`)).toBe(1);
    expect(sample(s, `synced_cache_propagation_lag_implausible_total{${ns}}`)).toBe(0);
    expect(sample(s, `synced_cache_senders_forgotten_total{${ns},cause="expired"}`)).toBe(0);
    expect(sample(s, `synced_cache_senders_forgotten_total{${ns},cause="evicted"}`)).toBe(0);

    // A sender whose clock is an hour behind: its invalidation is applied, its lag left out.
    const behind = Date.now() - 3_600_000;
    await raw.publish(
      channel,
      encodeMessage(namespace, { type: MessageType.Invalidate, origin: 'behind', seq: 1, sentAt: behind, keys: ['k'] }),
    );
    await waitFor(() => a.stats().invalidations.received === 1, 'the invalidation with a wrong clock');
    s = await scrape(registry);
    expect(sample(s, `synced_cache_propagation_lag_implausible_total{${ns}}`)).toBe(1);
    expect(sample(s, `synced_cache_propagation_lag_samples_total{${ns}}`)).toBe(0);
    expect(sample(s, `synced_cache_senders_tracked{${ns}}`)).toBe(2);

    // That sender says nothing more: forgotten as expired within 30 to 60 heartbeat intervals; B, which
    // heartbeats, is kept.
    await waitFor(() => a.stats().senders.expired === 1, 'the silent sender to expire', 10_000);
    s = await scrape(registry);
    expect(sample(s, `synced_cache_senders_forgotten_total{${ns},cause="expired"}`)).toBe(1);
    expect(sample(s, `synced_cache_senders_tracked{${ns}}`)).toBe(1);

    // More than 10,000 senders within 30 heartbeat intervals (forged ids): some are evicted, and no more
    // than 10,000 stay tracked. The last message, an invalidation, says when A has read them all.
    const forged = raw.pipeline();
    for (let i = 0; i < 10_500; i++) {
      forged.publish(
        channel,
        encodeMessage(namespace, { type: MessageType.Heartbeat, origin: `forged-${i}`, seq: 0, nonce: 0, sentAt: Date.now() }),
      );
    }
    forged.publish(
      channel,
      encodeMessage(namespace, { type: MessageType.Invalidate, origin: 'last', seq: 1, sentAt: Date.now(), keys: ['k'] }),
    );
    await forged.exec();
    await waitFor(() => a.stats().invalidations.received === 2, 'A to read the forged senders', 10_000);
    const senders = a.stats().senders;
    expect(senders.evicted).toBeGreaterThan(0);
    expect(senders.tracked).toBeLessThanOrEqual(10_000);
    s = await scrape(registry);
    expect(sample(s, `synced_cache_senders_forgotten_total{${ns},cause="evicted"}`)).toBe(senders.evicted);
    expect(sample(s, `synced_cache_senders_forgotten_total{${ns},cause="expired"}`)).toBe(senders.expired);
    expect(sample(s, `synced_cache_senders_tracked{${ns}}`)).toBe(senders.tracked);
  });

  it('exposes the event stream, published and dropped, as a bus that went away produced them', async () => {
    const own = await startRedisServer();
    onTestFinished(() => own.stop());
    const namespace = uniqueNamespace('prom-events');
    const cache = makeCache<number>({ namespace, redis: own.url, heartbeat, events: { bus: true } });
    cache.on('error', () => {});
    const registry = new Registry();
    registerMetrics(cache, { registry });
    await waitFor(() => cache.stats().bus === 'up', 'bus up');
    const series = (outcome: string) => `synced_cache_events_streamed_total{namespace="${namespace}",outcome="${outcome}"}`;
    await cache.set('a', 1);
    await waitFor(() => cache.stats().events.published === 1, 'the event published');
    await own.kill();
    await waitFor(() => cache.stats().bus === 'down', 'bus down');
    await cache.set('b', 2);
    await cache.delete('b');
    expect(cache.stats().events).toEqual({ published: 1, dropped: 2 });
    const samples = await scrape(registry);
    expect([sample(samples, series('published')), sample(samples, series('dropped'))]).toEqual([1, 2]);
  });

  it('exposes bus reconnects, as connections gone silent produced them', async () => {
    const namespace = uniqueNamespace('prom-reconnect');
    const proxy = await startTcpProxy(redis.port);
    onTestFinished(() => proxy.close());
    const a = makeCache<unknown>({ namespace, redis: proxy.url, heartbeat });
    const registry = new Registry();
    registerMetrics(a, { registry });
    await waitFor(() => a.stats().bus === 'up', 'bus up');
    const ns = `namespace="${namespace}"`;
    expect(sample(await scrape(registry), `synced_cache_bus_reconnects_total{${ns}}`)).toBe(0);

    // The connections go silent (no reset, no close): the heartbeat is not answered, and A reopens them.
    proxy.blackhole('pass');
    await waitFor(() => a.stats().bus === 'down', 'A down', 2_000);
    await waitFor(() => a.stats().bus === 'up', 'A up again on new connections', 5_000);
    const reconnects = a.stats().busReconnects;
    expect(reconnects).toBeGreaterThanOrEqual(1);
    expect(sample(await scrape(registry), `synced_cache_bus_reconnects_total{${ns}}`)).toBe(reconnects);
  });

  it('exposes the breaker state and openings, stale answers by reason, refreshes and the lock, as a failing store produced them', async () => {
    const clock = manualClock();
    // A: a breaker that opens after 2 failures, and no store timeout, so that its trial call can be held.
    const storeA = new ControlledStore();
    const a = makeCache<string>({
      namespace: uniqueNamespace('prom-breaker'),
      store: storeA,
      clock,
      grace: 60_000,
      storeTimeout: 0,
      circuitBreaker: { threshold: 2, cooldown: 1_000 },
    });
    // B: no breaker, a short store timeout, and refresh ahead.
    const storeB = new ControlledStore();
    const b = makeCache<string>({
      namespace: uniqueNamespace('prom-stale'),
      store: storeB,
      clock,
      grace: 60_000,
      storeTimeout: 50,
      circuitBreaker: false,
      refreshAhead: 0.5,
    });
    const registry = new Registry();
    registerMetrics(a, { registry });
    registerMetrics(b, { registry });
    const nsA = `namespace="${a.namespace}"`;
    const nsB = `namespace="${b.namespace}"`;
    const breaker = (s: Map<string, number>, ns: string) =>
      Object.fromEntries(
        ['closed', 'open', 'half-open', 'off'].map((state) => [state, sample(s, `synced_cache_breaker_state{${ns},state="${state}"}`)]),
      );
    const stale = (s: Map<string, number>, ns: string) =>
      Object.fromEntries(
        ['store-error', 'store-timeout', 'store-unavailable', 'loader-error', 'loader-timeout'].map((reason) => [
          reason,
          sample(s, `synced_cache_stale_served_total{${ns},reason="${reason}"}`),
        ]),
      );

    let s = await scrape(registry);
    expect(breaker(s, nsA)).toEqual({ closed: 1, open: 0, 'half-open': 0, off: 0 });
    expect(breaker(s, nsB)).toEqual({ closed: 0, open: 0, 'half-open': 0, off: 1 });
    expect(sample(s, `synced_cache_breaker_opened_total{${nsA}}`)).toBe(0);
    expect(stale(s, nsA)).toEqual({ 'store-error': 0, 'store-timeout': 0, 'store-unavailable': 0, 'loader-error': 0, 'loader-timeout': 0 });
    expect(sample(s, `synced_cache_refreshes_total{${nsB}}`)).toBe(0);

    // Entries past their ttl, within grace (store expiry follows the wall clock, memory the injected one).
    const until = Date.now() + 40;
    await a.set('k', 'old', { ttl: 40 });
    await b.set('k', 'old', { ttl: 40 });
    await wallClockPast(until);
    clock.advance(41);

    // A: two failed store reads answer stale (store-error) and open the breaker; the next reads do not
    // reach the store (store-unavailable), getOrSet's included, which answers without calling its loader.
    storeA.fail('get');
    expect(await a.get('k')).toBe('old');
    expect(await a.get('k')).toBe('old');
    expect(a.stats().breaker.state).toBe('open');
    const reached = storeA.calls.get;
    expect(await a.get('k')).toBe('old');
    expect(storeA.calls.get).toBe(reached);
    expect(
      await a.getOrSet('k', () => {
        throw new Error('never called: the stale copy answers');
      }),
    ).toBe('old');
    // B: a store read that does not answer within storeTimeout answers stale (store-timeout).
    storeB.hold('get');
    expect(await b.get('k')).toBe('old');
    (await storeB.whenHeld('get')).release();

    s = await scrape(registry);
    expect(breaker(s, nsA)).toEqual({ closed: 0, open: 1, 'half-open': 0, off: 0 });
    expect(sample(s, `synced_cache_breaker_opened_total{${nsA}}`)).toBe(1);
    expect(stale(s, nsA)).toEqual({ 'store-error': 2, 'store-timeout': 0, 'store-unavailable': 2, 'loader-error': 0, 'loader-timeout': 0 });
    expect(stale(s, nsB)).toEqual({ 'store-error': 0, 'store-timeout': 1, 'store-unavailable': 0, 'loader-error': 0, 'loader-timeout': 0 });

    // After the cooldown one trial call goes through (half-open, held here); its success closes the breaker.
    clock.advance(1_000);
    storeA.heal('get');
    storeA.hold('get');
    const trial = a.get('k');
    const held = await storeA.whenHeld('get');
    s = await scrape(registry);
    expect(breaker(s, nsA)).toEqual({ closed: 0, open: 0, 'half-open': 1, off: 0 });
    held.release();
    expect(await trial).toBeUndefined(); // the store answered: past its ttl, a miss
    s = await scrape(registry);
    expect(breaker(s, nsA)).toEqual({ closed: 1, open: 0, 'half-open': 0, off: 0 });
    expect(sample(s, `synced_cache_breaker_opened_total{${nsA}}`)).toBe(1);

    // A, the store up again: the store's copy is stale; the loader fails, then outlives hardTimeout.
    expect(
      await a.getOrSet('k', () => {
        throw new Error('the source is down');
      }),
    ).toBe('old');
    expect(await a.getOrSet('k', untilAborted, { hardTimeout: 30 })).toBe('old');
    s = await scrape(registry);
    expect(stale(s, nsA)).toEqual({ 'store-error': 2, 'store-timeout': 0, 'store-unavailable': 2, 'loader-error': 1, 'loader-timeout': 1 });

    // B: a getOrSet hit past half its ttl answers at once and is refreshed in the background.
    let loads = 0;
    const load = async () => `v${++loads}`;
    expect(await b.getOrSet('fresh', load, { ttl: 10_000 })).toBe('v1');
    clock.advance(6_000);
    expect(await b.getOrSet('fresh', load, { ttl: 10_000 })).toBe('v1');
    await waitFor(() => b.peek('fresh') === 'v2', 'the refreshed value');
    s = await scrape(registry);
    expect(sample(s, `synced_cache_refreshes_total{${nsB}}`)).toBe(1);
    expect(sample(s, `synced_cache_refreshes_total{${nsA}}`)).toBe(0);

    // Neither cache locks (no lock option, no Redis bus): the lock counters are exported and read 0;
    // test/integration/lock.test.ts moves them in real processes.
    for (const ns of [nsA, nsB]) {
      expect(sample(s, `synced_cache_lock_acquired_total{${ns}}`)).toBe(0);
      expect(sample(s, `synced_cache_lock_waited_total{${ns}}`)).toBe(0);
      expect(sample(s, `synced_cache_lock_took_over_total{${ns}}`)).toBe(0);
    }
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
