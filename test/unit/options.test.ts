import { describe, expect, it } from 'vitest';
import { DEFAULTS, SyncedCache } from '../../src/index.js';

describe('options are validated at construction', () => {
  it.each([
    [{ ttl: -1 }, RangeError, /option "ttl" must be a finite number of milliseconds >= 0 \(0 means no expiry\), got -1/],
    [{ ttl: Number.NaN }, TypeError, /option "ttl" must be a number of milliseconds, got NaN/],
    [{ ttl: '60s' }, TypeError, /option "ttl" must be a number of milliseconds, got "60s"/],
    [{ memory: { max: 0 } }, RangeError, /option "memory.max" must be a finite number > 0, got 0/],
    [{ memory: { max: 1.5 } }, RangeError, /option "memory.max" must be a whole number, got 1.5/],
    [{ memory: { ttl: -5 } }, RangeError, /option "memory.ttl" must be a finite number/],
    [{ memory: { maxSize: -1 } }, RangeError, /option "memory.maxSize" must be a finite number > 0/],
    [
      { redis: 'http://127.0.0.1:6379' },
      TypeError,
      /option "redis" must be a URL starting with redis:\/\/, rediss:\/\/ or unix:\/\/, got "http:\/\/127.0.0.1:6379"/,
    ],
    [{ redis: 'redis://exa mple:notaport' }, TypeError, /option "redis" is not a valid URL/],
    [{ redis: 42 }, TypeError, /option "redis" must be a Redis URL, ioredis options, or an ioredis client, got 42/],
    [{ namespace: '' }, TypeError, /option "namespace" must be a non-empty string, got ""/],
    [{ heartbeat: { interval: 0 } }, RangeError, /option "heartbeat.interval" must be a finite number > 0, got 0/],
    [{ heartbeat: { timeout: -1 } }, RangeError, /option "heartbeat.timeout" must be a finite number > 0/],
    [{ store: 'http://x' }, TypeError, /option "store" as a string must be a URL starting with redis:\/\/, rediss:\/\//],
    [{ store: 42 }, TypeError, /option "store" must be a Keyv instance or a Keyv store adapter/],
    [{ memroy: { max: 10 } }, TypeError, /unknown option "memroy" \(did you mean "memory"\?\)/],
    [{ memory: { maxx: 1 } }, TypeError, /unknown option "memory.maxx" \(did you mean "memory.max"\?\)/],
    [{ heartbeat: { intervall: 1 } }, TypeError, /unknown option "heartbeat.intervall" \(did you mean "heartbeat.interval"\?\)/],
    [{ TTL: 1000 }, TypeError, /unknown option "TTL" \(did you mean "ttl"\?\)/],
    [{ transport: {} }, TypeError, /option "transport" must implement the BusTransport interface/],
    [{ clock: { now: 1 } }, TypeError, /option "clock" must be an object with a now\(\) method/],
    [{ maxPendingKeys: 0 }, RangeError, /option "maxPendingKeys" must be a finite number > 0, got 0/],
  ])('%o is rejected', (options, ErrorClass, message) => {
    expect(() => new SyncedCache(options as never)).toThrow(ErrorClass);
    expect(() => new SyncedCache(options as never)).toThrow(message);
  });

  it('rejects redis and transport together', () => {
    const transport = { echoesOwnMessages: false, open: () => ({ publish: async () => {}, close: async () => {} }) };
    expect(() => new SyncedCache({ redis: 'redis://127.0.0.1:1', transport })).toThrow(/cannot be combined with "redis"/);
  });

  it('has documented defaults', async () => {
    expect(DEFAULTS).toEqual({
      namespace: 'default',
      memory: { max: 10_000 },
      heartbeat: { interval: 1_000, timeout: 1_000 },
      maxPendingKeys: 10_000,
      maxMessageBytes: 1_048_576,
    });
    const cache = new SyncedCache();
    expect(cache.namespace).toBe('default');
    expect(cache.stats().bus).toBe('off');
    await cache.close();
  });
});
