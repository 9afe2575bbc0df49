// The event stream against a real Redis and real processes: a forked cache with events: { bus: true }
// writes, and the built CLI's `watch --events` (another process) prints its operations live, the very
// lines the writer's own logEvents printed; signed channels are read with --secret, and a forged event
// is not shown; with Redis gone, events are dropped and counted while the writes go on.
// Run `npm run build` first: the fixture and the CLI load dist/.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { type RedisServer, startRedisServer } from '../../scripts/redis-server.mjs';
import { encodeEventRecord, encodeEvents, eventsHead } from '../../src/bus/event-messages.js';
import { eventsChannelFor, MessageSigner, SyncedCache } from '../../src/index.js';
import { bin, cleanEnv, lines, root, startWatch } from '../helpers/cli.js';
import { uniqueNamespace } from '../helpers/factory.js';
import { type Fixture, forkFixture } from '../helpers/fork-fixture.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { waitFor } from '../helpers/wait.js';

let redis: RedisServer;

beforeAll(async () => {
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run \`npm run build\` before these tests`);
  redis = await startRedisServer();
});

afterAll(async () => {
  await redis?.stop();
});

/** `synced-cache watch` on `namespace` with `options`, once it has subscribed. */
function watch(namespace: string, options: string[], globals: string[] = []) {
  return startWatch([...globals, '--redis', redis.url, '--namespace', namespace, 'watch', ...options]);
}

async function writer(namespace: string, secret?: string): Promise<{ worker: Fixture; id: string }> {
  // A fork and the import of the built package take a few seconds on a loaded machine.
  const worker = await forkFixture('events-worker.mjs', {}, 30_000);
  onTestFinished(async () => {
    await worker.call('close').catch(() => {});
    await worker.kill();
  });
  const { instanceId } = await worker.call<{ instanceId: string }>('init', { namespace, redisUrl: redis.url, secret });
  return { worker, id: instanceId };
}

/** The lines of `watch` that are events (not invalidations or heartbeats). */
const eventLines = (out: readonly string[]) => out.filter((l) => !/^\S+ (invalidate|heartbeat) /.test(l));

describe("watch --events shows every process's operations live", () => {
  it("prints a writer process's set, delete, expire and clear as the lines its own logEvents printed", async () => {
    const ns = uniqueNamespace('stream');
    const { out, err } = await watch(ns, ['--events']);
    expect(err).toContain(`synced-cache: watching synced-cache:${ns} and synced-cache:${ns}:events on ${redis.url} (Ctrl-C to stop)`);
    const { worker, id } = await writer(ns);
    await worker.call('set', { key: 'user:1', value: { name: 'Ada', secret: 'VALUE-1' } });
    await worker.call('get', { key: 'user:1' });
    await worker.call('set', { key: 'line\nbreak', value: 'VALUE-2' });
    await worker.call('delete', { key: 'user:1' });
    await worker.call('set', { key: 'short', value: 'VALUE-3', ttl: 200 });
    // Redis drops the record by itself; the writer's memory finds its copy past its life on a read.
    await waitFor(async () => (await worker.call('get', { key: 'short' })) === undefined, 'short to expire', 5_000);
    await worker.call('clear');
    await waitFor(() => eventLines(out).length >= 6, 'the six event lines');

    const logged = (await worker.call<string[]>('lines')).map((l) => l.trimEnd());
    const streamed = logged.filter((l) => /^\S+ (set|delete|expire|clear) /.test(l));
    expect(streamed.map((l) => l.split(' ')[1])).toEqual(['set', 'set', 'delete', 'set', 'expire', 'clear']);
    // The same lines, byte for byte: one formatter, the same time and instance.
    expect(eventLines(out)).toEqual(streamed);
    expect(streamed[0]).toMatch(new RegExp(`^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z set key=user:1 instance=${id}$`));
    expect(streamed[1]).toBe(`${streamed[1]?.split(' ')[0]} set key="line\\nbreak" instance=${id}`);
    expect(streamed[4]).toMatch(/ expire key=short instance=/);
    // Reads stay local (logEvents saw them), values never travel.
    expect(logged.some((l) => / hit key=user:1 /.test(l))).toBe(true);
    expect(out.join('\n')).not.toMatch(/VALUE| hit | miss /);
    expect(await worker.call('stats')).toMatchObject({ events: { published: 6, dropped: 0 } });
  });

  it('--json gives each event as an object', async () => {
    const ns = uniqueNamespace('stream');
    const { out } = await watch(ns, ['--events'], ['--json']);
    const { worker, id } = await writer(ns);
    await worker.call('set', { key: 'k', value: 1 });
    await waitFor(() => out.some((l) => l.includes('"type":"event"')), 'the JSON event');
    const event = out.map((l) => JSON.parse(l) as Record<string, unknown>).find((m) => m.type === 'event');
    expect(event).toEqual({ time: expect.stringMatching(/^\d{4}-.*Z$/), type: 'event', event: 'set', key: 'k', instance: id });
  });
});

