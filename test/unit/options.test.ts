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
    [{ storeTimeout: -1 }, RangeError, /option "storeTimeout" must be a finite number of milliseconds >= 0 \(0 means no limit\), got -1/],
    [{ circuitBreaker: { threshold: 0 } }, RangeError, /option "circuitBreaker.threshold" must be a finite number > 0, got 0/],
    [{ circuitBreaker: { threshold: 2.5 } }, RangeError, /option "circuitBreaker.threshold" must be a whole number, got 2.5/],
    [{ circuitBreaker: { cooldow: 1 } }, TypeError, /unknown option "circuitBreaker.cooldow" \(did you mean "circuitBreaker.cooldown"\?\)/],
    [{ circuitBreaker: true }, TypeError, /option "circuitBreaker" must be \{ threshold, cooldown \} or false, got true/],
    [{ grace: -1 }, RangeError, /option "grace" must be a finite number of milliseconds >= 0 \(0 means off\), got -1/],
    [
      { softTimeout: 2_000, hardTimeout: 1_000 },
      RangeError,
      /option "softTimeout" \(2000 ms\) must be less than "hardTimeout" \(1000 ms\)/,
    ],
    [{ softTimeout: 0 }, RangeError, /option "softTimeout" must be a finite number of milliseconds >= 1/],
    [{ refreshAhead: 1.5 }, RangeError, /option "refreshAhead" must be a fraction of the ttl, greater than 0 and less than 1/],
    [{ refreshAhead: '80%' }, TypeError, /option "refreshAhead" must be a number between 0 and 1/],
    [{ lock: true }, TypeError, /option "lock" needs a Redis bus \(option "redis"\)/],
    [{ lock: { ttl: 0 }, redis: 'redis://127.0.0.1:1' }, RangeError, /option "lock.ttl" must be a finite number > 0, got 0/],
    [{ lock: 'yes', redis: 'redis://127.0.0.1:1' }, TypeError, /option "lock" must be true, false or \{ ttl, wait \}/],
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
      storeTimeout: 1_000,
      circuitBreaker: { threshold: 5, cooldown: 5_000 },
      grace: 0,
      lock: { ttl: 10_000, wait: 5_000 },
      maxKeyLength: 65_536,
      maxValueBytes: 16_777_216,
    });
    const cache = new SyncedCache();
    expect(cache.namespace).toBe('default');
    expect(cache.stats().bus).toBe('off');
    await cache.close();
  });
});
