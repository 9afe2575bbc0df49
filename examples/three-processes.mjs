#!/usr/bin/env node
// Three processes share one cache; watch the memory tiers stay in sync.
//
//   npm run example                 (builds, then runs this for 10 seconds)
//   node examples/three-processes.mjs --seconds 30
//
// Bus and store: REDIS_URL if set; else a private redis-server on a free port if one is installed;
// else three worker threads of this process on the in-process BroadcastChannel transport, with the
// store held by the main thread.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { isMainThread, MessageChannel, parentPort, Worker, workerData } from 'node:worker_threads';

const self = fileURLToPath(import.meta.url);
const KEYS = Array.from({ length: 20 }, (_, i) => `user:${i}`);
const NAMESPACE = 'example';
/** How long a participant may take to end once its cache and store are closed. */
const LINGER_MS = 1_000;

// ---------------------------------------------------------------- a participant (process or thread)

/**
 * One cache. The coordinator drives it with three commands: `start` once every participant's bus is up
 * (P0 then seeds, so that the others hear the seed), `quiet` (stop writing and reading, report the final
 * write), `stop` (close the cache and the store).
 */
async function participant({ index, mode, redisUrl, storePort }, send, command) {
  const { SyncedCache, BroadcastChannelTransport } = await import('synced-cache');
  let store;
  let closeStore = async () => {};
  if (mode === 'threads') {
    store = remoteMapStore(storePort);
  } else {
    const { default: KeyvRedis } = await import('@keyv/redis');
    store = new KeyvRedis(redisUrl);
    closeStore = () => store.disconnect();
  }
  const cache = new SyncedCache({
    namespace: NAMESPACE,
    store,
    ...(mode === 'threads' ? { transport: new BroadcastChannelTransport() } : { redis: redisUrl }),
    heartbeat: { interval: 250, timeout: 500 },
  });
  let lastFailure;
  cache.on('bus:down', ({ reason }) => {
    lastFailure = reason;
  });
  cache.on('error', (error) => {
    lastFailure = error;
  });
  const seen = [];
  cache.on('invalidate', ({ keys }) => {
    if (keys !== '*') seen.push(...keys);
  });
  const deadline = Date.now() + 10_000;
  while (cache.stats().bus !== 'up') {
    if (Date.now() > deadline)
      throw new Error(`P${index}: the bus did not come up within 10 s${lastFailure ? `: ${lastFailure.message}` : ''}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  send({ type: 'ready', index });
  await command('start');
  // P0 seeds the users; the others find them in the store, then in memory.
  if (index === 0) await cache.setMany(KEYS.map((key) => ({ key, value: { name: key, version: 0, by: 'seed' } })));

  let version = 0;
  let stopping = false;
  const reads = (async () => {
    while (!stopping) {
      for (let i = 0; i < 50; i++) await cache.get(KEYS[Math.floor(Math.random() * KEYS.length)]);
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  // Each participant rewrites one random user every ~700 ms, staggered.
  let lastWrite = Promise.resolve();
  const writes = setInterval(
    () => {
      lastWrite = (async () => {
        const key = KEYS[Math.floor(Math.random() * KEYS.length)];
        const value = { name: key, version: ++version, by: `P${index}` };
        await cache.set(key, value);
        send({ type: 'wrote', index, key, version: value.version });
      })();
    },
    700 + index * 90,
  );
  const stats = () => ({ type: 'stats', index, stats: cache.stats(), invalidated: seen.splice(0).slice(-3) });
  const report = setInterval(() => send(stats()), 500);

  await command('quiet');
  stopping = true;
  clearInterval(writes);
  await reads;
  await lastWrite;
  send({ ...stats(), type: 'quiet' });
  // Still reporting: the coordinator watches the last invalidations arrive.
  await command('stop');
  clearInterval(report);
  send(stats());
  await cache.close();
  await closeStore();
  send({ type: 'closed', index });
}

/**
 * Commands from the coordinator, kept until asked for, so that none is lost to timing. They come in this
 * order, and each implies the ones before it: a `stop` sent after an error elsewhere ends a participant
 * that was never started.
 */
const COMMANDS = ['start', 'quiet', 'stop'];
function inbox() {
  const slots = COMMANDS.map(() => {
    let resolve;
    const promise = new Promise((r) => {
      resolve = r;
    });
    return { promise, resolve };
  });
  return {
    deliver: (name) => {
      for (let i = 0; i <= COMMANDS.indexOf(name); i++) slots[i].resolve();
    },
    command: (name) => slots[COMMANDS.indexOf(name)].promise,
  };
}

/** A Keyv store adapter whose Map lives in the main thread, so three threads share one store. */
function remoteMapStore(port) {
  let ids = 0;
  const pending = new Map();
  port.on('message', ({ id, result }) => {
    pending.get(id)?.(result);
    pending.delete(id);
    if (pending.size === 0) port.unref();
  });
  // Referenced only while a call waits for its answer, as a socket is while a request is out: a thread
  // whose only work is an answer on an unreferenced port ends mid-await (exit code 13).
  port.unref();
  const call = (op, ...args) =>
    new Promise((resolve) => {
      const id = ++ids;
      if (pending.size === 0) port.ref();
      pending.set(id, resolve);
      port.postMessage({ id, op, args });
    });
  return {
    opts: {},
    get: (key) => call('get', key),
    set: (key, value) => call('set', key, value).then(() => true),
    delete: (key) => call('delete', key),
    clear: () => call('clear'),
    has: (key) => call('has', key),
  };
}

function serveMap(port, map) {
  port.on('message', ({ id, op, args }) => {
    let result;
    if (op === 'get') result = map.get(args[0]);
    else if (op === 'set') map.set(args[0], args[1]);
    else if (op === 'delete') result = map.delete(args[0]);
    else if (op === 'clear') map.clear();
    else if (op === 'has') result = map.has(args[0]);
    port.postMessage({ id, result });
  });
}

// ---------------------------------------------------------------- the coordinator

async function chooseBus() {
  if (process.env.REDIS_URL)
    return { mode: 'redis', redisUrl: process.env.REDIS_URL, note: `Redis at ${process.env.REDIS_URL} (REDIS_URL)` };
  const { hasRedisServer, startRedisServer } = await import('../scripts/redis-server.mjs');
  if (hasRedisServer()) {
    const server = await startRedisServer();
    return { mode: 'redis', redisUrl: server.url, server, note: `a private redis-server on ${server.url} (pid ${server.pid})` };
  }
  return {
    mode: 'threads',
    note: 'no REDIS_URL and no redis-server on PATH: running 3 worker threads on the in-process BroadcastChannel transport instead',
  };
}

const sum = (rows, pick) => rows.reduce((total, row) => total + pick(row.stats), 0);

function table(rows, log, seconds, note) {
  const lines = [
    `synced-cache example: 3 participants, namespace "${NAMESPACE}", ${seconds}s`,
    `bus and store: ${note}`,
    '',
    ' who  bus   memory hits  store hits  misses  sets  invalidations in  lag p50  recent invalidations',
  ];
  for (const row of rows) {
    if (!row) continue;
    const s = row.stats;
    lines.push(
      ` P${row.index}   ${s.bus.padEnd(5)} ${String(s.hits.memory).padStart(11)} ${String(s.hits.store).padStart(11)} ${String(s.misses).padStart(7)} ${String(s.sets).padStart(5)} ${String(s.invalidations.received).padStart(17)} ${`${s.lag.p50}ms`.padStart(8)}  ${row.invalidated.join(', ')}`,
    );
  }
  lines.push('', ...log.slice(-6));
  return lines.join('\n');
}

/** One line of progress, for output that is not a terminal (a log, a pipe, CI). */
function progressLine(rows, elapsed) {
  const each = rows
    .filter(Boolean)
    .map(
      (r) =>
        `P${r.index} ${r.stats.bus} memory ${r.stats.hits.memory} store ${r.stats.hits.store + r.stats.misses} in ${r.stats.invalidations.received}`,
    )
    .join(' | ');
  return `${`${(elapsed / 1000).toFixed(1)}s`.padStart(6)}  ${each}`;
}

/** Starts the three participants (forked processes, or worker threads sharing a Map store). */
function startParticipants(bus, onMessage) {
  const participants = [];
  const store = new Map();
  for (let index = 0; index < 3; index++) {
    let send;
    let exited;
    let close = () => {};
    if (bus.mode === 'threads') {
      const { port1, port2 } = new MessageChannel();
      serveMap(port1, store);
      const worker = new Worker(self, { workerData: { index, mode: 'threads', storePort: port2 }, transferList: [port2] });
      worker.on('message', onMessage);
      exited = new Promise((resolve) => worker.once('exit', resolve));
      send = (name) => worker.postMessage(name);
      close = () => port1.close();
    } else {
      const child = fork(self, ['--participant', JSON.stringify({ index, mode: 'redis', redisUrl: bus.redisUrl })]);
      child.on('message', onMessage);
      exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
      send = (name) => {
        if (child.connected) child.send(name);
      };
    }
    const participant = { index, send, exited, close, stopped: false };
    participants.push(participant);
  }
  return participants;
}

async function main() {
  const at = process.argv.indexOf('--seconds');
  const seconds = at > 0 ? Number(process.argv[at + 1]) : 10;
  if (!(seconds > 0)) throw new RangeError(`--seconds must be a positive number of seconds, got ${process.argv[at + 1]}`);
  const bus = await chooseBus();
  const rows = [];
  const log = [];
  const ready = new Set();
  const quiet = new Set();
  const closedAt = [];
  let wake = () => {};
  const onMessage = (m) => {
    if (m.type === 'stats' || m.type === 'quiet') rows[m.index] = m;
    if (m.type === 'ready') ready.add(m.index);
    else if (m.type === 'quiet') quiet.add(m.index);
    else if (m.type === 'closed') closedAt[m.index] = performance.now();
    else if (m.type === 'wrote') log.push(`P${m.index} wrote ${m.key} (version ${m.version}); the others drop their copy`);
    wake();
  };
  const participants = startParticipants(bus, onMessage);
  // A participant that ends before it is told to (an error, a bus that never came up) ends the example.
  const early = Promise.race(
    participants.map((p) => p.exited.then((code) => (p.stopped ? new Promise(() => {}) : { index: p.index, code }))),
  );
  /** Waits until `condition` holds or `ms` pass; rejects if a participant ended early. */
  const until = async (condition, ms) => {
    const deadline = Date.now() + ms;
    while (!condition() && Date.now() < deadline) {
      const woken = new Promise((resolve) => {
        wake = resolve;
      });
      const timer = setTimeout(wake, Math.min(100, deadline - Date.now()));
      const ended = await Promise.race([woken.then(() => undefined), early]);
      clearTimeout(timer);
      if (ended) throw new Error(`P${ended.index} exited with code ${ended.code} before the end of the example`);
    }
    return condition();
  };

  try {
    if (!(await until(() => ready.size === 3, 20_000))) throw new Error('the participants did not come up within 20 s');
    for (const p of participants) p.send('start');
    const tty = process.stdout.isTTY;
    const started = Date.now();
    if (!tty) console.log(`synced-cache example: 3 participants, namespace "${NAMESPACE}", ${seconds}s\nbus and store: ${bus.note}`);
    const timer = setInterval(() => {
      if (tty) process.stdout.write(`\x1b[2J\x1b[H${table(rows, log, seconds, bus.note)}\n`);
      else if (rows.length > 0) console.log(progressLine(rows, Date.now() - started));
    }, 500);
    try {
      await until(() => false, seconds * 1000);
    } finally {
      clearInterval(timer);
    }
    // Stop writing everywhere, then give the last invalidations a moment to arrive before comparing counts.
    for (const p of participants) p.send('quiet');
    await until(() => quiet.size === 3, 10_000);
    const sent = () => sum(rows, (s) => s.invalidations.sent);
    const received = () => sum(rows, (s) => s.invalidations.received);
    await until(() => quiet.size === 3 && received() >= 2 * sent(), 2_000);
  } finally {
    for (const p of participants) {
      p.stopped = true;
      p.send('stop');
    }
    await Promise.all(
      participants.map(async (p) => {
        await p.exited;
        const lingered = closedAt[p.index] === undefined ? 0 : performance.now() - closedAt[p.index];
        if (lingered > LINGER_MS)
          console.error(`P${p.index} took ${Math.round(lingered)} ms to exit after its cache and store were closed`);
      }),
    );
    for (const p of participants) p.close();
    await bus.server?.stop();
  }
  if (process.stdout.isTTY) process.stdout.write('\x1b[2J\x1b[H');
  console.log(table(rows, log, seconds, bus.note));
  const fromMemory = sum(rows, (s) => s.hits.memory);
  const fromStore = sum(rows, (s) => s.hits.store + s.misses);
  const sent = sum(rows, (s) => s.invalidations.sent);
  const received = sum(rows, (s) => s.invalidations.received);
  const delivery =
    received >= 2 * sent
      ? `every key written (${sent}, the seed included) reached the other two as an invalidation`
      : `${received} of the ${2 * sent} invalidations sent arrived before the end`;
  console.log(`\n${fromMemory} reads served from memory, ${fromStore} went to the store; ${delivery}.`);
}

/** Runs `main`, ending with a one-line reason and exit code 1 on failure. */
async function run(main) {
  try {
    await main();
  } catch (error) {
    console.error(`synced-cache example: ${error instanceof Error ? error.message : error}`);
    process.exit(1);
  }
}

// No process.exit() once a participant is done: after close(), nothing of the cache or the store may keep
// a process alive, and the coordinator checks that each ends promptly by itself.
if (!isMainThread) {
  const { deliver, command } = inbox();
  parentPort.on('message', deliver);
  await run(() => participant(workerData, (m) => parentPort.postMessage(m), command));
  parentPort.off('message', deliver);
} else if (process.argv[2] === '--participant') {
  const { deliver, command } = inbox();
  const orphaned = () => process.exit(1);
  process.on('message', deliver);
  // The coordinator is gone (killed, crashed): nobody will say stop.
  process.once('disconnect', orphaned);
  await run(() => participant(JSON.parse(process.argv[3]), (m) => process.send(m), command));
  process.off('message', deliver);
  process.off('disconnect', orphaned);
  process.disconnect();
} else {
  await run(main);
}
