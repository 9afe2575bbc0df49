// What a user sees when the bus cannot connect (a wrong or unreachable URL, a wrong password), and what
// close() leaves behind then. Real redis-servers started by the test, real ioredis clients, real processes.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { inspect } from 'node:util';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { freePort, type RedisServer, startRedisServer } from '../../scripts/redis-server.mjs';
import { Bus, NOT_UP_BEATS } from '../../src/bus/bus.js';
import { type BusDownEvent, BusError, type RedisOption, RedisTransport } from '../../src/index.js';
import { makeCache, uniqueNamespace } from '../helpers/factory.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { waitFor } from '../helpers/wait.js';

const fast = { interval: 100, timeout: 200 };

/** A Bus (the core's part) on a real Redis transport, recording what it reports. */
function busOn(url: string) {
  const seen = { downs: [] as (Error | undefined)[], errors: [] as Error[], notUp: [] as Error[] };
  const bus = new Bus(
    new RedisTransport(url),
    {
      namespace: uniqueNamespace(),
      heartbeat: fast,
      maxPendingKeys: 10,
      maxMessageBytes: 1 << 20,
      publishTimeout: 200,
      clock: performance,
    },
    {
      invalidate: () => {},
      gap: () => {},
      status: (status, _previous, reason) => {
        if (status === 'down') seen.downs.push(reason);
      },
      error: (error) => seen.errors.push(error),
      notUp: (reason) => seen.notUp.push(reason),
    },
  );
  onTestFinished(() => bus.close());
  return { bus, seen };
}

describe('an unreachable Redis', () => {
  it("puts the connection error's message in the bus:down reason", async () => {
    const url = `redis://127.0.0.1:${await freePort()}`;
    const cache = makeCache({ namespace: uniqueNamespace(), redis: url, heartbeat: fast });
    const downs: BusDownEvent[] = [];
    cache.on('bus:down', (event) => downs.push(event));
    cache.on('error', () => {});
    await waitFor(() => downs.length > 0, 'bus:down');
    expect(downs[0]).toEqual({ reason: expect.any(BusError), at: expect.any(Number), instance: cache.instanceId });
    expect(downs[0]?.reason?.message).toMatch(/^the subscriber connection to Redis closed: connect ECONNREFUSED 127\.0\.0\.1:\d+$/);
  });

  it(`is named, once, when the bus has not come up within ${NOT_UP_BEATS} heartbeat intervals`, async () => {
    const port = await freePort();
    const { seen } = busOn(`redis://127.0.0.1:${port}`);
    await waitFor(() => seen.notUp.length > 0, 'notUp', 5_000);
    expect(seen.notUp[0]).toBeInstanceOf(BusError);
    expect(seen.notUp[0]?.message).toMatch(
      new RegExp(
        `^the bus has not come up within ${NOT_UP_BEATS} heartbeat intervals \\(${NOT_UP_BEATS * fast.interval} ms\\): .*ECONNREFUSED 127\\.0\\.0\\.1:${port}$`,
      ),
    );
    const count = seen.errors.length;
    await waitFor(() => seen.errors.length > count + 2, 'more failed attempts');
    expect(seen.notUp).toHaveLength(1);
  });
});

describe('close() with Redis unreachable', () => {
  const script = fileURLToPath(new URL('../fixtures/close-exit.mjs', import.meta.url));

  /** Runs the fixture to its own exit (killed after 10 s); resolves what it reported. */
  function run(env: Record<string, string>): Promise<{ code: number | null; lingeredMs: number; holding: string[] }> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [script], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk;
      });
      const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      child.once('error', reject);
      child.once('exit', (code) => {
        clearTimeout(killer);
        try {
          resolve({ code, ...JSON.parse(out) });
        } catch {
          reject(new Error(`the fixture did not exit by itself within 10 s (code ${code}, output ${JSON.stringify(out)})`));
        }
      });
    });
  }

  it.each([
    ['refused, after the first failure', 'refused', 'down'],
    ['refused, while reconnecting', 'refused', 'attempts'],
    ['refused, at once', 'refused', 'nothing'],
    ['accepted and never answered', 'held', 'attempts'],
  ])('lets the process exit within 500 ms after it resolves: %s', async (_, kind, waitFor) => {
    let url = `redis://127.0.0.1:${await freePort()}`;
    if (kind === 'held') {
      const proxy = await startTcpProxy(await freePort());
      onTestFinished(() => proxy.close());
      proxy.blackhole('hold');
      url = proxy.url;
    }
    const result = await run({ BUS_URL: url, WAIT_FOR: waitFor });
    expect(result.code).toBe(0);
    expect(result.lingeredMs, `still held by ${result.holding.join(', ')}`).toBeLessThan(500);
  });
});

describe('wrong credentials', () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await startRedisServer({
      args: ['--requirepass', 'the-right-pass', '--user', 'alice', 'on', '>alice-right-pass', '~*', '&*', '+@all'],
    });
  });
  afterAll(async () => {
    await server?.stop();
  });

  const WRONG = ['wrong-pass-Zq1', 'bob-pass-Zq2', 'alice-wrong-Zq3', 'options-pass-Zq4', 'client-pass-Zq5'];

  /** Every error a cache hands out (error events and bus:down reasons) on this target, once AUTH has failed. */
  async function errorsOn(redis: RedisOption): Promise<Error[]> {
    const cache = makeCache({ namespace: uniqueNamespace(), redis, heartbeat: fast });
    const errors: Error[] = [];
    cache.on('error', (error) => errors.push(error));
    cache.on('bus:down', ({ reason }) => {
      if (reason !== undefined) errors.push(reason);
    });
    await waitFor(() => errors.filter((e) => /WRONGPASS/.test(e.message)).length >= 3, 'AUTH to fail, and be retried');
    await cache.close();
    return errors;
  }

  it.each([
    ['a wrong password for the default user', () => `redis://:${WRONG[0]}@127.0.0.1:${server.port}`],
    ['an unknown user', () => `redis://bob:${WRONG[1]}@127.0.0.1:${server.port}`],
    ['a wrong password for an ACL user', () => `redis://alice:${WRONG[2]}@127.0.0.1:${server.port}`],
    ['ioredis options', () => ({ host: '127.0.0.1', port: server.port, username: 'alice', password: WRONG[3] })],
  ])('with %s, no error handed out holds the password, however deep it is inspected', async (_, target) => {
    const errors = await errorsOn(target());
    expect(errors.length).toBeGreaterThan(0);
    for (const error of errors) {
      const text = inspect(error, { depth: Number.POSITIVE_INFINITY, showHidden: true });
      for (const secret of WRONG) expect(text).not.toContain(secret);
    }
    // The reason still says what failed, and the failed command is still there to see, masked.
    const down = errors.find((e) => e.message.startsWith('the subscriber connection to Redis closed: WRONGPASS'));
    expect(down).toBeInstanceOf(BusError);
    expect(inspect(down, { depth: Number.POSITIVE_INFINITY })).toMatch(/command: \{ name: 'auth', args: \[ (?:'\w+', )?'\*\*\*' \] \}/);
  });

  it("with an application's client (duplicated to subscribe), no error handed out holds its password", async () => {
    const client = new Redis({ host: '127.0.0.1', port: server.port, password: WRONG[4], lazyConnect: true, enableOfflineQueue: false });
    client.on('error', () => {});
    onTestFinished(() => client.disconnect());
    const errors = await errorsOn(client);
    for (const error of errors) expect(inspect(error, { depth: Number.POSITIVE_INFINITY, showHidden: true })).not.toContain(WRONG[4]);
  });
});
