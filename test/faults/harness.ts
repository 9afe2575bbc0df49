import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import KeyvPostgres from '@keyv/postgres';
import KeyvRedis from '@keyv/redis';
import Keyv from 'keyv';
import { type RedisServer, startRedisServer } from '../../scripts/redis-server.mjs';
import { type Fixture, forkFixture } from '../helpers/fork-fixture.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { waitFor } from '../helpers/wait.js';
import { type CheckResult, check, type ProcessReport } from './checker.js';
import { BOUNDS, type FaultName, HEARTBEAT, RESILIENCE, SCHEDULE, WORKLOAD } from './config.js';
import type { FaultWindow, Landing, OpRecord, ProcessEvent, Read } from './history.js';
import { landingsOfPostgresRows, monitorRedis, postgresDropSql, postgresLogSql, type RedisLog } from './store-log.js';

// Runs the fault-injection workload of issue 10 once: real servers, real forked processes, real faults.

export const now = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export type StoreKind = 'redis' | 'postgres';
export const POSTGRES_URI = 'postgresql://postgres@127.0.0.1:5432/test';

export interface RunResult {
  kind: StoreKind;
  origin: number;
  faults: FaultWindow[];
  ops: OpRecord[];
  events: ProcessEvent[];
  processes: ProcessReport[];
  result: CheckResult;
  /** The wall time of the whole run, setup and teardown included. */
  wallMs: number;
  /** Log lines about the workload's keys that the store log did not understand (should be none). */
  logUnknown: string[];
  errorsByProcess: Record<string, Record<string, number>>;
  /** PostgreSQL only: pg Pool 'error' events each worker's own listener caught (the library attaches none). */
  poolErrorsByProcess: Record<string, number> | undefined;
}

/** The store side of a run: where the workers connect, how it fails, and how the checker reads it. */
interface StoreSide {
  workerStore: Record<string, unknown>;
  freeze(): Promise<void>;
  thaw(): Promise<void>;
  shutDown(): Promise<void>;
  bringBack(): Promise<void>;
  proxy: TcpProxy;
  /** The store's value for every key, read directly (not through the proxy). */
  dump(keys: readonly string[]): Promise<Map<string, Read>>;
  landings(until: number): Promise<Landing[]>;
  logUnknown(): string[];
  close(): Promise<void>;
}

const keysOf = () => Array.from({ length: WORKLOAD.keys }, (_, i) => `k${String(i).padStart(2, '0')}`);

async function dumpWith(keyv: Keyv, keys: readonly string[]): Promise<Map<string, Read>> {
  const final = new Map<string, Read>();
  for (const key of keys) {
    const value = (await keyv.get(key)) as { w?: unknown; s?: unknown } | undefined;
    final.set(key, value === undefined ? null : `${String(value.w)}:${String(value.s)}`);
  }
  return final;
}

