// Installing the package as a user does, into a fresh app outside this checkout: from the tarball `npm pack`
// makes, and from git (which builds dist/ through `prepare`). Both talk to the npm registry (for keyv and the
// dependencies) and are slow, so each runs once; they skip, saying why, only when the registry is unreachable.
// The tarball test needs `npm run build` first (`npm test` runs it).
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it, onTestFinished } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

// What `npm test` exports to its scripts describes this checkout (npm_package_*, the local prefix, the
// lifecycle event): an npm started from the test must see only the fresh app and the user's own config.
const env: NodeJS.ProcessEnv = Object.fromEntries(
  Object.entries(process.env).filter(
    ([name]) => !/^npm_(?:package_|lifecycle_|command$|config_local_prefix$|config_call$)/.test(name) && name !== 'INIT_CWD',
  ),
);

/** Runs a command; resolves with its exit code and output (never rejects on a non-zero exit). */
function run(file: string, args: readonly string[], cwd: string, timeout: number): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { cwd, env, timeout, maxBuffer: 32 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error !== null && typeof error.code !== 'number') {
        reject(error);
        return;
      }
      resolve({ code: typeof error?.code === 'number' ? error.code : 0, stdout, stderr });
    });
  });
}

async function ok(file: string, args: readonly string[], cwd: string, timeout: number): Promise<Run> {
  const r = await run(file, args, cwd, timeout);
  if (r.code !== 0) throw new Error(`${file} ${args.join(' ')} exited with ${r.code}:\n${r.stdout}\n${r.stderr}`);
  return r;
}

/**
 * `ok` for the installs, at the lowest CPU priority where `nice` exists: a git install builds the package
 * (about a minute of CPU), and the test files running beside this one have timing bounds.
 */
function niceOk(file: string, args: readonly string[], cwd: string, timeout: number): Promise<Run> {
  return process.platform === 'win32' ? ok(file, args, cwd, timeout) : ok('nice', ['-n', '19', file, ...args], cwd, timeout);
}

function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A fresh app directory: a package.json of its own, so npm does not walk up to a parent's. */
function freshApp(): string {
  const app = join(tempDir('synced-cache-app-'), 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), `${JSON.stringify({ name: 'app', version: '1.0.0', private: true })}\n`);
  return app;
}

// Two caches over one Keyv (the app's own keyv, the peer dependency): the first writes, the second reads it
// from the store, then from its memory. Written once for both module systems: `load(name)` is require() or import().
const roundTrip = `
  const { SyncedCache } = await load('synced-cache');
  const keyvModule = await load('keyv');
  const store = new (keyvModule.Keyv ?? keyvModule.default)();
  const a = new SyncedCache({ namespace: 'app', store });
  const b = new SyncedCache({ namespace: 'app', store });
  await a.set('user:1', { name: 'Ada' }, { ttl: 60_000 });
  const values = [await b.get('user:1'), await b.get('user:1')];
  const { hits } = b.stats();
  await a.close();
  await b.close();
  console.log(JSON.stringify({ values, hits }));
`;
const expected = { values: [{ name: 'Ada' }, { name: 'Ada' }], hits: { memory: 1, store: 1 } };

const programs = {
  cjs: [
    '-e',
    `const load = async (m) => require(m); (async () => { ${roundTrip} })().catch((e) => { console.error(e); process.exit(1); });`,
  ],
  esm: ['--input-type=module', '-e', `const load = (m) => import(m); ${roundTrip}`],
};

/** Runs the round trip in `app` in CommonJS and in ESM; resolves with what each printed. */
async function roundTrips(app: string): Promise<Record<'cjs' | 'esm', unknown>> {
  const result: Partial<Record<'cjs' | 'esm', unknown>> = {};
  for (const kind of ['cjs', 'esm'] as const) {
    const r = await run(process.execPath, programs[kind], app, 30_000);
    if (r.code !== 0) throw new Error(`node (${kind}) in the app exited with ${r.code}:\n${r.stderr}`);
    const lines = r.stdout.trim().split('\n');
    result[kind] = JSON.parse(lines[lines.length - 1] as string);
  }
  return result as Record<'cjs' | 'esm', unknown>;
}

