// The built `synced-cache` bin, run as a subprocess against a private redis-server (and PostgreSQL when
// it answers). Run `npm run build` first: these tests exercise dist/cli.js, not the sources.
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import KeyvRedis from '@keyv/redis';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { freePort, type RedisServer, startRedisServer } from '../../scripts/redis-server.mjs';
import { SyncedCache } from '../../src/index.js';
import { bin, type CliResult, cleanEnv, lines, RUN_DEADLINE_MS, root, runCli, startWatch as startCliWatch } from '../helpers/cli.js';
import { uniqueNamespace } from '../helpers/factory.js';
import { tcpAnswers } from '../helpers/tcp.js';
import { waitFor } from '../helpers/wait.js';

const PG = 'postgres://postgres@127.0.0.1:5432/test';

type Result = CliResult;

const run = runCli;

/** Runs a command that must succeed; on failure the message shows what it printed. */
async function ok(args: string[], options?: { env?: Record<string, string> }): Promise<Result> {
  const r = await run(args, options);
  expect(r.code, `synced-cache ${args.join(' ')}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`).toBe(0);
  return r;
}

function oneLine(text: string): string {
  const trimmed = text.trimEnd();
  expect(trimmed).not.toBe('');
  expect(trimmed.split('\n')).toHaveLength(1);
  return trimmed;
}

let redis: RedisServer;
let url: string;

beforeAll(async () => {
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run \`npm run build\` before these tests`);
  const newestSource = Math.max(...readdirSync(`${root}src/cli`).map((f) => statSync(`${root}src/cli/${f}`).mtimeMs));
  if (statSync(bin).mtimeMs < newestSource) {
    throw new Error(`${bin} is older than src/cli/: run \`npm run build\` before these tests`);
  }
  redis = await startRedisServer();
  url = redis.url;
});

afterAll(async () => {
  await redis?.stop();
});

/** The global options every command of a test gets: our Redis and a namespace of its own. */
function on(namespace: string, ...more: string[]): string[] {
  return ['--redis', url, '--namespace', namespace, ...more];
}

