// examples/three-processes.mjs, run as the README says, with stdout a pipe (as in CI or `> log`): it ends
// by itself with its summary line, prints one progress line per interval instead of redrawing its table,
// and each participant exits promptly once its cache and store are closed (the example says so on stderr
// and exits 1 otherwise). Needs `npm run build` first (`npm test` runs it).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, onTestFinished } from 'vitest';
import { hasRedisServer } from '../../scripts/redis-server.mjs';

const example = fileURLToPath(new URL('../../examples/three-processes.mjs', import.meta.url));
const SECONDS = 2;
// Startup (three participants importing the package), the run, and the shutdown; a hang ends far later.
const BOUND_MS = SECONDS * 1000 + 20_000;

interface Ran {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs the example with `env`; kills it at the bound (a hang then shows as SIGKILL, not as a test timeout). */
function runExample(env: NodeJS.ProcessEnv): Promise<Ran> {
  return new Promise((resolve) => {
    const started = performance.now();
    const child = spawn(process.execPath, [example, '--seconds', String(SECONDS)], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), BOUND_MS);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: performance.now() - started });
    });
  });
}

const SUMMARY =
  /^\d+ reads served from memory, \d+ went to the store; every key written \((\d+), the seed included\) reached the other two as an invalidation\.$/m;

function expectARun(ran: Ran, note: RegExp): void {
  expect({ code: ran.code, signal: ran.signal, stderr: ran.stderr }, ran.stdout).toEqual({ code: 0, signal: null, stderr: '' });
  expect(ran.ms).toBeLessThan(BOUND_MS);
  expect(ran.stdout).toMatch(note);
  // 20 seeded keys and at least one write by each of the three.
  expect(Number(SUMMARY.exec(ran.stdout)?.[1])).toBeGreaterThanOrEqual(23);
  // Not a terminal: no screen clearing, one line per 500 ms interval, then the table once.
  expect(ran.stdout).not.toContain('\x1b[');
  const progress = ran.stdout.split('\n').filter((line) => /^\s+\d+\.\ds {2}P0 /.test(line));
  expect(progress.length).toBeGreaterThanOrEqual(1);
  expect(progress.length).toBeLessThanOrEqual(SECONDS * 2);
  expect(ran.stdout.match(/^ who {2}bus/gm)).toHaveLength(1);
  expect(ran.stdout.length).toBeLessThan(4_000);
}

describe('examples/three-processes.mjs', () => {
  it('with no REDIS_URL and no redis-server on PATH: three worker threads, ends with the summary line, exit 0', async () => {
    // A PATH holding node and nothing else: redis-server cannot be found, whatever the machine has.
    const bin = mkdtempSync(join(tmpdir(), 'node-only-'));
    onTestFinished(() => rmSync(bin, { recursive: true, force: true }));
    symlinkSync(process.execPath, join(bin, 'node'));
    const env: NodeJS.ProcessEnv = { ...process.env, PATH: bin };
    delete env.REDIS_URL;
    expectARun(await runExample(env), /^bus and store: no REDIS_URL and no redis-server on PATH: running 3 worker threads/m);
  }, 40_000);

  it.skipIf(!hasRedisServer())(
    'with redis-server on PATH: three processes on a private redis-server, same summary, exit 0',
    async () => {
      const env: NodeJS.ProcessEnv = { ...process.env };
      delete env.REDIS_URL;
      expectARun(await runExample(env), /^bus and store: a private redis-server on redis:\/\/127\.0\.0\.1:\d+/m);
    },
    40_000,
  );
});
