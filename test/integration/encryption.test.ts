// Encryption with a passphrase across real processes (issue 11, security item 2): processes that start
// together agree on the namespace's one salt, written with a set-if-absent: the store's SET NX, or the add
// lock on the bus's Redis for a store without one. The store's Redis sits behind a proxy that delays every
// byte, so that every process reads "no salt yet" before any of them writes one: the race is real.
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { uniqueNamespace } from '../helpers/factory.js';
import { type Fixture, forkFixture } from '../helpers/fork-fixture.js';
import { useRedisServer } from '../helpers/redis.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

const PROCESSES = 4;
const PASSPHRASE = 'four processes, one salt';

describe('a passphrase across processes starting together', () => {
  const bus = useRedisServer();
  const storeServer = useRedisServer();
  let proxy: TcpProxy;
  let redis: Redis;
  const workers: Fixture[] = [];

  beforeAll(async () => {
    proxy = await startTcpProxy(storeServer.server.port);
    redis = new Redis(storeServer.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  });
  afterAll(async () => {
    redis?.disconnect();
    await proxy?.close();
  });
  afterEach(async () => {
    proxy.restore();
    proxy.latency(0);
    await Promise.all(workers.splice(0).map((w) => w.kill()));
  });

  /** The salt a passphrase ciphertext carries (after `sc1.` and its kind byte). */
  function saltOf(sealed: string): string {
    return Buffer.from(sealed.slice(4), 'base64url').subarray(1, 17).toString('base64url');
  }

  it.each([
    ["the store's own SET NX", 'redis'],
    ["the add lock on the bus's Redis (a store without SET NX)", 'no-nx'],
  ])('through %s: one salt in the store, every value encrypted with it, every process reads every value', async (_, kind) => {
    const namespace = uniqueNamespace('enc-salt');
    const env = { REDIS_URL: bus.url, STORE_URL: proxy.url, CACHE_NAMESPACE: namespace, PASSPHRASE, STORE_KIND: kind };
    const started = await Promise.all(Array.from({ length: PROCESSES }, () => forkFixture('encryption-worker.mjs', env)));
    workers.push(...started);
    await Promise.all(started.map((w) => w.call('ready')));
    // Every store round trip now takes at least 400 ms: each process's salt read is answered after all of
    // them were sent, so each sees none and tries to write its own.
    proxy.latency(200);
    const keys = started.map((w) => `from-${w.pid}`);
    await Promise.all(started.map((w, i) => w.call('write', { key: keys[i], value: { pid: w.pid, text: 'secret text' } })));
    proxy.latency(0);

    const saltKeys = await redis.keys(`*${namespace}*__synced-cache:salt`);
    expect(saltKeys).toHaveLength(1);
    const salt = JSON.parse((await redis.get(saltKeys[0] as string)) as string).value as string;
    expect(salt).toMatch(/^[A-Za-z0-9_-]{22}$/);
    for (const key of keys) {
      const storeKey = (await redis.keys(`*${key}`))[0] as string;
      const text = (await redis.get(storeKey)) as string;
      expect(text).not.toContain('secret text');
      expect(saltOf(JSON.parse(text).value)).toBe(salt);
    }
    const reads = await Promise.all(started.map((w) => w.call<unknown[]>('read', { keys })));
    for (const values of reads) expect(values).toEqual(started.map((w) => ({ pid: w.pid, text: 'secret text' })));
  });
});
