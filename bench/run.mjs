// Entry point of `npm run bench` (after the build):
//   node bench/run.mjs [--quick] [--runs N] [--out DIR] [scenario ...]
// Starts a private redis-server on a free loopback port, runs the scenarios (all by default,
// or those whose names contain one of the filters), and writes results.json, RESULTS.md and
// propagation.svg. A full run writes them next to this file; a --quick or filtered run writes
// them to bench/.tmp/ unless --out says otherwise, so a partial run never replaces the
// committed results.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { hasRedisServer, startRedisServer } from '../scripts/redis-server.mjs';
import { CONFIGURATION } from './lib/configuration.mjs';
import { stopAllWorkers } from './lib/procs.mjs';
import { renderMarkdown } from './lib/report.mjs';
import { oursAvailable } from './lib/systems.mjs';
import { evaluateTargets } from './lib/targets.mjs';

const BENCH = dirname(fileURLToPath(import.meta.url));
const ROOT = join(BENCH, '..');

export const SCENARIOS = [
  'hot-hit',
  'store-hit',
  'writes',
  'propagation',
  'write-storm',
  'stale-after-mixed-load',
  'stampede',
  'memory-per-entry',
  'express',
];

const PACKAGES = [
  'bentocache',
  'cacheable',
  '@cacheable/memory',
  'qified',
  '@qified/redis',
  'layered-loader',
  'keyv',
  '@keyv/redis',
  'ioredis',
  'redis',
  'lru-cache',
  'tinybench',
  'autocannon',
  'express',
];

function parseArgs(argv) {
  const opts = { quick: false, runs: undefined, out: undefined, cpuProf: false, filters: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') opts.quick = true;
    else if (a === '--runs') opts.runs = Number(argv[++i]);
    else if (a === '--out') opts.out = argv[++i];
    else if (a === '--cpu-prof') opts.cpuProf = true;
    else if (a === '--render') opts.render = true;
    else if (a === '--help' || a === '-h') {
      console.log('usage: node bench/run.mjs [--quick] [--runs N] [--out DIR] [--cpu-prof] [scenario ...]');
      console.log('       node bench/run.mjs --render [--out DIR]   rewrite DIR/RESULTS.md from DIR/results.json, measuring nothing');
      console.log(`scenarios: ${SCENARIOS.join(', ')}`);
      process.exit(0);
    } else if (a.startsWith('--')) throw new Error(`unknown option ${a}`);
    else opts.filters.push(a);
  }
  if (opts.runs !== undefined && !(Number.isInteger(opts.runs) && opts.runs > 0)) {
    throw new Error('--runs takes a positive integer');
  }
  return opts;
}

function versionOf(pkg) {
  try {
    return JSON.parse(readFileSync(join(ROOT, 'node_modules', pkg, 'package.json'), 'utf8')).version;
  } catch {
    return 'not installed';
  }
}

function ourVersion() {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
  let commit = '';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
  } catch {
    // not a git checkout
  }
  return `${pkg.version}${commit ? ` (commit ${commit})` : ''}`;
}

/** Formats the written files as `npm run lint` (Biome) expects; the content does not change. */
function formatOutputs(files) {
  const biome = join(ROOT, 'node_modules', '.bin', 'biome');
  if (!existsSync(biome)) return;
  try {
    execFileSync(biome, ['format', '--write', ...files], { cwd: ROOT, stdio: 'ignore' });
  } catch {
    // files Biome ignores (bench/.tmp) or a Biome that is not installed: leave them as written
  }
}

/** The prose parts of RESULTS.md that do not come from a measurement. */
function attachProse(results) {
  results.configuration = CONFIGURATION;
  const analysisFile = join(BENCH, 'analysis.md');
  results.analysis = existsSync(analysisFile) ? [readFileSync(analysisFile, 'utf8').trim()] : undefined;
}

