// Issue 11, "no secrets in output": whatever fails with a wrong password, on the store or on the bus, no
// error the library hands out (its cause chain included, inspected to the bottom) carries the password.
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RedisServer, startRedisServer } from '../../scripts/redis-server.mjs';
import { SyncedCache } from '../../src/index.js';
import { uniqueNamespace } from '../helpers/factory.js';

describe('no secrets in errors', () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await startRedisServer({ args: ['--requirepass', 'the-right-password-123'] });
  });
  afterAll(async () => {
    await server.stop();
  });

  it('a wrong password for the store (a redis:// URL) and for the bus appears in no error, rejection or report', async () => {
    const secret = 'a-wrong-password-456';
    const url = `redis://:${secret}@127.0.0.1:${server.port}`;
    const cache = new SyncedCache({
      namespace: uniqueNamespace(),
      store: url,
      redis: url,
      storeTimeout: 800,
      heartbeat: { interval: 100, timeout: 200 },
    });
    const errors: unknown[] = [];
    cache.on('error', (error) => errors.push(error));
    for (const call of [() => cache.get('k'), () => cache.set('k', 1), () => cache.ready({ timeout: 400 })]) {
      await call().catch((error: unknown) => errors.push(error));
    }
    await cache.close();
    expect(errors.length).toBeGreaterThanOrEqual(3);
    for (const error of errors) {
      const text = inspect(error, { depth: Number.POSITIVE_INFINITY, showHidden: true });
      expect({ error: (error as Error).message, leaks: text.includes(secret) }).toEqual({ error: (error as Error).message, leaks: false });
    }
    expect(inspect(cache, { depth: 4 })).not.toContain(secret);
  });
});
