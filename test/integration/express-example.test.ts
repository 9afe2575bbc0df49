// examples/express-app.mjs runs with one command: started as a child process, it answers over HTTP.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, onTestFinished } from 'vitest';
import { hasRedisServer } from '../../scripts/redis-server.mjs';

const example = fileURLToPath(new URL('../../examples/express-app.mjs', import.meta.url));

/** Starts the example on a free port; resolves with its base URL and what it printed once it listens. */
async function startExample(env: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; base: string; output: () => string }> {
  const child = spawn(process.execPath, [example], { env: { ...env, PORT: '0' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    output += d;
  });
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    output += d;
  });
  onTestFinished(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  });
  const deadline = Date.now() + 15_000;
  for (;;) {
    const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
    // Wait for the line after it too, which says whether a bus is in use.
    if (match?.[1] && /\n.*\n/.test(output.slice(match.index))) return { child, base: match[1], output: () => output };
    if (child.exitCode !== null) throw new Error(`the example exited with ${child.exitCode}:\n${output}`);
    if (Date.now() > deadline) throw new Error(`the example did not start within 15 s:\n${output}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

// The example ends by itself on SIGTERM, with no process.exit(): it closes the server, the cache, then its
// store. Whatever of them stayed open would keep it alive, so the exit must come within this bound: close()'s
// own worst case with the defaults (2 x storeTimeout + publishTimeout, 3 s) and 2 s for a loaded machine.
const EXIT_BOUND_MS = 5_000;

/** Sends SIGTERM; resolves with the exit code, or 'lingered' (and kills it) when it is not gone within the bound. */
async function stop(child: ChildProcess): Promise<number | null | 'lingered'> {
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<'lingered'>((resolve) => {
    timer = setTimeout(() => resolve('lingered'), EXIT_BOUND_MS);
  });
  const result = await Promise.race([exited, bound]);
  clearTimeout(timer);
  if (result === 'lingered') {
    child.kill('SIGKILL');
    await exited;
  }
  return result;
}

describe('examples/express-app.mjs', () => {
  it.skipIf(!hasRedisServer())('starts a private redis-server, serves a user, and shuts down cleanly', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env.REDIS_URL;
    const { child, base, output } = await startExample(env);
    expect(output()).toMatch(/a private redis-server at redis:\/\/127\.0\.0\.1:\d+/);
    const res = await fetch(`${base}/users/1`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ id: 1, name: 'Ada Lovelace' });
    // SIGTERM runs its shutdown, which closes the cache and the store and stops the redis-server it started.
    expect(await stop(child)).toBe(0);
  });

  it('runs without a bus, and says so, when there is no REDIS_URL and no redis-server on PATH', async () => {
    // An empty PATH directory: node itself is started by absolute path, redis-server cannot be found.
    const empty = mkdtempSync(join(tmpdir(), 'no-redis-'));
    onTestFinished(() => rmSync(empty, { recursive: true, force: true }));
    const env: NodeJS.ProcessEnv = { ...process.env, PATH: empty };
    delete env.REDIS_URL;
    const { child, base, output } = await startExample(env);
    expect(output()).toMatch(/memory only, no bus/);
    const page = await fetch(`${base}/users/2/page`);
    expect([page.status, page.headers.get('x-cache')]).toEqual([200, 'MISS']);
    expect(await page.text()).toMatch(/<h1>Grace Hopper<\/h1>/);
    expect(await stop(child)).toBe(0);
  });

  it('with REDIS_URL pointing where no Redis answers: starts, reports the connection error, and still shuts down promptly with a request pending', async () => {
    const { freePort } = await import('../../scripts/redis-server.mjs');
    const url = `redis://127.0.0.1:${await freePort()}`;
    const { child, base, output } = await startExample({ ...process.env, REDIS_URL: url });
    expect(output()).toContain(`store and bus: Redis at ${url}`);
    // A lookup that waits on the unreachable store: the shutdown must not wait for it.
    const pending = fetch(`${base}/users/1`).catch((error: unknown) => error);
    const deadline = Date.now() + 10_000;
    while (!/cache: .*ECONNREFUSED/.test(output()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(output()).toMatch(/cache: .*ECONNREFUSED/);
    expect(await stop(child)).toBe(0);
    expect(await pending).toBeInstanceOf(TypeError);
  });
});