/** Re-renders RESULTS.md from an existing results.json (after editing analysis.md or the report code). */
function render(dir) {
  const results = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8'));
  results.targets = evaluateTargets(results);
  attachProse(results);
  writeFileSync(join(dir, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(join(dir, 'RESULTS.md'), `${renderMarkdown(results)}\n`);
  formatOutputs([join(dir, 'results.json'), join(dir, 'RESULTS.md')]);
  console.log(`rewrote ${join(dir, 'RESULTS.md')} from the results of ${results.meta.date}`);
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.render) return render(opts.out ?? BENCH);
  const selected = opts.filters.length ? SCENARIOS.filter((s) => opts.filters.some((f) => s.includes(f))) : SCENARIOS;
  if (selected.length === 0) throw new Error(`no scenario matches ${opts.filters.join(', ')}`);
  if (!hasRedisServer()) throw new Error('redis-server is not on PATH: the suite starts its own (apt-get install redis-server)');
  const partial = opts.quick || opts.filters.length > 0 || opts.runs !== undefined || opts.cpuProf;
  const outDir = opts.out ?? (partial ? join(BENCH, '.tmp') : BENCH);
  mkdirSync(outDir, { recursive: true });
  if (opts.cpuProf) {
    // profiling slows every child: such a run is for finding causes, never for the figures
    process.env.BENCH_CPU_PROF_DIR = join(BENCH, '.tmp', 'prof', String(Date.now()));
    mkdirSync(process.env.BENCH_CPU_PROF_DIR, { recursive: true });
    console.log(`CPU profiles of every child go to ${process.env.BENCH_CPU_PROF_DIR}`);
  }

  // a build in progress (tsup empties dist/ first) is waited for, briefly
  for (let i = 0; i < 30 && !oursAvailable() && existsSync(join(ROOT, 'dist')); i++) {
    await new Promise((r) => setTimeout(r, 1000));
  }
  const ours = oursAvailable() && process.env.BENCH_SKIP_OURS !== '1';
  if (!ours) console.log('dist/index.js not found: synced-cache is left out of this run (npm run build first)');
  let snapshot;
  if (ours) {
    // one build for the whole run, whatever happens to dist/ meanwhile
    snapshot = join(BENCH, '.tmp', `dist-${process.pid}`);
    // BENCH_DIST=/path/to/index.js measures another build (a patched copy, say) instead of dist/
    cpSync(process.env.BENCH_DIST ? dirname(process.env.BENCH_DIST) : join(ROOT, 'dist'), snapshot, { recursive: true });
    process.env.BENCH_DIST = join(snapshot, 'index.js');
  }
  let baselineSnapshot;
  if (process.env.BENCH_BASELINE_DIST) {
    // BENCH_BASELINE_DIST=/path/to/dist/index.js: hot-hit also measures that build, in the same run
    // (before and after a change); copied beside ours so that it finds the same node_modules.
    baselineSnapshot = join(BENCH, '.tmp', `baseline-${process.pid}`);
    cpSync(dirname(process.env.BENCH_BASELINE_DIST), baselineSnapshot, { recursive: true });
    process.env.BENCH_BASELINE_DIST = join(baselineSnapshot, 'index.js');
  }

  const started = Date.now();
  const loadBefore = os.loadavg();
  const server = await startRedisServer();
  const admin = new Redis(server.url);
  let stopping = false;
  const cleanup = async () => {
    if (stopping) return;
    stopping = true;
    await stopAllWorkers();
    admin.disconnect();
    await server.stop();
    // a profiled run keeps the copy: profile-summary.mjs maps frames through its source map
    if (snapshot && !opts.cpuProf) rmSync(snapshot, { recursive: true, force: true });
    if (baselineSnapshot) rmSync(baselineSnapshot, { recursive: true, force: true });
  };
  process.once('SIGINT', () => {
    interrupted = true;
    console.log('\ninterrupted: stopping workers and redis-server');
    cleanup().finally(() => process.exit(130));
  });

  const info = await admin.info('server');
  const redisVersion = /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown';
  const ctx = {
    redisUrl: server.url,
    runs: opts.runs ?? (opts.quick ? 1 : 3),
    // the coherence scenarios run 5 s per run and process group: the library under test gets
    // every run, the other libraries fewer, to keep the whole suite within a few minutes
    otherCoherenceRuns: opts.quick ? 1 : 1,
    quick: opts.quick,
    ours,
    outDir,
    log: (msg) => console.log(`${((Date.now() - started) / 1000).toFixed(1).padStart(6)}s ${msg}`),
    flush: () => admin.flushall(),
  };

  const scenarios = [];
  try {
    for (const s of selected) {
      const t0 = Date.now();
      console.log(`\n== ${s}`);
      await ctx.flush();
      const mod = await import(`./${s}.mjs`);
      const result = await mod.run(ctx);
      result.seconds = (Date.now() - t0) / 1000;
      scenarios.push(result);
      console.log(`== ${s} done in ${result.seconds.toFixed(1)} s`);
    }
  } finally {
    await cleanup();
  }

  const cpu = os.cpus()[0];
  const results = {
    meta: {
      date: new Date().toISOString(),
      quick: opts.quick,
      runs: ctx.runs,
      durationSec: (Date.now() - started) / 1000,
      machine: {
        cpu: cpu?.model?.trim() ?? 'unknown',
        cores: os.cpus().length,
        memoryGb: Math.round(os.totalmem() / 1024 ** 3),
        os: `${os.type()} ${os.release()} ${os.arch()}`,
      },
      // other work on the machine during the run shows up here (1-minute load average)
      loadAverage: { start: loadBefore[0], end: os.loadavg()[0] },
      node: process.version,
      redis: redisVersion,
      versions: { 'synced-cache': ours ? ourVersion() : 'not built', ...Object.fromEntries(PACKAGES.map((p) => [p, versionOf(p)])) },
    },
    scenarios,
  };
  results.targets = evaluateTargets(results);
  attachProse(results);

  for (const s of scenarios) {
    if (s.svg) {
      writeFileSync(join(outDir, s.chart.file), s.svg);
      s.svg = undefined;
    }
  }
  writeFileSync(join(outDir, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(join(outDir, 'RESULTS.md'), `${renderMarkdown(results)}\n`);
  formatOutputs([
    join(outDir, 'results.json'),
    join(outDir, 'RESULTS.md'),
    ...scenarios.filter((s) => s.chart).map((s) => join(outDir, s.chart.file)),
  ]);
  console.log(
    `\nwrote ${join(outDir, 'RESULTS.md')}, results.json${scenarios.some((s) => s.chart) ? ' and the chart' : ''} in ${results.meta.durationSec.toFixed(0)} s`,
  );
  for (const t of results.targets) console.log(`  ${t.verdict.padEnd(8)} ${t.target}: ${t.measured}`);
}

let interrupted = false;

main().catch(async (err) => {
  if (interrupted) return;
  console.error(err);
  await stopAllWorkers();
  process.exitCode = 1;
});
