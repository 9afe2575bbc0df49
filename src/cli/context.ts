// The cache a command works on, opened and always closed again; Redis connections for operators.
import { Redis } from 'ioredis';
import type { KeyvStoreAdapter } from 'keyv';
import { SyncedCache } from 'synced-cache';
import { CliError, causes, explain, TimeoutError, usage, withTimeout } from './errors.js';
import { type GlobalOptions, parseUrl } from './options.js';
import { note } from './output.js';
import { openStore, type StoreSpec, storeSpec } from './stores.js';

// ---------------------------------------------------------------------------------------------------
// The cache a command works on

export interface Context {
  cache: SyncedCache<unknown>;
  store: StoreSpec;
  /** The Redis bus URL, when there is one. */
  redis: string | undefined;
  options: GlobalOptions;
  /** Runs a store operation with the timeout, turning a failure into a one-line message. */
  run<T>(what: string, operation: () => Promise<T>): Promise<T>;
}

export function resolveTargets(options: GlobalOptions): { store: StoreSpec; redis: string | undefined } {
  if (options.redis !== undefined) parseUrl(options.redis, '--redis', ['redis', 'rediss', 'unix']);
  const storeUri = options.store ?? options.redis;
  if (storeUri === undefined) {
    throw usage('no store given: pass --store <uri> or --redis <url> (or set SYNCED_CACHE_STORE / SYNCED_CACHE_REDIS)');
  }
  const store = storeSpec(storeUri);
  // The common deployment keeps the store and the bus on one Redis, so a redis:// store is also the bus.
  const redis = options.redis ?? (store.kind === 'Redis' ? store.uri : undefined);
  return { store, redis };
}

/**
 * Opens the cache, runs `body`, and always closes what was opened, so the process can end.
 * With `bus`, the command waits for the bus to be up first: an invalidation published by a closing
 * cache before that would be queued and lost.
 */
export async function withCache(options: GlobalOptions, bus: boolean, body: (ctx: Context) => Promise<number>): Promise<number> {
  const { store, redis } = resolveTargets(options);
  const useBus = bus && redis !== undefined;
  if (bus && redis === undefined) {
    note(`warning: no --redis given, so other processes will not be told of this change (their memory may serve the old value)`);
  }
  const opened = await openStore(store, options.timeout);
  let cache: SyncedCache<unknown>;
  try {
    cache = new SyncedCache<unknown>({ namespace: options.namespace, store: opened.adapter, redis: useBus ? redis : undefined });
  } catch (error) {
    await closeAdapter(opened.adapter, options.timeout);
    throw error instanceof TypeError || error instanceof RangeError ? usage(error.message.replace(/^synced-cache: /, '')) : error;
  }
  let busError: Error | undefined;
  cache.on('error', (error) => {
    busError = error;
  });
  const ctx: Context = {
    cache,
    store,
    redis: useBus ? redis : undefined,
    options,
    async run(what, operation) {
      try {
        return await withTimeout(operation(), options.timeout, what);
      } catch (error) {
        if (error instanceof CliError) throw error;
        throw new CliError(explain(error, store.kind, store.uri, options.timeout, opened.lastError()));
      }
    },
  };
  try {
    if (useBus && redis !== undefined) await waitForBus(cache, redis, options.timeout, () => busError);
    return await body(ctx);
  } finally {
    await withTimeout(cache.close(), options.timeout, 'closing the cache').catch(() => {});
    await closeAdapter(opened.adapter, options.timeout);
  }
}

export async function closeAdapter(adapter: KeyvStoreAdapter, timeout: number): Promise<void> {
  const disconnect = (adapter as { disconnect?: () => Promise<void> }).disconnect;
  if (typeof disconnect !== 'function') return;
  await withTimeout(Promise.resolve(disconnect.call(adapter)), timeout, 'closing the store').catch(() => {});
}

export function waitForBus(cache: SyncedCache<unknown>, redis: string, timeout: number, lastError: () => Error | undefined): Promise<void> {
  if (cache.stats().bus === 'up') return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    const fail = () => {
      cleanup();
      reject(new CliError(explain(lastError() ?? new TimeoutError(), 'Redis', redis, timeout)));
    };
    const timer = setTimeout(fail, timeout);
    const onUp = () => {
      cleanup();
      resolve();
    };
    // A refused connection is final for a one-shot command: ioredis would only retry it.
    const onError = (error: Error) => {
      if (causes(error).some((e) => e.code === 'ECONNREFUSED' || e.code === 'ENOTFOUND')) fail();
    };
    const cleanup = () => {
      clearTimeout(timer);
      cache.off('bus:up', onUp);
      cache.off('error', onError);
    };
    cache.on('bus:up', onUp);
    cache.on('error', onError);
  });
}

export async function connectRedis(url: string, timeout: number, name: string): Promise<Redis> {
  let connected = false;
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeout,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectionName: name,
    // No retry before the first success (the user is waiting for an answer); after it, keep trying.
    retryStrategy: (times) => (connected ? Math.min(100 * 2 ** Math.min(times, 4), 2_000) : null),
  });
  let lastError: Error | undefined;
  client.on('error', (error: Error) => {
    lastError = error;
  });
  try {
    await withTimeout(client.connect(), timeout, 'connecting to Redis');
    connected = true;
    return client;
  } catch (error) {
    client.disconnect();
    throw new CliError(explain(lastError ?? error, 'Redis', url, timeout));
  }
}