describe('synced-cache CLI: round trips', () => {
  it('set, get and del a JSON value, a string and a number-looking string, with exit codes', async () => {
    const ns = uniqueNamespace('cli');
    let r = await run([...on(ns), 'set', 'user:1', '{"name":"Ada","roles":["admin"]}']);
    expect(r).toMatchObject({ code: 0, stdout: 'OK\n' });
    r = await run([...on(ns), 'get', 'user:1']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ name: 'Ada', roles: ['admin'] });

    // Not JSON: kept as the string it is.
    await ok([...on(ns), 'set', 'greeting', 'hello world']);
    expect(await run([...on(ns), 'get', 'greeting'])).toMatchObject({ code: 0, stdout: 'hello world\n' });

    // --type string keeps "42" a string; the JSON output tells the types apart.
    await ok([...on(ns), 'set', 'n', '42']);
    await ok([...on(ns), 'set', 's', '42', '--type', 'string']);
    expect(JSON.parse((await run([...on(ns, '--json'), 'get', 'n'])).stdout)).toEqual({ key: 'n', found: true, value: 42 });
    expect(JSON.parse((await run([...on(ns, '--json'), 'get', 's'])).stdout)).toEqual({ key: 's', found: true, value: '42' });

    r = await run([...on(ns), 'del', 'user:1']);
    expect(r).toMatchObject({ code: 0, stdout: 'deleted\n' });
    r = await run([...on(ns), 'get', 'user:1']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(oneLine(r.stderr)).toBe('synced-cache: not found: "user:1"');
    r = await run([...on(ns), 'del', 'user:1']);
    expect(r.code).toBe(1);
    expect(oneLine(r.stderr)).toContain('not found');
  });

  it('--json gives machine-readable output for every command', async () => {
    const ns = uniqueNamespace('cli');
    const json = on(ns, '--json');
    expect(JSON.parse((await run([...json, 'set', 'a', '[1,2]', '--ttl', '1h'])).stdout)).toEqual({ key: 'a', ok: true, ttl: 3_600_000 });
    expect(JSON.parse((await run([...json, 'get', 'a'])).stdout)).toEqual({ key: 'a', found: true, value: [1, 2] });
    const missing = await run([...json, 'get', 'b']);
    expect(missing.code).toBe(1);
    expect(JSON.parse(missing.stdout)).toEqual({ key: 'b', found: false });
    expect(JSON.parse((await run([...json, 'ls'])).stdout)).toEqual(['a']);
    const stats = JSON.parse((await run([...json, 'stats'])).stdout);
    expect(stats).toMatchObject({
      namespace: ns,
      channel: `synced-cache:${ns}`,
      store: { kind: 'Redis', keys: 1 },
      bus: { subscribers: 0 },
    });
    expect(JSON.parse((await run([...json, 'del', 'a'])).stdout)).toEqual({ key: 'a', deleted: true });
    expect(JSON.parse((await run([...json, 'clear', '--yes'])).stdout)).toEqual({ namespace: ns, cleared: true });
  });

  it('--ttl makes the entry expire', async () => {
    const ns = uniqueNamespace('cli');
    await ok([...on(ns), 'set', 'short', '1', '--ttl', '300ms']);
    await ok([...on(ns), 'set', 'long', '1']);
    await waitFor(async () => (await run([...on(ns), 'get', 'short'])).code === 1, 'the entry to expire', 10_000);
    await ok([...on(ns), 'get', 'long']);
  });

  it('ls lists the keys of the namespace only, sorted', async () => {
    const ns = uniqueNamespace('cli');
    const other = uniqueNamespace('cli');
    for (const key of ['b', 'a', 'c:1']) await ok([...on(ns), 'set', key, '1']);
    await ok([...on(other), 'set', 'zzz', '1']);
    expect(await run([...on(ns), 'ls'])).toMatchObject({ code: 0, stdout: 'a\nb\nc:1\n' });
    expect(await run([...on(uniqueNamespace('empty')), 'ls'])).toMatchObject({ code: 0, stdout: '' });
  });

  it('clear refuses without a terminal and without --yes (exit 2), and clears with --yes', async () => {
    const ns = uniqueNamespace('cli');
    await ok([...on(ns), 'set', 'a', '1']);
    let r = await run([...on(ns), 'clear']);
    expect(r.code).toBe(2);
    expect(oneLine(r.stderr)).toBe('synced-cache: refusing to clear without confirmation: stdin is not a terminal, pass --yes');
    await ok([...on(ns), 'get', 'a']);
    r = await run([...on(ns), 'clear', '--yes']);
    expect(r).toMatchObject({ code: 0, stdout: `cleared namespace "${ns}"\n` });
    expect(await run([...on(ns), 'ls'])).toMatchObject({ code: 0, stdout: '' });
  });

  it('clear asks on a terminal: "n" keeps the keys, "y" clears them', async (ctx) => {
    let hasScript = true;
    try {
      execFileSync('script', ['--version'], { stdio: 'ignore' });
    } catch {
      hasScript = false;
    }
    if (!hasScript) ctx.skip('util-linux `script` is not installed, so no pseudo-terminal can be given to the CLI');
    const ns = uniqueNamespace('cli');
    await ok([...on(ns), 'set', 'a', '1']);
    // `script` runs the command on a pseudo-terminal and feeds it our stdin.
    const tty = (answer: string, ...more: string[]) =>
      new Promise<{ code: number | null; out: string }>((resolve, reject) => {
        const command = [process.execPath, bin, ...on(ns, ...more), 'clear'].map((a) => `'${a}'`).join(' ');
        const child = spawn('script', ['-qec', command, '/dev/null'], { cwd: root, env: cleanEnv() });
        let out = '';
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          if (out.includes('[y/N]') && !child.stdin.writableEnded) child.stdin.end(`${answer}\n`);
        });
        const timer = setTimeout(() => {
          child.kill('SIGKILL');
          reject(new Error(`clear on a terminal did not finish; output: ${out}`));
        }, RUN_DEADLINE_MS);
        child.on('close', (code) => {
          clearTimeout(timer);
          resolve({ code, out });
        });
      });
    let r = await tty('n');
    expect(r.out).toContain(`Delete every key of namespace "${ns}" in ${url}? [y/N]`);
    expect(r.code).toBe(1);
    await ok([...on(ns), 'get', 'a']);
    // With --json, the answer "no" is a result too.
    r = await tty('n', '--json');
    expect(r.code).toBe(1);
    expect(r.out).toContain(`{"namespace":"${ns}","cleared":false}`);
    r = await tty('y');
    expect(r.code).toBe(0);
    expect(r.out).toContain(`cleared namespace "${ns}"`);
    expect((await run([...on(ns), 'get', 'a'])).code).toBe(1);
  });

  it('stats counts the keys and the caches listening on the channel', async () => {
    const ns = uniqueNamespace('cli');
    for (const key of ['a', 'b', 'c']) await ok([...on(ns), 'set', key, '1']);
    const listener = new SyncedCache({ namespace: ns, redis: url });
    onTestFinished(() => listener.close());
    await waitFor(() => listener.stats().bus === 'up', 'the listener bus up');
    const r = await run([...on(ns), 'stats']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^keys\s+3$/m);
    expect(r.stdout).toMatch(/^subscribers\s+1 /m);
    expect(r.stdout).toMatch(new RegExp(`^namespace\\s+${ns}$`, 'm'));
  });

  it("a set from the CLI drops the key from a running process's memory, which then reads the new value", async () => {
    const ns = uniqueNamespace('cli');
    const store = new KeyvRedis(url);
    const app = new SyncedCache<unknown>({ namespace: ns, store, redis: url });
    onTestFinished(async () => {
      await app.close();
      await store.disconnect();
    });
    await waitFor(() => app.stats().bus === 'up', 'the app bus up');
    await app.set('price', 10);
    expect(await app.get('price')).toBe(10);
    expect(app.stats().hits.memory).toBe(1);

    await ok([...on(ns), 'set', 'price', '12']);
    await waitFor(() => app.stats().invalidations.received === 1, 'the invalidation to reach the app');
    expect(await app.get('price')).toBe(12);
    // The CLI reads what the app wrote, through the same store layout.
    await app.set('name', 'widget');
    expect(await run([...on(ns), 'get', 'name'])).toMatchObject({ code: 0, stdout: 'widget\n' });
  });

  it('with --encryption-key (or SYNCED_CACHE_ENCRYPTION_KEY), values are written and read as the caches with that key do; the key is never printed', async () => {
    const ns = uniqueNamespace('cli');
    const key = randomBytes(32).toString('hex');
    const store = new KeyvRedis(url);
    const app = new SyncedCache<unknown>({ namespace: ns, store, redis: url, encryption: { key } });
    onTestFinished(async () => {
      await app.close();
      await store.disconnect();
    });
    await ok([...on(ns, '--encryption-key', key), 'set', 'user:1', '{"name":"Ada"}']);
    expect(await app.get('user:1')).toEqual({ name: 'Ada' });
    const raw = (await app.keyv.getRaw('user:1')) as { value: string };
    expect(raw.value).toMatch(/^sc1\./);
    await app.set('user:2', { name: 'Grace' });
    const read = await run([...on(ns), 'get', 'user:2'], { env: { SYNCED_CACHE_ENCRYPTION_KEY: key } });
    expect(read).toMatchObject({ code: 0, stdout: '{"name":"Grace"}\n' });
    // Another key: the read fails in one line, naming the key of the entry and never the encryption key.
    const wrong = await run([...on(ns, '--encryption-key', 'not the passphrase'), 'get', 'user:2']);
    expect(wrong.code).toBe(1);
    expect(oneLine(wrong.stderr)).toMatch(/^synced-cache: Redis at redis:\/\/127\.0\.0\.1:\d+: cannot decrypt the value of key "user:2": /);
    const empty = await run([...on(ns, '--encryption-key', ''), 'get', 'user:2']);
    expect({ code: empty.code, stderr: oneLine(empty.stderr) }).toEqual({
      code: 2,
      stderr: 'synced-cache: --encryption-key: must not be empty',
    });
    for (const r of [read, wrong, empty]) expect(r.stdout + r.stderr).not.toContain(key);
  });

  it('with --secret (or SYNCED_CACHE_SECRET), a set, del or clear is signed, so caches with that secret act on it; without, they ignore it', async () => {
    const ns = uniqueNamespace('cli');
    const secret = 'a-secret-of-the-caches-0123456789';
    const store = new KeyvRedis(url);
    const app = new SyncedCache<unknown>({ namespace: ns, store, redis: url, secret });
    const ignored: Error[] = [];
    app.on('error', (error) => ignored.push(error));
    onTestFinished(async () => {
      await app.close();
      await store.disconnect();
    });
    await waitFor(() => app.stats().bus === 'up', 'the app bus up');
    await app.set('price', 10);
    expect(await app.get('price')).toBe(10);

    // Unsigned: the app ignores it (and the CLI's heartbeats) and keeps serving its copy.
    await ok([...on(ns), 'set', 'price', '11']);
    // Redis hands one subscriber its messages in the order they were published: once this signed one has
    // arrived, the unsigned one before it has been judged.
    await ok([...on(ns, '--secret', secret), 'set', 'marker', '1']);
    await waitFor(() => app.stats().invalidations.received === 1, 'the signed set to reach the app');
    expect(await app.get('price')).toBe(10);
    expect(app.stats().invalidations.ignored).toBeGreaterThanOrEqual(1);
    expect(ignored.map((e) => e.name)).toEqual(['InvalidMessageError']);

    await ok([...on(ns, '--secret', secret), 'set', 'price', '12']);
    await waitFor(() => app.stats().invalidations.received === 2, 'the signed set to reach the app');
    expect(await app.get('price')).toBe(12);
    await ok([...on(ns), 'del', 'price'], { env: { SYNCED_CACHE_SECRET: secret } });
    await waitFor(() => app.stats().invalidations.received === 3, 'the signed del to reach the app');
    expect(await app.get('price')).toBeUndefined();
    await app.set('other', 1);
    await ok([...on(ns, '--secret', secret), 'clear', '--yes']);
    await waitFor(() => app.stats().invalidations.received === 4, 'the signed clear to reach the app');
    expect(await app.get('other')).toBeUndefined();
    // The secret is never printed, not even in a usage error.
    const bad = await run([...on(ns, '--secret', ''), 'set', 'k', '1']);
    expect({ code: bad.code, stderr: oneLine(bad.stderr) }).toEqual({
      code: 2,
      stderr: 'synced-cache: --secret: must not be empty, got a string of 0 characters',
    });
  });
});

