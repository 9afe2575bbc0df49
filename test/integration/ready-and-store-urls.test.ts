// What a short script needs: a way to wait for the bus (ready()), a store named by a URL that the cache
// closes with itself (so the script can end), and a sign when the bus never comes up.
import { fork } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, onTestFinished } from 'vitest';
import { freePort, startRedisServer } from '../../scripts/redis-server.mjs';
import { BusError, CacheClosedError, SyncedCache } from '../../src/index.js';
import { uniqueNamespace } from '../helpers/factory.js';
import { useRedisServer } from '../helpers/redis.js';

const dist = fileURLToPath(new URL('../../dist/index.js', import.meta.url));

function cache<V = unknown>(options: ConstructorParameters<typeof SyncedCache>[0]): SyncedCache<V> {
  const c = new SyncedCache<V>(options);
  onTestFinished(() => c.close());
  return c;
}

describe('ready()', () => {
  const redis = useRedisServer();

  it('resolves at once without a bus', async () => {
    await expect(cache({}).ready()).resolves.toBeUndefined();
  });

  it('resolves once the bus is up, and memory is used from then on', async () => {
    const c = cache<number>({ namespace: uniqueNamespace(), redis: redis.url });
    expect(c.stats().bus).toBe('down');
    await c.ready();
    expect(c.stats().bus).toBe('up');
    await c.set('k', 1);
    await c.get('k');
    expect(c.stats().hits.memory).toBe(1);
  });

  it('rejects at the timeout with a BusError naming what failed (ECONNREFUSED)', async () => {
    const port = await freePort();
    const c = cache({ namespace: uniqueNamespace(), redis: `redis://127.0.0.1:${port}`, heartbeat: { interval: 50, timeout: 50 } });
    c.on('error', () => {});
    const error = await c.ready({ timeout: 400 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BusError);
    expect((error as Error).message).toMatch(/did not come up within 400 ms: .*ECONNREFUSED/);
  });

  it('rejects with CacheClosedError when the cache closes first, and refuses bad options', async () => {
    const port = await freePort();
    const c = new SyncedCache({ namespace: uniqueNamespace(), redis: `redis://127.0.0.1:${port}` });
    c.on('error', () => {});
    const waiting = c.ready({ timeout: 10_000 });
    await c.close();
    await expect(waiting).rejects.toThrow(CacheClosedError);
    await expect(cache({}).ready({ timeout: -1 })).rejects.toThrow(RangeError);
    await expect(cache({}).ready({ timout: 5 } as never)).rejects.toThrow(/unknown option "timout" \(did you mean "timeout"\?\)/);
  });
});

describe('a store named by a URL', () => {
  const redis = useRedisServer();

  it('is built with its Keyv adapter, shared through the store, and closed by close()', async () => {
    const namespace = uniqueNamespace();
    const writer = new SyncedCache<string>({ namespace, store: redis.url });
    await writer.set('k', 'v');
    const reader = new SyncedCache<string>({ namespace, store: redis.url });
    expect(await reader.get('k')).toBe('v');
    expect(reader.stats().hits.store).toBe(1);
    expect(reader.canList).toBe(true);
    await writer.close();
    await reader.close();
  });

  it('lets a script end by itself: close() leaves nothing open', async () => {
    const script = join(tmpdir(), `store-url-${process.pid}-${Date.now()}.mjs`);
    writeFileSync(
      script,
      `import { SyncedCache } from ${JSON.stringify(dist)};
const cache = new SyncedCache({ namespace: 'script', store: ${JSON.stringify(redis.url)}, redis: ${JSON.stringify(redis.url)} });
await cache.ready();
await cache.set('k', 1);
console.log(JSON.stringify(await cache.get('k')));
await cache.close();
`,
    );
    const child = fork(script, [], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    let out = '';
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      child.once('exit', (c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
    expect({ code, out: out.trim() }).toEqual({ code: 0, out: '1' });
  });

  it('lets a script end by itself even when the store froze: close() forces the store it built closed', async () => {
    const server = await startRedisServer();
    const script = join(tmpdir(), `store-url-frozen-${process.pid}-${Date.now()}.mjs`);
    writeFileSync(
      script,
      `import { SyncedCache } from ${JSON.stringify(dist)};
const cache = new SyncedCache({ namespace: 'frozen', store: ${JSON.stringify(server.url)}, storeTimeout: 300 });
await cache.set('k', 1);
process.send('frozen?');
process.on('message', async () => {
  const started = Date.now();
  await cache.close();
  console.log(JSON.stringify({ closedIn: Date.now() - started }));
  // The test's own channel must not be what keeps this process alive.
  process.disconnect();
});
`,
    );
    const child = fork(script, [], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    let out = '';
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    try {
      await new Promise<void>((resolve) => child.once('message', () => resolve()));
      server.freeze();
      const exitedAt = new Promise<number>((resolve) => child.once('exit', () => resolve(performance.now())));
      const sentAt = performance.now();
      child.send('close');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      const exited = await exitedAt;
      clearTimeout(timer);
      expect(child.signalCode).toBeNull();
      expect(exited - sentAt).toBeLessThan(2 * 300 + 1_000 + 1_500);
      expect(JSON.parse(out.trim()).closedIn).toBeLessThan(2 * 300 + 1_000 + 500);
    } finally {
      server.thaw();
      await server.stop();
    }
  });

  it('says which package to install when it is missing, and refuses an unknown scheme', () => {
    expect(() => new SyncedCache({ store: 'sqlite://./x.db' })).toThrow(
      /a sqlite:\/\/ store needs the @keyv\/sqlite package: npm install @keyv\/sqlite/,
    );
    expect(() => new SyncedCache({ store: 'ftp://x' })).toThrow(/option "store" as a string must be a URL starting with redis:\/\//);
  });
});

describe('a bus that never comes up', () => {
  it('says so once as a process warning, with the reason, when nobody listens to error or bus:down', async () => {
    const port = await freePort();
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    onTestFinished(() => {
      process.off('warning', onWarning);
    });
    cache({ namespace: uniqueNamespace(), redis: `redis://127.0.0.1:${port}`, heartbeat: { interval: 30, timeout: 30 } });
    const heard = cache({ namespace: uniqueNamespace(), redis: `redis://127.0.0.1:${port}`, heartbeat: { interval: 30, timeout: 30 } });
    heard.on('bus:down', () => {});
    const deadline = Date.now() + 3_000;
    while (warnings.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    await new Promise((resolve) => setTimeout(resolve, 300));
    const ours = warnings.filter((w) => (w as Error & { code?: string }).code === 'SYNCED_CACHE_BUS_NOT_UP');
    expect(ours).toHaveLength(1);
    expect(ours[0]?.message).toMatch(/has not come up: .*ECONNREFUSED/);
  });
});