describe('watch --events on a signed namespace', () => {
  const SECRET = 'events-secret-0123456789abcdef';

  it('reads signed events with --secret and ignores a forged unsigned or badly signed one', async () => {
    const ns = uniqueNamespace('signed');
    const { out, err } = await watch(ns, ['--events', '--secret', SECRET]);
    expect(err.at(-1)).toBe(
      `synced-cache: watching synced-cache:${ns} and synced-cache:${ns}:events on ${redis.url}, checking signatures (Ctrl-C to stop)`,
    );
    const { worker, id } = await writer(ns, SECRET);
    const forger = new Redis(redis.url);
    onTestFinished(() => forger.disconnect());
    const forged = encodeEvents(ns, eventsHead(ns, 'forger', 1, 0), [encodeEventRecord('set', 'forged-key', Date.now())]);
    await forger.publish(eventsChannelFor(ns), forged);
    await forger.publish(eventsChannelFor(ns), new MessageSigner('not-the-secret').sign(forged, eventsChannelFor(ns), ns));
    await worker.call('set', { key: 'real-key', value: 1 });
    await waitFor(() => eventLines(out).length >= 1, 'the real event');
    expect(eventLines(out)).toEqual([expect.stringMatching(new RegExp(` set key=real-key instance=${id}$`))]);
    expect(out.join('\n')).not.toContain('forged');
    const ignored = err.filter((l) => l.includes('ignored a message on'));
    expect(ignored).toEqual([
      expect.stringMatching(
        new RegExp(`^synced-cache: \\S+Z ignored a message on synced-cache:${ns}:events: no signature \\(unsigned, or truncated\\)$`),
      ),
      expect.stringMatching(
        /ignored a message on \S+:events: bad signature \(another secret, or a message made or changed by someone without it\)$/,
      ),
    ]);
    // The secret never shows.
    expect([...out, ...err].join('\n')).not.toContain(SECRET);
  });

  it('without --secret, says once per channel that its messages are signed, and shows none of them', async () => {
    const ns = uniqueNamespace('signed');
    const { out, err } = await watch(ns, ['--events']);
    const { worker } = await writer(ns, SECRET);
    await worker.call('set', { key: 'a', value: 1 });
    await worker.call('set', { key: 'b', value: 1 });
    const hint = (channel: string) =>
      `the messages on ${channel} are signed: pass --secret (or SYNCED_CACHE_SECRET) to read them; they are ignored`;
    await waitFor(() => err.some((l) => l.endsWith(hint(`synced-cache:${ns}:events`))), 'the hint for the events channel');
    await waitFor(() => err.some((l) => l.endsWith(hint(`synced-cache:${ns}`))), 'the hint for the invalidation channel');
    expect(err.filter((l) => l.includes('are signed'))).toHaveLength(2);
    expect(out).toEqual([]);
  });

  it('shows a replayed signed batch once: each replay (a sequence number already seen from its sender) is one note on stderr', async () => {
    const ns = uniqueNamespace('replay');
    const { out, err } = await watch(ns, ['--events', '--secret', SECRET]);
    const recorder = new Redis(redis.url);
    onTestFinished(() => recorder.disconnect());
    const recorded: string[] = [];
    recorder.on('message', (_channel: string, payload: string) => recorded.push(payload));
    await recorder.subscribe(eventsChannelFor(ns));
    const { worker, id } = await writer(ns, SECRET);
    await worker.call('set', { key: 'account:42', value: 1 });
    await waitFor(() => recorded.length >= 1 && eventLines(out).length >= 1, 'the batch, recorded and shown');
    const replayer = new Redis(redis.url);
    onTestFinished(() => replayer.disconnect());
    for (let i = 0; i < 3; i++) await replayer.publish(eventsChannelFor(ns), recorded[0] as string);
    const replays = () => err.filter((l) => l.includes('ignored a replayed or duplicate batch'));
    await waitFor(() => replays().length >= 3, 'the three replays noted');
    expect(replays()).toEqual(
      Array(3).fill(
        expect.stringMatching(
          new RegExp(`^synced-cache: \\S+Z ignored a replayed or duplicate batch from instance=${id} seq=1 \\(last seen: seq=1\\)$`),
        ),
      ),
    );
    // A batch after them is shown: the replays did not move what was seen.
    await worker.call('set', { key: 'account:43', value: 1 });
    await waitFor(() => eventLines(out).length >= 2, 'the next event');
    expect(eventLines(out)).toEqual([
      expect.stringMatching(new RegExp(` set key=account:42 instance=${id}$`)),
      expect.stringMatching(new RegExp(` set key=account:43 instance=${id}$`)),
    ]);
  });

  it('refuses an empty --secret as a usage error', async () => {
    const child = spawn(process.execPath, [bin, '--redis', redis.url, 'watch', '--secret', ''], { cwd: root, env: cleanEnv() });
    const err = lines(child, 'stderr');
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect({ code, err }).toEqual({ code: 2, err: ['synced-cache: --secret: must not be empty, got a string of 0 characters'] });
  });
});

