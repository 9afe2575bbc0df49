// The package as users get it: the built entry points loaded by plain `node` (CommonJS and ESM) through the
// package name, what `npm pack` would publish, and the publint / arethetypeswrong verdicts.
// Needs `npm run build` first (`npm test` runs it).
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command in the package root; resolves with its exit code and output (never rejects on a non-zero exit). */
function run(file: string, args: readonly string[], timeout = 60_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { cwd: root, timeout, maxBuffer: 32 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error !== null && typeof error.code !== 'number') {
        reject(error);
        return;
      }
      resolve({ code: typeof error?.code === 'number' ? error.code : 0, stdout, stderr });
    });
  });
}

/** Runs `source` with `node -e` (CommonJS) or `node --input-type=module -e` (ESM) and parses the last stdout line as JSON. */
async function node(kind: 'cjs' | 'esm', source: string): Promise<unknown> {
  const args = kind === 'esm' ? ['--input-type=module', '-e', source] : ['-e', source];
  const r = await run(process.execPath, args);
  if (r.code !== 0) throw new Error(`node (${kind}) exited with ${r.code}:\n${r.stderr}`);
  const lines = r.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1] as string);
}

// Written once per module system: `load(name)` is require() or import().
const roundTrip = `
  const { SyncedCache } = await load('synced-cache');
  const cache = new SyncedCache({ namespace: 'pkg' });
  await cache.set('user:1', { name: 'Ada' }, { ttl: 60_000 });
  const value = await cache.get('user:1');
  const stats = cache.stats();
  await cache.close();
  console.log(JSON.stringify({ value, memoryHits: stats.hits.memory, bus: stats.bus }));
`;

const expressRoundTrip = `
  const { SyncedCache } = await load('synced-cache');
  const { cacheResponses, responseCacheKey } = await load('synced-cache/express');
  const express = (await load('express')).default ?? (await load('express'));
  const cache = new SyncedCache();
  const app = express();
  let calls = 0;
  app.get('/x', cacheResponses(cache), (req, res) => { calls++; res.json({ calls }); });
  const server = await new Promise((resolve) => { const s = app.listen(0, '127.0.0.1', () => resolve(s)); });
  const url = 'http://127.0.0.1:' + server.address().port + '/x';
  const seen = [];
  for (let i = 0; i < 2; i++) {
    const res = await fetch(url);
    seen.push([res.headers.get('x-cache'), await res.json()]);
  }
  server.closeAllConnections();
  server.close();
  await cache.close();
  console.log(JSON.stringify({ seen, calls, key: responseCacheKey('HEAD', '/x') }));
`;

// The stash and the core it builds on: one core module (the error class is the core's own), no bus.
const stashRoundTrip = `
  const { KeyExistsError } = await load('synced-cache');
  const { Stash } = await load('synced-cache/stash');
  const stash = new Stash({ namespace: 'pkg-stash' });
  await stash.set('emails', ['ada@example.com']);
  const refused = await stash.set('emails', []).catch((e) => [e instanceof KeyExistsError, e.code]);
  const id = await stash.push({ n: 1 });
  const peek = await stash.peek();
  const popped = await stash.pop();
  const ls = await stash.ls();
  await stash.close();
  console.log(JSON.stringify({ refused, id: /^[A-Za-z0-9_-]{1,22}$/.test(id), peek, popped, ls }));
`;

const prelude = {
  cjs: (body: string) =>
    `const load = async (m) => require(m); (async () => { ${body} })().catch((e) => { console.error(e); process.exit(1); });`,
  esm: (body: string) => `const load = (m) => import(m); ${body}`,
};

describe('the built package loads through its name in CommonJS and ESM', () => {
  for (const kind of ['cjs', 'esm'] as const) {
    it(`${kind}: synced-cache builds a working cache (set/get round trip in memory, no bus)`, async () => {
      expect(await node(kind, prelude[kind](roundTrip))).toEqual({ value: { name: 'Ada' }, memoryHits: 1, bus: 'off' });
    });

    it(`${kind}: synced-cache/express caches a response of a real Express app`, async () => {
      expect(await node(kind, prelude[kind](expressRoundTrip))).toEqual({
        seen: [
          ['MISS', { calls: 1 }],
          ['HIT', { calls: 1 }],
        ],
        calls: 1,
        key: 'response:GET /x',
      });
    });

    it(`${kind}: synced-cache/stash works over the core it loads through the package name`, async () => {
      expect(await node(kind, prelude[kind](stashRoundTrip))).toEqual({
        refused: [true, 'ERR_SYNCED_CACHE_KEY_EXISTS'],
        id: true,
        peek: { n: 1 },
        popped: { n: 1 },
        ls: ['emails'],
      });
    });

    it(`${kind}: synced-cache/session exports its store`, async () => {
      const keys = (await node(
        kind,
        prelude[kind]("console.log(JSON.stringify(Object.keys(await load('synced-cache/session'))));"),
      )) as string[];
      expect(keys).toContain('SyncedSessionStore');
    });
  }
});