// --prefer-offline: what the npm cache already holds is not fetched again (npm passes it on to the install
// it runs inside a git dependency's clone); anything missing still comes from the registry.
const install = ['install', '--no-audit', '--no-fund', '--prefer-offline'];

describe('installing synced-cache into a fresh app', () => {
  let unreachable: string | undefined;

  beforeAll(async () => {
    const ping = await run('npm', ['ping', '--fetch-retries=0', '--fetch-timeout=15000'], root, 30_000).catch((error: Error) => ({
      code: -1,
      stdout: '',
      stderr: error.message,
    }));
    if (ping.code !== 0) {
      const reason =
        /FetchError: .*/.exec(ping.stderr)?.[0] ?? /npm error code .*/.exec(ping.stderr)?.[0] ?? ping.stderr.trim().split('\n')[0];
      unreachable = `the npm registry is unreachable (npm ping: ${reason})`;
    }
  }, 40_000);

  it('from the tarball npm pack makes: installs with keyv, imports and round-trips in ESM and CommonJS, and its bin runs', async (ctx) => {
    if (unreachable !== undefined) ctx.skip(`${unreachable}: cannot install keyv and the dependencies`);
    expect(existsSync(join(root, 'dist/index.js')), 'dist/ is missing: run `npm run build` first').toBe(true);
    // --ignore-scripts: `prepare` would rebuild dist/ in place, under the feet of the other test files that load it.
    const packed = tempDir('synced-cache-pack-');
    await ok('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', packed], root, 60_000);
    const [tarball] = readdirSync(packed).filter((f) => f.endsWith('.tgz'));
    expect(tarball).toMatch(/^synced-cache-\d+\.\d+\.\d+.*\.tgz$/);

    const app = freshApp();
    await niceOk('npm', [...install, join(packed, tarball as string), 'keyv'], app, 240_000);
    expect(await roundTrips(app)).toEqual({ cjs: expected, esm: expected });
    const help = await ok(join(app, 'node_modules/.bin/synced-cache'), ['--help'], app, 30_000);
    expect(help.stdout).toMatch(/^Usage: synced-cache/m);
  }, 300_000);

  it('from git: the install builds dist/ through prepare (devDependencies included), and the package imports in ESM and CommonJS', async (ctx) => {
    if (unreachable !== undefined) ctx.skip(`${unreachable}: a git install fetches the build's devDependencies`);
    // A clone of the committed HEAD: what a user gets from the repository, without this checkout's dist/ or
    // uncommitted changes.
    const head = (await ok('git', ['rev-parse', 'HEAD'], root, 10_000)).stdout.trim();
    const repo = join(tempDir('synced-cache-git-'), 'synced-cache');
    await ok('git', ['clone', '-q', root, repo], root, 60_000);
    await ok('git', ['checkout', '-q', head], repo, 10_000);
    expect(existsSync(join(repo, 'dist')), 'dist/ is committed: the clone would not prove the build').toBe(false);

    const app = freshApp();
    await niceOk('npm', [...install, `git+file://${repo}`], app, 540_000);
    const installed = join(app, 'node_modules/synced-cache');
    expect(['dist/index.js', 'dist/index.cjs', 'dist/index.d.ts', 'dist/cli.js'].filter((f) => !existsSync(join(installed, f)))).toEqual(
      [],
    );
    // keyv came in as the peer dependency npm installs by itself.
    expect(existsSync(join(app, 'node_modules/keyv/package.json'))).toBe(true);
    expect(await roundTrips(app)).toEqual({ cjs: expected, esm: expected });
  }, 600_000);
});