describe('events on Redis', () => {
  it('each cache publishes on the events channel without subscribing to it: N caches are not each sent the events of all N', async () => {
    const ns = uniqueNamespace('pubonly');
    const caches = [1, 2, 3].map(() => new SyncedCache<number>({ namespace: ns, redis: redis.url, events: { bus: true } }));
    onTestFinished(async () => {
      await Promise.all(caches.map((c) => c.close()));
    });
    await Promise.all(caches.map((c) => c.ready()));
    const admin = new Redis(redis.url);
    onTestFinished(() => admin.disconnect());
    const subscribers = async (channel: string) => ((await admin.pubsub('NUMSUB', channel)) as [string, number])[1];
    await waitFor(async () => (await subscribers(`synced-cache:${ns}`)) === 3, 'the three caches on the invalidation channel');
    const listener = new Redis(redis.url);
    onTestFinished(() => listener.disconnect());
    const heard: string[] = [];
    listener.on('message', (_channel: string, payload: string) => heard.push(payload));
    await listener.subscribe(eventsChannelFor(ns));
    // Only the listener is subscribed to the events channel; each cache proves its connection up elsewhere.
    expect(await subscribers(eventsChannelFor(ns))).toBe(1);
    for (const [i, cache] of caches.entries()) await cache.set(`k${i}`, i);
    await waitFor(() => heard.length === 3, 'one batch from each cache');
    await waitFor(() => caches.every((c) => c.stats().events.published === 1), 'each counted its event');
  });
});