describe('synced-cache CLI: watch', () => {
  const startWatch = (args: string[], watchOptions: string[] = []) => startCliWatch([...args, 'watch', ...watchOptions]);

  it('prints each invalidation of the namespace live, with an ISO time, the origin and the keys', async () => {
    const ns = uniqueNamespace('watch');
    const watch = await startWatch(on(ns));
    const app = new SyncedCache<unknown>({ namespace: ns, redis: url });
    onTestFinished(() => app.close());
    await waitFor(() => app.stats().bus === 'up', 'the app bus up');

    await app.set('user:7', { name: 'Grace' });
    await waitFor(() => watch.out.length >= 1, 'the first line');
    expect(watch.out[0]).toMatch(
      new RegExp(
        `^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z invalidate origin=${app.instanceId} seq=1 lag=\\d+ms keys=\\["user:7"\\]$`,
      ),
    );

    // An invalidation made by another process: a second CLI call.
    await ok([...on(ns), 'set', 'user:7', '{"name":"Ada"}']);
    await waitFor(() => watch.out.length >= 2, 'the line of the CLI write');
    expect(watch.out[1]).toMatch(/ invalidate origin=[0-9a-f-]{36} seq=1 lag=\d+ms keys=\["user:7"\]$/);
    expect(watch.out[1]).not.toContain(app.instanceId);

    await app.clear();
    await waitFor(() => watch.out.length >= 3, 'the line of the clear');
    expect(watch.out[2]).toMatch(/ invalidate origin=\S+ seq=2 lag=\d+ms keys=\*$/);
    // Heartbeats are not shown by default (the app sends one every second).
    expect(watch.out.join('\n')).not.toContain('heartbeat');

    watch.child.kill('SIGTERM');
    expect(await watch.exited).toBe(0);
  });

  it('--json prints one JSON object per message; --heartbeats includes heartbeats; foreign messages are reported on stderr', async () => {
    const ns = uniqueNamespace('watch');
    const watch = await startWatch(on(ns, '--json'), ['--heartbeats']);
    const app = new SyncedCache<unknown>({ namespace: ns, redis: url, heartbeat: { interval: 100, timeout: 1_000 } });
    onTestFinished(() => app.close());
    await waitFor(() => app.stats().bus === 'up', 'the app bus up');
    await app.set('a', 1);
    const parsed = () => watch.out.map((l) => JSON.parse(l) as Record<string, unknown>);
    await waitFor(
      () => parsed().some((m) => m.type === 'invalidate') && parsed().some((m) => m.type === 'heartbeat'),
      'an invalidation and a heartbeat',
    );
    const invalidation = parsed().find((m) => m.type === 'invalidate');
    expect(invalidation).toMatchObject({ type: 'invalidate', origin: app.instanceId, seq: 1, keys: ['a'] });
    expect(new Date(invalidation?.time as string).toISOString()).toBe(invalidation?.time);
    expect(typeof invalidation?.lagMs).toBe('number');
    expect(parsed().find((m) => m.type === 'heartbeat')).toMatchObject({ origin: app.instanceId });

    const { Redis } = await import('ioredis');
    const raw = new Redis(url);
    onTestFinished(() => raw.disconnect());
    await raw.publish(`synced-cache:${ns}`, 'not json at all');
    await waitFor(() => watch.err.some((l) => l.includes('ignored a message: payload is not JSON')), 'the ignored message on stderr');
    watch.child.kill('SIGINT');
    expect(await watch.exited).toBe(0);
  });
  it('a replayed or duplicate invalidation (a sequence number its sender already used) is noted, not shown', async () => {
    const ns = uniqueNamespace('watch');
    const watch = await startWatch(on(ns));
    const { Redis } = await import('ioredis');
    const raw = new Redis(url);
    onTestFinished(() => raw.disconnect());
    const message = (seq: number, key: string) =>
      `{"v":1,"ns":"${ns}","t":"i","o":"sender-1","q":${seq},"ts":${Date.now()},"k":["${key}"]}`;
    await raw.publish(`synced-cache:${ns}`, message(1, 'a'));
    await raw.publish(`synced-cache:${ns}`, message(2, 'b'));
    await raw.publish(`synced-cache:${ns}`, message(1, 'a'));
    await raw.publish(`synced-cache:${ns}`, message(3, 'c'));
    await waitFor(() => watch.out.length >= 3, 'the three fresh invalidations');
    expect(watch.out.map((l) => / keys=(\S+)$/.exec(l)?.[1])).toEqual(['["a"]', '["b"]', '["c"]']);
    expect(watch.err.filter((l) => l.includes('replayed'))).toEqual([
      expect.stringMatching(/ ignored a replayed or duplicate invalidation from origin=sender-1 seq=1 \(last seen: seq=2\)$/),
    ]);
    watch.child.kill('SIGINT');
    expect(await watch.exited).toBe(0);
  });

  it('one hostile message never ends watch: a time no Date can hold is refused and noted, and the next message is shown', async () => {
    const ns = uniqueNamespace('watch');
    const watch = await startWatch(on(ns, '--json'), ['--events']);
    const { Redis } = await import('ioredis');
    const raw = new Redis(url);
    onTestFinished(() => raw.disconnect());
    // Exactly the encoders' form: only the time is wrong, beyond what toISOString() can show.
    await raw.publish(`synced-cache:${ns}`, `{"v":1,"ns":"${ns}","t":"i","o":"x","q":1,"ts":1e+300,"k":["a"]}`);
    await raw.publish(`synced-cache:${ns}:events`, `{"v":1,"ns":"${ns}","t":"e","o":"x","q":1,"d":0,"e":[["set",1e+300,"k"]]}`);
    await raw.publish(`synced-cache:${ns}`, `{"v":1,"ns":"${ns}","t":"i","o":"x","q":2,"ts":1,"k":["after"]}`);
    await raw.publish(`synced-cache:${ns}:events`, `{"v":1,"ns":"${ns}","t":"e","o":"x","q":2,"d":0,"e":[["set",1,"after"]]}`);
    await waitFor(() => watch.out.length >= 2, 'the two good messages');
    expect(watch.out.map((l) => JSON.parse(l) as Record<string, unknown>)).toEqual([
      expect.objectContaining({ type: 'invalidate', keys: ['after'], sentAt: '1970-01-01T00:00:00.001Z' }),
      expect.objectContaining({ type: 'event', key: 'after', time: '1970-01-01T00:00:00.001Z' }),
    ]);
    expect(watch.err.filter((l) => l.includes('ignored a message'))).toEqual([
      expect.stringMatching(/ignored a message: missing or invalid timestamp$/),
      expect.stringMatching(/ignored a message on synced-cache:\S+:events: an event without a valid time$/),
    ]);
    expect(watch.child.exitCode).toBeNull();
    watch.child.kill('SIGINT');
    expect(await watch.exited).toBe(0);
  });
});