async function redisStore(namespace: string): Promise<StoreSide> {
  // Its data must survive the shutdown fault, as a real store's does: an RDB in a directory of our own.
  const dir = mkdtempSync(join(tmpdir(), 'synced-cache-faults-'));
  const server = await startRedisServer({ args: ['--dir', dir, '--dbfilename', 'store.rdb'] });
  const proxy = await startTcpProxy(server.port);
  const log: RedisLog = await monitorRedis(server.port, namespace);
  const reader = new KeyvRedis(server.url);
  const keyv = new Keyv({ store: reader, namespace });
  return {
    workerStore: { kind: 'redis', url: proxy.url },
    proxy,
    async freeze() {
      server.freeze();
    },
    async thaw() {
      server.thaw();
    },
    async shutDown() {
      // Refused from the first moment, as a server that is going away; then a real SHUTDOWN that saves.
      proxy.cut();
      const pid = server.pid;
      await new Promise<void>((resolve) => {
        // On success Redis answers nothing and closes the connection.
        const admin = connect({ port: server.port, host: '127.0.0.1' }, () => admin.write('SHUTDOWN SAVE\r\n'));
        admin.once('close', () => resolve());
        admin.once('error', () => admin.destroy());
      });
      if (pid !== undefined) await waitFor(() => !alive(pid), 'the store Redis to exit after SHUTDOWN', 5_000);
    },
    async bringBack() {
      await server.restart();
      // The log must be on before any worker can reach the server again.
      await log.attach();
      proxy.restore();
    },
    dump: (keys) => dumpWith(keyv, keys),
    async landings(until) {
      return log.landings.filter((l) => l.t < until);
    },
    logUnknown: () => log.unknown,
    async close() {
      log.close();
      await reader.disconnect().catch(() => {});
      await proxy.close();
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function postgresStore(namespace: string): Promise<StoreSide> {
  const table = `synced_cache_faults_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  // The shared PostgreSQL is not ours to signal: its faults are made in the proxy.
  const admin = new KeyvPostgres({ uri: POSTGRES_URI, table });
  // Its queries wait for its own CREATE TABLE.
  await admin.query('SELECT 1');
  try {
    for (const sql of postgresLogSql(table)) await admin.query(sql);
  } catch (error) {
    for (const sql of postgresDropSql(table)) await admin.query(sql).catch(() => {});
    await admin.disconnect().catch(() => {});
    throw error;
  }
  const proxy = await startTcpProxy(5432);
  const keyv = new Keyv({ store: admin, namespace });
  return {
    workerStore: { kind: 'postgres', uri: `postgresql://postgres@127.0.0.1:${proxy.port}/test`, table },
    proxy,
    async freeze() {
      proxy.freeze();
    },
    async thaw() {
      proxy.restore();
    },
    async shutDown() {
      proxy.cut();
    },
    async bringBack() {
      proxy.restore();
    },
    dump: (keys) => dumpWith(keyv, keys),
    async landings(until) {
      const rows = (await admin.query(`SELECT key, value, t FROM ${table}_log ORDER BY id`)) as {
        key: string;
        value: string | null;
        t: number;
      }[];
      return landingsOfPostgresRows(rows, namespace).filter((l) => l.t < until);
    },
    logUnknown: () => [],
    async close() {
      await proxy.close();
      for (const sql of postgresDropSql(table)) await admin.query(sql).catch(() => {});
      await admin.disconnect().catch(() => {});
    },
  };
}

interface Worker {
  p: string;
  fixture: Fixture;
  report: ProcessReport & { fatal: ProcessReport['fatal'][number][] };
}

/** Injects one fault and lifts it after `ms`; lifting is in `finally`, so a failed step leaves nothing broken. */
async function inject(name: FaultName, ms: number, bus: RedisServer, busProxy: TcpProxy, store: StoreSide): Promise<FaultWindow> {
  const start = now();
  try {
    switch (name) {
      case 'bus-kill':
        await bus.kill();
        await sleep(ms);
        break;
      case 'bus-freeze':
        bus.freeze();
        await sleep(ms);
        break;
      case 'bus-blackhole':
        busProxy.blackhole();
        await sleep(ms);
        break;
      case 'store-freeze':
        await store.freeze();
        await sleep(ms);
        break;
      case 'store-shutdown':
        await store.shutDown();
        await sleep(Math.max(0, ms - (now() - start)));
        break;
      case 'store-latency':
        store.proxy.latency(SCHEDULE.latencyMs);
        await sleep(ms);
        break;
    }
  } finally {
    switch (name) {
      case 'bus-kill':
        if (bus.pid === undefined) await bus.restart();
        break;
      case 'bus-freeze':
        bus.thaw();
        break;
      case 'bus-blackhole':
        busProxy.restore();
        break;
      case 'store-freeze':
        await store.thaw();
        break;
      case 'store-shutdown':
        await store.bringBack();
        break;
      case 'store-latency':
        store.proxy.restore();
        break;
    }
  }
  return { name, start, end: now() };
}

/** What a run may change from the config, for the suite's test of itself. */
export interface RunOptions {
  steps?: typeof SCHEDULE.steps;
  leadMs?: number;
  warmupMs?: number;
  settleMs?: number;
  /**
   * Puts the last process on a bus of its own: its heartbeats come back, so it trusts its memory, but it
   * never hears the others' invalidations. A cache that broken must be caught by the checker.
   */
  deafProcess?: boolean;
}

/** One run of the suite against `kind` of store. */
export async function runFaults(kind: StoreKind, options: RunOptions = {}): Promise<RunResult> {
  const steps = options.steps ?? SCHEDULE.steps;
  const began = now();
  const namespace = `faults-${kind}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const keys = keysOf();
  const ops = new Map<string, OpRecord>();
  const events: ProcessEvent[] = [];
  const faults: FaultWindow[] = [];
  let frozenAt = Number.POSITIVE_INFINITY;

  const bus = await startRedisServer();
  const busProxy = await startTcpProxy(bus.port);
  const otherBus = options.deafProcess ? await startRedisServer() : undefined;
  let store: StoreSide | undefined;
  const workers: Worker[] = [];
  try {
    store = kind === 'redis' ? await redisStore(namespace) : await postgresStore(namespace);
    const storeSide = store;
    for (let i = 1; i <= WORKLOAD.processes; i++) {
      const p = `p${i}`;
      const report: Worker['report'] = { p, fatal: [] };
      let closing = false;
      const fixture = await forkFixture('fault-worker.mjs', {}, 15_000, {
        execArgv: ['--expose-gc'],
        onEvent(message) {
          if (message.event === 'records') {
            for (const record of message.records as (OpRecord | ProcessEvent)[]) {
              if ('op' in record) {
                // A call reported pending at the stop may settle later: its last report before the
                // history is frozen wins.
                if (now() < frozenAt) ops.set(`${record.p}#${(record as OpRecord & { n: number }).n}`, record);
              } else {
                events.push(record);
              }
            }
          } else if (message.event === 'fatal') {
            const fatal = {
              kind: message.kind as 'uncaught-exception' | 'unhandled-rejection',
              message: String(message.message),
              t: Number(message.t),
            };
            report.fatal.push(fatal);
            events.push({ p, t: fatal.t, type: 'fatal', detail: fatal.kind, message: fatal.message });
          }
        },
        onExit(code, signal) {
          if (!closing) report.exited = signal === null ? `code ${code}` : `signal ${signal}`;
        },
      });
      workers.push({ p, fixture, report });
      const kill = fixture.kill;
      fixture.kill = async () => {
        closing = true;
        await kill();
      };
    }
    const cacheOptions = {
      heartbeat: HEARTBEAT,
      ...(RESILIENCE.enabled ? RESILIENCE.options : {}),
    };
    const workload = {
      keys,
      loops: WORKLOAD.loops,
      mix: WORKLOAD.mix,
      thinkMs: WORKLOAD.thinkMs,
      loaderMs: WORKLOAD.loaderMs,
      ttl: RESILIENCE.enabled ? RESILIENCE.ttl : undefined,
      slowLoaderRate: RESILIENCE.enabled ? RESILIENCE.slowLoaderRate : 0,
      slowLoaderMs: RESILIENCE.slowLoaderMs,
      failingLoaderRate: RESILIENCE.enabled ? RESILIENCE.failingLoaderRate : 0.02,
    };
    await Promise.all(
      workers.map((w) =>
        w.fixture.call('init', {
          p: w.p,
          namespace,
          busUrl: otherBus !== undefined && w === workers.at(-1) ? otherBus.url : busProxy.url,
          store: storeSide.workerStore,
          cache: cacheOptions,
          workload,
        }),
      ),
    );
    const each = <T>(op: string, args?: Record<string, unknown>) => Promise.all(workers.map((w) => w.fixture.call<T>(op, args)));
    const graceMs = Math.max(...(['get', 'set', 'delete', 'getOrSet'] as const).map((op) => BOUNDS.hangMs(op))) + 500;

    // Warm up, then the heap baseline with nothing in flight.
    await each('start');
    await sleep(options.warmupMs ?? WORKLOAD.warmupMs);
    await each('stop', { graceMs });
    const heapBefore = await each<number>('heap');
    workers.forEach((w, i) => {
      w.report.heapBefore = heapBefore[i];
    });

    const origin = now();
    await each('start');
    await sleep(options.leadMs ?? SCHEDULE.leadMs);
    for (const [i, step] of steps.entries()) {
      faults.push(await inject(step.name, step.ms, bus, busProxy, storeSide));
      await sleep(i === steps.length - 1 ? WORKLOAD.tailMs : SCHEDULE.gapMs);
    }
    await each('stop', { graceMs });
    await sleep(options.settleMs ?? WORKLOAD.settleMs);

    const viewList = await each<Record<string, Read | { error: string }>>('views', { keys });
    const viewsAt = now();
    const status = await each<{ bus: string; errors: Record<string, number>; poolErrors: number }>('status');
    const heapAfter = await each<number>('heap');
    workers.forEach((w, i) => {
      w.report.heapAfter = heapAfter[i];
      w.report.busAtEnd = status[i]?.bus;
    });
    frozenAt = now();
    const final = await storeSide.dump(keys);
    const landings = await storeSide.landings(frozenAt);
    const history = [...ops.values()].sort((a, b) => a.start - b.start);
    const views = new Map(workers.map((w, i) => [w.p, new Map(Object.entries(viewList[i] ?? {}))]));
    const input = {
      ops: history,
      keys,
      final,
      finalAt: frozenAt,
      views,
      viewsAt,
      loaderWritesInDoubt: RESILIENCE.enabled,
      processes: workers.map((w) => w.report),
      bounds: BOUNDS,
      origin,
    };
    const result = check({ ...input, landings });
    // The calls alone allow at least what the store log allows (a write lands inside its call, or
    // later if it is in doubt): a verdict only the calls-alone reading gives means a skewed clock or a
    // checker bug, not a library bug.
    const judged = (v: { kind: string; p?: string; key?: string; at?: number }) => `${v.kind} ${v.p} ${v.key} ${v.at}`;
    const withLog = new Set(result.violations.map(judged));
    for (const v of check(input).violations) {
      if (['stale-read', 'stale-superseded', 'phantom'].includes(v.kind) && !withLog.has(judged(v))) {
        result.violations.push({ kind: 'checker', key: v.key, message: `only the calls-alone reading finds this: ${v.message}` });
      }
    }
    await Promise.all(workers.map((w) => w.fixture.call('close').catch(() => {})));
    return {
      kind,
      origin,
      faults,
      ops: history,
      events: events.sort((a, b) => a.t - b.t),
      processes: workers.map((w) => w.report),
      result,
      wallMs: now() - began,
      logUnknown: storeSide.logUnknown(),
      errorsByProcess: Object.fromEntries(workers.map((w, i) => [w.p, status[i]?.errors ?? {}])),
      poolErrorsByProcess: kind === 'postgres' ? Object.fromEntries(workers.map((w, i) => [w.p, status[i]?.poolErrors ?? 0])) : undefined,
    };
  } finally {
    // Nothing stays frozen, cut or stopped, whatever happened above.
    bus.thaw();
    busProxy.restore();
    await Promise.all(workers.map((w) => w.fixture.kill()));
    await busProxy.close();
    await bus.stop();
    await otherBus?.stop();
    await store?.thaw().catch(() => {});
    await store?.close();
  }
}