describe('events under a Redis user limited to the channels themselves (an ACL)', () => {
  it('the publish-only connection falls back to subscribing to the events channel: events flow, with no reconnect storm', async () => {
    const ns = uniqueNamespace('acl');
    const own = await startRedisServer({
      args: [
        ...['--user', 'bus', 'on', '>pw', 'resetchannels', `&synced-cache:${ns}`, `&synced-cache:${ns}:events`],
        ...['+publish', '+subscribe', '+ping', '+info', '+client|setname'],
      ],
    });
    onTestFinished(() => own.stop());
    const admin = new Redis(own.url);
    onTestFinished(() => admin.disconnect());
    const connections = async () => Number(/total_connections_received:(\d+)/.exec(await admin.info('stats'))?.[1]);
    const cache = new SyncedCache<number>({ namespace: ns, redis: `redis://bus:pw@127.0.0.1:${own.port}`, events: { bus: true } });
    onTestFinished(() => cache.close());
    cache.on('error', () => {});
    await cache.ready();
    const before = await connections();
    for (let i = 0; i < 10; i++) {
      await cache.set(`k${i}`, i);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await waitFor(() => cache.stats().events.published === 10, 'the ten events published');
    expect(cache.stats().events.dropped).toBe(0);
    // A refused SUBSCRIBE dropped the connection and tried again, about ten times a second.
    expect((await connections()) - before).toBe(0);
  });
});

describe('events are best effort', () => {
  it('after the path to Redis dies silently, the event stream comes back with the bus, on new connections', async () => {
    const proxy = await startTcpProxy(redis.port);
    onTestFinished(() => proxy.close());
    const ns = uniqueNamespace('deadpath');
    const cache = new SyncedCache<number>({
      namespace: ns,
      redis: proxy.url,
      events: { bus: true },
      publishTimeout: 300,
      heartbeat: { interval: 200, timeout: 300 },
    });
    onTestFinished(() => cache.close());
    cache.on('error', () => {});
    await cache.ready();
    // Straight to Redis, not through the proxy.
    const listener = new Redis(redis.url);
    onTestFinished(() => listener.disconnect());
    const heard: string[] = [];
    listener.on('message', (_channel: string, payload: string) => heard.push(payload));
    await listener.subscribe(eventsChannelFor(ns));
    await cache.set('before', 1);
    await waitFor(() => heard.length === 1, 'the first event');

    // The old connections go silent for good (no reset, no close); new ones get through.
    proxy.blackhole('pass');
    await waitFor(() => cache.stats().bus === 'down', 'the bus down', 5_000);
    await waitFor(() => cache.stats().bus === 'up', 'the bus up on new connections', 10_000);
    // The events connection was reopened with it: events reach Redis again.
    await waitFor(
      async () => {
        await cache.set('after', 1);
        return heard.length > 1;
      },
      'an event after the bus came back',
      5_000,
    );
  });

  it('with Redis gone, writes go on and their events are dropped and counted; once back, events flow again', async () => {
    const own = await startRedisServer();
    onTestFinished(() => own.stop());
    const ns = uniqueNamespace('down');
    const cache = new SyncedCache<number>({
      namespace: ns,
      redis: own.url,
      events: { bus: true },
      heartbeat: { interval: 100, timeout: 200 },
    });
    onTestFinished(() => cache.close());
    cache.on('error', () => {});
    await waitFor(() => cache.stats().bus === 'up', 'bus up');
    await cache.set('before', 1);
    await waitFor(() => cache.stats().events.published === 1, 'the first event published');
    await own.kill();
    await waitFor(() => cache.stats().bus === 'down', 'bus down');
    const started = performance.now();
    for (let i = 0; i < 20; i++) await cache.set(`k${i}`, i);
    // The store is memory here: the writes do not wait for Redis, nor for their events.
    expect(performance.now() - started).toBeLessThan(500);
    expect(cache.stats().events).toEqual({ published: 1, dropped: 20 });
    await own.restart();
    await waitFor(() => cache.stats().bus === 'up', 'bus up again', 10_000);
    const listener = new Redis(own.url);
    onTestFinished(() => listener.disconnect());
    const heard: string[] = [];
    listener.on('message', (_channel: string, payload: string) => heard.push(payload));
    await listener.subscribe(eventsChannelFor(ns));
    // The events connection reconnects by itself; an event raised before it is up again is dropped too.
    await waitFor(
      async () => {
        await cache.set('after', 1);
        return heard.length > 0;
      },
      'an event after the restart',
      10_000,
    );
    // The first batch after the outage says how many were dropped (the 20, and any raised while it reconnected).
    expect(heard[0]).toMatch(/"d":(\d+),"e":\[\["set",\d+,"after"\](,\["set",\d+,"after"\])*\]\}$/);
    expect(Number(/"d":(\d+)/.exec(heard[0] ?? '')?.[1])).toBeGreaterThanOrEqual(20);
  });
});
