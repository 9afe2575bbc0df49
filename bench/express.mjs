// Scenario 8: Express. Requests/s of a cached route (autocannon over loopback) against the same
// route uncached and against a route that returns a constant. The server runs in a child
// process of its own, autocannon in this one, so each has a core.
//   GET /constant      res.json(a constant ~200 B object)
//   GET /uncached/:id  res.json(await source(id))      source: 2 ms of simulated database latency
//   GET /cached/:id    res.json(await cache.getOrSet(`product:${id}`, () => source(id)))
// 100 ids, cycled by every connection; the cache is warm after the warmup pass.
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { startWorker } from './lib/procs.mjs';
import { median } from './lib/stats.mjs';
import { createSystem } from './lib/systems.mjs';
import { makeValue } from './lib/values.mjs';

const SELF = fileURLToPath(import.meta.url);
const IDS = 100;
const SOURCE_MS = 2;
const CONNECTIONS = 32;

export const name = 'express';
export const title = 'Express: cached route vs uncached vs constant (autocannon, loopback)';

let server;
let cache;

/** Child side: starts the app on a free port. */
export async function serve({ redisUrl, namespace, withCache }) {
  const { default: express } = await import('express');
  const app = express();
  app.set('etag', false);
  app.set('x-powered-by', false);
  const CONSTANT = makeValue(0);
  const source = async (id) => {
    await new Promise((r) => setTimeout(r, SOURCE_MS));
    return makeValue(Number(id));
  };
  app.get('/constant', (_req, res) => {
    res.json(CONSTANT);
  });
  app.get('/uncached/:id', async (req, res) => {
    res.json(await source(req.params.id));
  });
  if (withCache) {
    cache = await createSystem('synced-cache', { redisUrl, namespace });
    await cache.ready();
    app.get('/cached/:id', async (req, res) => {
      const id = req.params.id;
      res.json(await cache.getOrSet(`product:${id}`, () => source(id)));
    });
  }
  await new Promise((resolve) => {
    server = app.listen(0, '127.0.0.1', resolve);
  });
  return { port: server.address().port };
}

export async function close() {
  await new Promise((r) => server.close(r));
  server.closeAllConnections?.();
  await cache?.close();
}

function bombard(port, route, durationSec) {
  const requests = Array.from({ length: IDS }, (_, i) => ({ method: 'GET', path: route === 'constant' ? '/constant' : `/${route}/${i}` }));
  return new Promise((resolve, reject) => {
    autocannon(
      { url: `http://127.0.0.1:${port}`, connections: CONNECTIONS, pipelining: 1, duration: durationSec, requests },
      (err, result) => (err ? reject(err) : resolve(result)),
    );
  });
}

export async function run(ctx) {
  const routes = ['constant', 'uncached'];
  if (ctx.ours) routes.push('cached');
  const duration = ctx.quick ? 1 : 2;
  const perRun = [];
  for (let run = 0; run < ctx.runs; run++) {
    const w = await startWorker(SELF, { name: 'express-server' });
    try {
      const { port } = await w.call('serve', { redisUrl: ctx.redisUrl, namespace: `express-${run}`, withCache: ctx.ours });
      const res = {};
      for (const route of routes) {
        ctx.log(`  run ${run + 1}/${ctx.runs}: /${route}`);
        await bombard(port, route, 1); // warmup: JIT, connections, and the cache filled
        const r = await bombard(port, route, duration);
        if (r.non2xx || r.errors) throw new Error(`/${route}: ${r.non2xx} non-2xx, ${r.errors} errors`);
        res[route] = { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99 };
      }
      perRun.push(res);
      await w.call('close');
    } finally {
      await w.stop();
    }
    await ctx.flush();
  }
  const labels = {
    constant: 'GET /constant (res.json of a constant) = ceiling',
    uncached: `GET /uncached/:id (${SOURCE_MS} ms source every request)`,
    cached: 'GET /cached/:id (synced-cache getOrSet, warm)',
  };
  const rows = routes.map((route) => ({
    id: route,
    system: labels[route],
    ours: route === 'cached',
    rps: median(perRun.map((r) => r[route].rps)),
    ratio: median(perRun.map((r) => r[route].rps / r.constant.rps)),
    p50: median(perRun.map((r) => r[route].p50)),
    p99: median(perRun.map((r) => r[route].p99)),
  }));
  return {
    name,
    title,
    description:
      `Express ${'5'} app in its own process; autocannon in the runner process, ${CONNECTIONS} connections, no pipelining, ` +
      `${duration} s per route after a 1 s warmup, requests cycling over ${IDS} ids. Ratio: to the constant route in the same run; ` +
      'a memory hit costs well under a microsecond against the ~100 µs of an Express request, so the cached route ' +
      'and the constant one differ only by the run-to-run noise of this machine (tens of percent either way between ' +
      'invocations of the suite).',
    columns: [
      { key: 'system', label: 'route' },
      { key: 'rps', label: 'requests/s', fmt: 'ops' },
      { key: 'ratio', label: 'x constant', fmt: 'ratio' },
      { key: 'p50', label: 'p50 ms', fmt: 'ms' },
      { key: 'p99', label: 'p99 ms', fmt: 'ms' },
    ],
    rows,
  };
}