describe('synced-cache CLI: bad input and failures', () => {
  it('rejects unknown commands, bad options and missing URLs with exit 2 and one line', async () => {
    const cases: [string[], RegExp][] = [
      [['--redis', 'redis://127.0.0.1:1', 'sett', 'a'], /unknown command 'sett'.*Did you mean set\?/],
      [['--redis', 'redis://127.0.0.1:1', 'set', 'a', '1', '--ttl', 'soon'], /option '--ttl <duration>' argument 'soon' is invalid/],
      [['--redis', 'redis://127.0.0.1:1', 'set', 'a', '1', '--ttl', '-5'], /argument '-5' is invalid|unknown option '-5'/],
      [['--redis', 'redis://127.0.0.1:1', 'set', 'a', '{"broken":', '--type', 'json'], /the value is not valid JSON/],
      [['--redis', 'redis://127.0.0.1:1', 'set', 'a'], /missing required argument 'value'/],
      [['--redis', 'redis://127.0.0.1:1', 'get', 'a', '--bogus'], /unknown option '--bogus'/],
      [['get', 'a'], /no store given: pass --store <uri> or --redis <url>/],
      [['get', 'a', '--redis'], /option '--redis <url>' argument missing/],
      [
        ['--redis', 'http://localhost:6379', 'get', 'a'],
        /invalid --redis "http:\/\/localhost:6379": expected a URL starting with redis:\/\//,
      ],
      [['--redis', 'redis://[oops', 'get', 'a'], /invalid --redis "redis:\/\/\[oops": not a valid URL/],
      [
        ['--store', 'mysql://localhost/db', 'get', 'a'],
        /invalid --store "mysql:\/\/localhost\/db": expected a URL starting with redis:\/\/, rediss:\/\/, postgres:\/\//,
      ],
      [['--store', 'sqlite://x.db', 'watch'], /watch needs the bus: pass --redis/],
      [['--namespace', '', '--redis', 'redis://127.0.0.1:1', 'get', 'a'], /option '-n, --namespace <name>' argument '' is invalid/],
    ];
    // Independent processes that connect nowhere: run side by side to keep the test short.
    const results = await Promise.all(cases.map(([args]) => run(args)));
    cases.forEach(([args, message], i) => {
      const r = results[i] as Result;
      expect({ args, code: r.code }).toEqual({ args, code: 2 });
      expect(oneLine(r.stderr)).toMatch(message);
      expect(r.stdout).toBe('');
    });
  });

  it("a write or delete of one of the library's own keys is a usage error (exit 2, one line), said before connecting", async () => {
    // Nothing listens on port 1: a command that connected first would fail with "cannot reach Redis".
    const cases: [string[], string][] = [
      [['set', '__synced-cache:salt', 'x'], 'set'],
      [['del', '__synced-cache:salt'], 'del'],
      [['delete', '__synced-cache:x'], 'del'],
      [['stash', 'set', '__synced-cache:x', 'v'], 'stash set'],
      [['stash', 'del', '__synced-cache:x'], 'stash del'],
    ];
    const results = await Promise.all(cases.map(([args]) => run(['--redis', 'redis://127.0.0.1:1', ...args])));
    cases.forEach(([args, command], i) => {
      const r = results[i] as Result;
      expect({ args, code: r.code, stderr: r.stderr }).toEqual({
        args,
        code: 2,
        stderr: `synced-cache: ${command}: keys beginning with "__synced-cache:" are the library's own; choose another key\n`,
      });
    });
    // Spelled with the namespace, it is the core that refuses it, once connected: still a usage error.
    const ns = uniqueNamespace('cli');
    const spelled = await run([...on(ns), 'set', `${ns}:__synced-cache:salt`, 'x']);
    expect({ code: spelled.code, stderr: oneLine(spelled.stderr) }).toEqual({
      code: 2,
      stderr: 'synced-cache: set: keys beginning with "__synced-cache:" are the library\'s own; choose another key',
    });
  });

  it('--help works for the program and every command, with exit 0', async () => {
    const top = await run(['--help']);
    expect(top.code).toBe(0);
    const commands = ['get', 'set', 'del', 'ls', 'clear', 'stats', 'watch'];
    const helps = await Promise.all(commands.map((command) => run([command, '--help'])));
    commands.forEach((command, i) => {
      expect(top.stdout).toContain(`  ${command}`);
      expect(helps[i]?.code).toBe(0);
      expect(helps[i]?.stdout).toContain(`Usage: synced-cache ${command}`);
    });
    expect((await run(['set', '--help'])).stdout).toContain('--ttl <duration>');
    expect((await run(['clear', '--help'])).stdout).toContain('--yes');
    expect((await run(['watch', '--help'])).stdout).toContain('--heartbeats');
    // No command at all: the help, on stderr, as a usage error.
    const none = await run([]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('Usage: synced-cache');
  });

  it('a refused connection ends at once with "cannot reach Redis at ..." and exit 1', async () => {
    const port = await freePort();
    for (const command of [['get', 'a'], ['set', 'a', '1'], ['ls'], ['stats'], ['watch']]) {
      const r = await run(['--redis', `redis://127.0.0.1:${port}`, ...command]);
      expect({ command, code: r.code }).toEqual({ command, code: 1 });
      expect(oneLine(r.stderr)).toBe(`synced-cache: cannot reach Redis at redis://127.0.0.1:${port} (connection refused)`);
      expect(r.ms).toBeLessThan(4_000);
    }
    // A password in the URL is never printed.
    const r = await run(['--redis', `redis://user:s3cret@127.0.0.1:${port}`, 'get', 'a']);
    expect(oneLine(r.stderr)).toBe(`synced-cache: cannot reach Redis at redis://user:***@127.0.0.1:${port} (connection refused)`);
  });

  it('sqlite:// without @keyv/sqlite installed says how to install it', async () => {
    const r = await run(['--store', 'sqlite://./cache.sqlite', 'get', 'a']);
    expect(r.code).toBe(1);
    expect(oneLine(r.stderr)).toBe(
      'synced-cache: a SQLite store (sqlite://) needs the @keyv/sqlite package, which is not installed: npm install @keyv/sqlite',
    );
  });

  it('SYNCED_CACHE_REDIS and SYNCED_CACHE_NAMESPACE stand in for the options', async () => {
    const ns = uniqueNamespace('cli');
    const env = { SYNCED_CACHE_REDIS: url, SYNCED_CACHE_NAMESPACE: ns };
    expect((await run(['set', 'k', '"v"'], { env })).code).toBe(0);
    expect(await run(['get', 'k'], { env })).toMatchObject({ code: 0, stdout: 'v\n' });
    expect(await run([...on(ns), 'get', 'k'])).toMatchObject({ code: 0, stdout: 'v\n' });
  });
});

describe('synced-cache CLI: PostgreSQL store', () => {
  it('round trip with a postgres:// store and the Redis bus', async (ctx) => {
    if (!(await tcpAnswers(5432))) ctx.skip('PostgreSQL does not answer on 127.0.0.1:5432, so the postgres:// store is not tested');
    const ns = uniqueNamespace('pg');
    const args = ['--redis', url, '--store', PG, '--namespace', ns];
    const app = new SyncedCache<unknown>({ namespace: ns, redis: url });
    onTestFinished(() => app.close());
    await waitFor(() => app.stats().bus === 'up', 'the app bus up');

    await ok([...args, 'set', 'row', '{"id":1}']);
    expect(JSON.parse((await run([...args, 'get', 'row'])).stdout)).toEqual({ id: 1 });
    await ok([...args, 'set', 'other', 'text']);
    expect(await run([...args, 'ls'])).toMatchObject({ code: 0, stdout: 'other\nrow\n' });
    expect(JSON.parse((await run([...args, '--json', 'stats'])).stdout)).toMatchObject({ store: { kind: 'PostgreSQL', keys: 2 } });
    // The writes went over the bus: the app in this process heard both.
    await waitFor(() => app.stats().invalidations.received === 2, 'the invalidations of the postgres writes');
    await ok([...args, 'del', 'row']);
    expect((await run([...args, 'get', 'row'])).code).toBe(1);
    await ok([...args, 'clear', '--yes']);
    expect(await run([...args, 'ls'])).toMatchObject({ code: 0, stdout: '' });
  });

  it('a refused PostgreSQL connection says so', async () => {
    const port = await freePort();
    const r = await run(['--store', `postgres://postgres@127.0.0.1:${port}/test`, 'get', 'a']);
    expect(r.code).toBe(1);
    expect(oneLine(r.stderr)).toBe(
      `synced-cache: cannot reach PostgreSQL at postgres://postgres@127.0.0.1:${port}/test (connection refused)`,
    );
  });
});

// ---------------------------------------------------------------------------------------------------
// Issue 8 #11: credentials are never printed

describe('synced-cache CLI: credentials are never printed', () => {
  const SECRET = 's3cret-Pa55';

  it('a URL the parser rejects is echoed with everything from // to the last @ masked, from --redis, --store, SYNCED_CACHE_* and Commander', async () => {
    const cases: { args: string[]; env?: Record<string, string>; line: string | RegExp }[] = [
      {
        args: ['--redis', `redis://ada:${SECRET}@127.0.0.1:99999`, 'get', 'a'],
        line: 'synced-cache: invalid --redis "redis://***@127.0.0.1:99999": not a valid URL',
      },
      {
        args: ['--redis', `redis://ada:${SECRET}@bad host:6379`, 'get', 'a'],
        line: 'synced-cache: invalid --redis "redis://***@bad host:6379": not a valid URL',
      },
      {
        args: ['--store', `redis://ada:${SECRET}@[oops`, 'get', 'a'],
        line: 'synced-cache: invalid --store "redis://***@[oops": not a valid URL',
      },
      {
        args: ['--store', `postgres://ada:${SECRET}@db host/app`, 'get', 'a'],
        line: 'synced-cache: invalid --store "postgres://***@db host/app": not a valid URL',
      },
      // A password with an unencoded / and @ of its own: still masked up to the last @.
      {
        args: ['--redis', `redis://ada:${SECRET}/x@y@127.0.0.1:99999`, 'get', 'a'],
        line: 'synced-cache: invalid --redis "redis://***@127.0.0.1:99999": not a valid URL',
      },
      {
        args: ['get', 'a'],
        env: { SYNCED_CACHE_REDIS: `redis://ada:${SECRET}@127.0.0.1:99999` },
        line: 'synced-cache: invalid --redis "redis://***@127.0.0.1:99999": not a valid URL',
      },
      {
        args: ['get', 'a'],
        env: { SYNCED_CACHE_STORE: `mysql://ada:${SECRET}@db/app` },
        line: /^synced-cache: invalid --store "mysql:\/\/ada:\*\*\*@db\/app": expected a URL starting with redis:\/\//,
      },
      // Commander quotes an unknown command as typed: a URL put where the command goes.
      { args: [`redis://ada:${SECRET}@127.0.0.1:6379`, 'get', 'a'], line: /unknown command 'redis:\/\/ada:\*\*\*@127\.0\.0\.1:6379'/ },
      { args: [`--redis=redis://ada:${SECRET}@127.0.0.1:6379`, `x${SECRET}x`], line: /unknown command 'x\*\*\*x'/ },
    ];
    const results = await Promise.all(cases.map(({ args, env }) => run(args, { env: env ?? {} })));
    cases.forEach(({ args, line }, i) => {
      const r = results[i] as Result;
      expect({ args, code: r.code }).toEqual({ args, code: 2 });
      expect(`${r.stdout}${r.stderr}`).not.toContain(SECRET);
      if (typeof line === 'string') expect(oneLine(r.stderr)).toBe(line);
      else expect(oneLine(r.stderr)).toMatch(line);
    });
  });

  it('a mistyped secret option never prints the secret, and is still a usage error (exit 2)', async () => {
    const cases: { args: string[]; env?: Record<string, string>; line: string }[] = [
      {
        args: [`--secert=${SECRET}`, '--redis', 'redis://127.0.0.1:1', 'get', 'k'],
        line: "synced-cache: error: unknown option '--secert=***' (see --help)",
      },
      {
        args: ['--redis', 'redis://127.0.0.1:1', 'set', 'k', 'v', `--secret-key=${SECRET}`],
        line: "synced-cache: error: unknown option '--secret-key=***' (see --help)",
      },
      {
        args: ['--redis', 'redis://127.0.0.1:1', `--encryption-key=${SECRET}`, 'get', 'k', '--pasword', SECRET],
        line: "synced-cache: error: unknown option '--pasword' (see --help)",
      },
      // Remembered from the environment and after --secret, even where Commander quotes them otherwise.
      {
        args: ['--redis', 'redis://127.0.0.1:1', `x${SECRET}x`],
        env: { SYNCED_CACHE_SECRET: SECRET },
        line: "synced-cache: error: unknown command 'x***x' (see --help)",
      },
      {
        args: ['--redis', 'redis://127.0.0.1:1', `x${SECRET}x`],
        env: { SYNCED_CACHE_ENCRYPTION_KEY: SECRET },
        line: "synced-cache: error: unknown command 'x***x' (see --help)",
      },
      {
        args: ['--secret', SECRET, '--redis', 'redis://127.0.0.1:1', SECRET],
        line: "synced-cache: error: unknown command '***' (see --help)",
      },
      // Dashes pasted from rendered docs, a colon for the equals sign, the environment's spelling as an argument.
      {
        args: ['--redis', 'redis://127.0.0.1:1', `\u2014secret=${SECRET}`, 'get', 'k'],
        line: "synced-cache: error: unknown command '\u2014secret=***' (see --help)",
      },
      {
        args: ['--redis', 'redis://127.0.0.1:1', `\u2013-encryption-key=${SECRET}`, 'get', 'k'],
        line: "synced-cache: error: unknown command '\u2013-encryption-key=***' (see --help)",
      },
      {
        args: ['--redis', 'redis://127.0.0.1:1', `--secret:${SECRET}`, 'get', 'k'],
        line: "synced-cache: error: unknown option '--secret:***' (see --help)",
      },
      {
        args: ['--redis', 'redis://127.0.0.1:1', `SYNCED_CACHE_SECRET=${SECRET}`, 'get', 'k'],
        line: "synced-cache: error: unknown command 'SYNCED_CACHE_SECRET=***' (see --help)",
      },
    ];
    const results = await Promise.all(cases.map(({ args, env }) => run(args, { env: env ?? {} })));
    cases.forEach(({ args, line }, i) => {
      const r = results[i] as Result;
      expect({ args, code: r.code }).toEqual({ args, code: 2 });
      expect(`${r.stdout}${r.stderr}`).not.toContain(SECRET);
      expect(oneLine(r.stderr)).toBe(line);
    });
  });

  it("an empty SYNCED_CACHE_SECRET is as if unset; an explicit --secret '' stays a usage error", async () => {
    const ns = uniqueNamespace('cli');
    await ok([...on(ns), 'set', 'k', '1'], { env: { SYNCED_CACHE_SECRET: '' } });
    expect((await ok([...on(ns), 'get', 'k'], { env: { SYNCED_CACHE_SECRET: '' } })).stdout).toBe('1\n');
    const explicit = await run([...on(ns, '--secret', ''), 'get', 'k'], { env: { SYNCED_CACHE_SECRET: '' } });
    expect({ code: explicit.code, stderr: oneLine(explicit.stderr) }).toEqual({
      code: 2,
      stderr: 'synced-cache: --secret: must not be empty, got a string of 0 characters',
    });
  });

  it('a ?password= in the query string is masked in errors (Redis and PostgreSQL) and by watch', async () => {
    const port = await freePort();
    let r = await run(['--redis', `redis://127.0.0.1:${port}/?db=0&password=${SECRET}`, 'set', 'a', '1']);
    expect(r.code).toBe(1);
    expect(oneLine(r.stderr)).toBe(`synced-cache: cannot reach Redis at redis://127.0.0.1:${port}/?db=0&password=*** (connection refused)`);
    r = await run(['--store', `postgres://ada@127.0.0.1:${port}/test?password=${SECRET}&application_name=cli`, 'get', 'a']);
    expect(r.code).toBe(1);
    expect(oneLine(r.stderr)).toBe(
      `synced-cache: cannot reach PostgreSQL at postgres://ada@127.0.0.1:${port}/test?password=***&application_name=cli (connection refused)`,
    );

    // ioredis takes the password from the query string: against a Redis that wants it, watch works and says where.
    const locked = await startRedisServer({ args: ['--requirepass', SECRET] });
    onTestFinished(() => locked.stop());
    const ns = uniqueNamespace('watch');
    const child = spawn(process.execPath, [bin, '--redis', `${locked.url}/?password=${SECRET}`, '-n', ns, 'watch'], {
      cwd: root,
      env: cleanEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    onTestFinished(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    const err = lines(child, 'stderr');
    await waitFor(() => child.exitCode !== null || err.some((l) => l.includes('watching')), 'watch to subscribe', 10_000);
    expect(err).toEqual([`synced-cache: watching synced-cache:${ns} on ${locked.url}/?password=*** (Ctrl-C to stop)`]);
  });
});

// ---------------------------------------------------------------------------------------------------
// Issue 8 #12: no raw control characters

/** Characters that must never reach a terminal raw: C0 (but the line feeds between lines), DEL, C1, separators, bidi. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: these are the characters the test looks for
const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

describe('synced-cache CLI: control characters are escaped', () => {
  // Each key, and how `ls` shows it: plain keys as they are, the others as JSON strings.
  const SHOWN: Record<string, string> = {
    'user:1': 'user:1',
    'user:2': 'user:2',
    'evil\nuser:2': '"evil\\nuser:2"',
    'with space': 'with space',
    ünïcode: 'ünïcode',
    '"quoted"': '"\\"quoted\\""',
    ' lead': '" lead"',
    '\u001b[31mred': '"\\u001b[31mred"',
    'tab\there': '"tab\\there"',
    'bidi\u202etxt.exe': '"bidi\\u202etxt.exe"',
    'c1\u009b31m': '"c1\\u009b31m"',
    'line\u2028sep': '"line\\u2028sep"',
  };

  async function seed(ns: string, keys: string[]): Promise<void> {
    const store = new KeyvRedis(url);
    const cache = new SyncedCache<unknown>({ namespace: ns, store });
    try {
      for (const key of keys) await cache.set(key, 1);
    } finally {
      await cache.close();
      await store.disconnect();
    }
  }

  it('ls shows plain keys as they are and any other as a JSON string, so every line reads back as its key', async () => {
    const ns = uniqueNamespace('cli');
    const keys = Object.keys(SHOWN);
    await seed(ns, keys);
    const r = await ok([...on(ns), 'ls']);
    const printed = r.stdout.split('\n');
    expect(printed.pop()).toBe('');
    const sorted = [...keys].sort();
    expect(printed).toEqual(sorted.map((key) => SHOWN[key]));
    expect(r.stdout).not.toMatch(RAW_CONTROL);
    // What `ls | while read -r line` gets is enough to find each key again: none lists as another.
    expect(printed.map((line) => (line.startsWith('"') ? JSON.parse(line) : line))).toEqual(sorted);
  });

  it('ls -0 writes the keys as they are, NUL-terminated; --json as one array with nothing raw; a key holding a NUL is refused by -0', async () => {
    const ns = uniqueNamespace('cli');
    const keys = Object.keys(SHOWN);
    await seed(ns, keys);
    const sorted = [...keys].sort();
    expect((await ok([...on(ns), 'ls', '-0'])).stdout).toBe(sorted.map((k) => `${k}\0`).join(''));
    expect((await ok([...on(ns), 'ls', '--null'])).stdout).toBe(sorted.map((k) => `${k}\0`).join(''));
    const json = await ok([...on(ns, '--json'), 'ls']);
    expect(JSON.parse(json.stdout)).toEqual(sorted);
    expect(json.stdout.trimEnd()).not.toMatch(RAW_CONTROL);

    let r = await run([...on(ns, '--json'), 'ls', '-0']);
    expect(r.code).toBe(2);
    expect(oneLine(r.stderr)).toBe('synced-cache: --null and --json cannot be combined: pick one output');

    await seed(ns, ['nul\0key']);
    r = await run([...on(ns), 'ls', '-0']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(oneLine(r.stderr)).toBe('synced-cache: the key "nul\\u0000key" contains a NUL character, which -0 cannot separate: use --json');
    expect((await ok([...on(ns), 'ls'])).stdout.split('\n')).toContain('"nul\\u0000key"');
  });

  it('get writes a string as it is into a pipe, and on a terminal escapes what the terminal would act on (newlines and tabs stay)', async (ctx) => {
    let hasScript = true;
    try {
      execFileSync('script', ['--version'], { stdio: 'ignore' });
    } catch {
      hasScript = false;
    }
    if (!hasScript) ctx.skip('util-linux `script` is not installed, so no pseudo-terminal can be given to the CLI');
    const ns = uniqueNamespace('cli');
    const value = 'line 1\n\u001b]52;c;ZXZpbA==\u0007\tred\u009b31m\rend';
    await ok([...on(ns), 'set', 'k', value, '--type', 'string']);
    expect((await ok([...on(ns), 'get', 'k'])).stdout).toBe(`${value}\n`);
    const command = [process.execPath, bin, ...on(ns), 'get', 'k'].map((a) => `'${a}'`).join(' ');
    const out = execFileSync('script', ['-qec', command, '/dev/null'], {
      cwd: root,
      env: cleanEnv(),
      encoding: 'utf8',
      timeout: RUN_DEADLINE_MS,
    });
    // The terminal turns each \n into \r\n.
    expect(out).toBe('line 1\r\n\\u001b]52;c;ZXZpbA==\\u0007\tred\\u009b31m\\rend\r\n');
  });

  it('watch shows a forged sender id and keys escaped: one line per message, no raw control character, JSON gives them back', async () => {
    const ns = uniqueNamespace('watch');
    const channel = `synced-cache:${ns}`;
    const start = async (json: boolean) => {
      const child = spawn(process.execPath, [bin, ...on(ns, ...(json ? ['--json'] : [])), 'watch'], {
        cwd: root,
        env: cleanEnv(),
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      onTestFinished(() => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      });
      let raw = '';
      child.stdout.on('data', (d: Buffer) => {
        raw += d.toString();
      });
      const out = lines(child, 'stdout');
      const err = lines(child, 'stderr');
      await waitFor(() => child.exitCode === null && err.some((l) => l.includes('watching')), 'watch to subscribe', 10_000);
      return { out, err, raw: () => raw };
    };
    const text = await start(false);
    const json = await start(true);
    const publisher = new Redis(url);
    onTestFinished(() => publisher.disconnect());

    const origin = 'x\u001b[2K\r2025-01-01T00:00:00.000Z invalidate origin=trusted seq=1 lag=0ms keys=["a"]\n\u009b31m';
    const keys = ['k\u001b]0;title\u0007', 'b\u2028c'];
    await publisher.publish(channel, JSON.stringify({ v: 1, ns, t: 'i', o: origin, q: 1, ts: Date.now(), k: keys }));
    // A foreign namespace with a C1 control: reported on stderr, escaped.
    await publisher.publish(channel, JSON.stringify({ v: 1, ns: 'other\u009b2J', t: 'i', o: 'o', q: 1, ts: Date.now(), k: ['z'] }));
    await publisher.publish(channel, JSON.stringify({ v: 1, ns, t: 'i', o: 'marker', q: 2, ts: Date.now(), k: ['m'] }));
    await waitFor(() => text.out.some((l) => l.includes('origin=marker')) && json.out.length >= 2, 'the marker message');

    expect(text.out).toHaveLength(2);
    expect(text.out[0]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z invalidate origin=".*" seq=1 lag=\d+ms keys=\[.*\]$/);
    expect(text.out[0]).toContain(
      'origin="x\\u001b[2K\\r2025-01-01T00:00:00.000Z invalidate origin=trusted seq=1 lag=0ms keys=[\\"a\\"]\\n\\u009b31m" seq=1',
    );
    expect(text.out[0]).toContain('keys=["k\\u001b]0;title\\u0007","b\\u2028c"]');
    expect(text.out[1]).toMatch(/ invalidate origin=marker seq=2 lag=\d+ms keys=\["m"\]$/);
    expect(text.raw()).not.toMatch(RAW_CONTROL);
    expect(text.err.find((l) => l.includes('ignored a message'))).toMatch(
      /ignored a message: message for namespace "other\\u009b2J" on the channel of /,
    );
    expect(text.err.join('\n')).not.toMatch(RAW_CONTROL);

    expect(json.out).toHaveLength(2);
    expect(JSON.parse(json.out[0] as string)).toMatchObject({ type: 'invalidate', origin, keys });
    expect(json.raw()).not.toMatch(RAW_CONTROL);
  });
});

// ---------------------------------------------------------------------------------------------------
// Issue 9 #12: --timeout bounds the whole command; credentials problems in one line

/** Runs `jobs` two at a time: enough to keep the test short, few enough not to slow each start. */
async function twoAtATime<T>(jobs: (() => Promise<T>)[]): Promise<T[]> {
  const results: T[] = new Array(jobs.length);
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const i = next++;
      results[i] = await (jobs[i] as () => Promise<T>)();
    }
  };
  await Promise.all([worker(), worker()]);
  return results;
}

describe('synced-cache CLI: timeouts and credentials', () => {
  it('every command ends within about --timeout against a frozen Redis, as bus and store or as the store alone', async () => {
    const frozen = await startRedisServer();
    onTestFinished(() => frozen.stop());
    // How long a command takes that does no I/O: Node's start, the imports and the exit.
    const idle = await twoAtATime([0, 1, 2, 3].map(() => () => run(['--help'])));
    const startup = Math.max(...idle.map((r) => r.ms));
    frozen.freeze();
    onTestFinished(() => frozen.thaw());
    const TIMEOUT = 2_000;
    const commands = [['get', 'a'], ['ls'], ['set', 'a', '1'], ['del', 'a'], ['clear', '--yes'], ['stats']];
    const cases = [
      ...[...commands, ['watch']].map((command) => ['--redis', frozen.url, '--timeout', String(TIMEOUT), ...command]),
      ...commands.map((command) => ['--redis', url, '--store', frozen.url, '--timeout', String(TIMEOUT), ...command]),
    ];
    const results = await twoAtATime(cases.map((args) => () => run(args)));
    if (process.env.CLI_TIMINGS) console.log({ startup, ms: results.map((r) => r.ms) });
    cases.forEach((args, i) => {
      const r = results[i] as Result;
      expect({ args, code: r.code }).toEqual({ args, code: 1 });
      expect({ args, stderr: r.stderr }).toEqual({
        args,
        stderr: `synced-cache: cannot reach Redis at ${frozen.url} (no answer within ${TIMEOUT} ms)\n`,
      });
      // It waited for the answer, and no longer than once: twice the timeout would be 1000 ms over the bound.
      expect({ args, waited: r.ms >= TIMEOUT }).toEqual({ args, waited: true });
      expect({ args, ms: r.ms, withinBound: r.ms - startup - TIMEOUT < 1_000 }).toMatchObject({ args, withinBound: true });
    });
  }, 90_000);

  it('a password the Redis does not need, a wrong one and a missing one are each said in one line, for the bus and for the store', async () => {
    const SECRET = 's3cret-Pa55';
    const locked = await startRedisServer({ args: ['--requirepass', SECRET] });
    onTestFinished(() => locked.stop());
    const needless = `redis://:${SECRET}@127.0.0.1:${redis.port}`;
    const wrong = `redis://:wrong-pw@127.0.0.1:${locked.port}`;
    const cases: [string, string[], string][] = [
      [
        needless,
        ['set', 'a', '1'],
        `Redis at redis://:***@127.0.0.1:${redis.port} needs no password, but one was given: remove it from the URL`,
      ],
      [
        needless,
        ['get', 'a'],
        `Redis at redis://:***@127.0.0.1:${redis.port} needs no password, but one was given: remove it from the URL`,
      ],
      [needless, ['watch'], `Redis at redis://:***@127.0.0.1:${redis.port} needs no password, but one was given: remove it from the URL`],
      [wrong, ['set', 'a', '1'], `Redis at redis://:***@127.0.0.1:${locked.port} refused the credentials`],
      [wrong, ['get', 'a'], `Redis at redis://:***@127.0.0.1:${locked.port} refused the credentials`],
      [wrong, ['stats'], `Redis at redis://:***@127.0.0.1:${locked.port} refused the credentials`],
      [locked.url, ['del', 'a'], `Redis at ${locked.url} requires a password: give it in the URL (redis://:password@host:port)`],
      [locked.url, ['ls'], `Redis at ${locked.url} requires a password: give it in the URL (redis://:password@host:port)`],
    ];
    const results = await twoAtATime(
      cases.map(
        ([target, command]) =>
          () =>
            run(['--redis', target, ...command]),
      ),
    );
    cases.forEach(([target, command, message], i) => {
      const r = results[i] as Result;
      expect({ target, command, code: r.code }).toEqual({ target, command, code: 1 });
      expect({ target, command, stderr: r.stderr }).toEqual({ target, command, stderr: `synced-cache: ${message}\n` });
    });
    // The right password works, as userinfo and as ?password=.
    await ok(['--redis', `redis://:${SECRET}@127.0.0.1:${locked.port}`, 'set', 'a', '1']);
    await ok(['--redis', `${locked.url}/?password=${SECRET}`, '--store', `redis://:${SECRET}@127.0.0.1:${locked.port}`, 'get', 'a']);
  });
});

// ---------------------------------------------------------------------------------------------------
// Issue 8 #3: a clear that fails is reported

describe('synced-cache CLI: a store that refuses commands', () => {
  // An ACL user that may do anything but SCAN: listing and clearing the namespace fail, reads and writes work.
  const ACL = ['--user', 'noscan', 'on', '>pw', '~*', '&*', '+@all', '-scan'];

  it('ls as a user that may not SCAN says so in one line, exit 1', async () => {
    const server = await startRedisServer({ args: ACL });
    onTestFinished(() => server.stop());
    const limited = `redis://noscan:pw@127.0.0.1:${server.port}`;
    const ns = uniqueNamespace('acl');
    await ok(['--redis', limited, '-n', ns, 'set', 'a', '1']);
    await ok(['--redis', limited, '-n', ns, 'get', 'a']);
    const r = await run(['--redis', limited, '-n', ns, 'ls']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(oneLine(r.stderr)).toBe(
      `synced-cache: Redis at redis://noscan:***@127.0.0.1:${server.port} refused a command: NOPERM this user has no permissions to run the 'scan' command`,
    );
  });

  // Fails today: @keyv/redis's clear() swallows the NOPERM and cache.clear() resolves, so the CLI prints
  // "cleared namespace" and exits 0 with every key still there. The core is to reject instead (issue 8 #3,
  // the lead's part); once it does, this test passes: drop `.fails`.
  it('clear --yes as a user that may not SCAN exits 1 with one line and keeps the keys', async () => {
    const server = await startRedisServer({ args: ACL });
    onTestFinished(() => server.stop());
    const limited = `redis://noscan:pw@127.0.0.1:${server.port}`;
    const ns = uniqueNamespace('acl');
    await ok(['--redis', limited, '-n', ns, 'set', 'a', '1']);
    const r = await run(['--redis', limited, '-n', ns, 'clear', '--yes']);
    await ok(['--redis', limited, '-n', ns, 'get', 'a']);
    expect(r.stdout).toBe('');
    expect(r.code).toBe(1);
    expect(oneLine(r.stderr)).toMatch(
      new RegExp(`^synced-cache: Redis at redis://noscan:\\*\\*\\*@127\\.0\\.0\\.1:${server.port} refused a command: NOPERM`),
    );
  });
});