describe('the core does not pull in the integrations', () => {
  const expressLoaded = "Object.keys(rq.cache).filter((p) => p.includes('/node_modules/express/')).length";

  it('require("synced-cache") loads no express module (and the check sees express once it is loaded)', async () => {
    const source = `const rq = require; require('synced-cache'); const before = ${expressLoaded}; require('express'); console.log(JSON.stringify([before, ${expressLoaded} > 0]));`;
    expect(await node('cjs', source)).toEqual([0, true]);
  });

  it('import("synced-cache") loads no express module (ESM loads CommonJS express through the same module cache)', async () => {
    const source = `import { createRequire } from 'node:module'; const rq = createRequire(import.meta.url); await import('synced-cache'); const before = ${expressLoaded}; await import('express'); console.log(JSON.stringify([before, ${expressLoaded} > 0]));`;
    expect(await node('esm', source)).toEqual([0, true]);
  });

  it('dist/stash.js and dist/stash.cjs load the core through its name instead of bundling it', () => {
    const imports = { 'dist/stash.js': /from\s*["']synced-cache["']/, 'dist/stash.cjs': /require\(\s*["']synced-cache["']\s*\)/ };
    for (const [file, loadsCore] of Object.entries(imports)) {
      const text = readFileSync(`${root}${file}`, 'utf8');
      expect(text, file).toMatch(loadsCore);
      expect(text, file).not.toMatch(/class SyncedCache\b|class StoreTier\b|ioredis/);
    }
  });

  it('dist/index.js and dist/index.cjs name neither express, express-session nor prom-client', () => {
    for (const file of ['dist/index.js', 'dist/index.cjs']) {
      const text = readFileSync(`${root}${file}`, 'utf8');
      expect(text.length, file).toBeGreaterThan(1000);
      expect(text, file).not.toMatch(/(?:from\s*|require\(\s*|import\(\s*)["'](?:express|express-session|prom-client)["']/);
    }
  });
});

describe('what npm would publish', () => {
  it('npm pack --dry-run holds the builds, types, bin, README and docs, and no tests, sources or benchmarks', async () => {
    const r = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts']);
    expect(r.code, r.stderr).toBe(0);
    const [pack] = JSON.parse(r.stdout) as { files: { path: string; mode: number }[] }[];
    const files = (pack?.files ?? []).map((f) => f.path);
    // npm publishes the mode it packs: a bin without the execute bit fails with EACCES once installed.
    expect((pack?.files.find((f) => f.path === 'dist/cli.js')?.mode ?? 0) & 0o111).not.toBe(0);
    for (const required of [
      'package.json',
      'README.md',
      // The README links its depth here.
      'docs/resilience.md',
      'docs/encryption.md',
      'dist/index.js',
      'dist/index.cjs',
      'dist/index.d.ts',
      'dist/index.d.cts',
      'dist/express.js',
      'dist/express.cjs',
      'dist/express.d.ts',
      'dist/express.d.cts',
      'dist/session.d.ts',
      'dist/prometheus.d.ts',
      'dist/stash.js',
      'dist/stash.cjs',
      'dist/stash.d.ts',
      'dist/stash.d.cts',
      'dist/cli.js',
    ]) {
      expect(files, `missing ${required}`).toContain(required);
    }
    const forbidden = files.filter(
      (f) => /^(?:test|src|bench|examples|scripts|\.ci|node_modules)\//.test(f) || /\.test\.|\.spec\./.test(f) || f.endsWith('.tgz'),
    );
    expect(forbidden).toEqual([]);
  });

  it('the bin starts with a node shebang', () => {
    const cli = readFileSync(`${root}dist/cli.js`, 'utf8');
    expect(cli.startsWith('#!/usr/bin/env node\n')).toBe(true);
  });

  it('publint reports no errors', async () => {
    const r = await run('npx', ['--no-install', 'publint'], 120_000);
    expect(r.stdout, r.stdout + r.stderr).not.toMatch(/^Errors?:/m);
    expect(r.code, r.stdout + r.stderr).toBe(0);
  }, 130_000);

  it('arethetypeswrong finds no problems for any entry point or resolution mode', async () => {
    const r = await run('npx', ['--no-install', 'attw', '--pack', '.', '--format', 'ascii'], 120_000);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/No problems found/);
  }, 130_000);
});
