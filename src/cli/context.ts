// The cache a command works on, opened and always closed again, within the command's time budget.
import type { KeyvStoreAdapter } from 'keyv';
import { MessageSigner, SyncedCache, type SyncedCacheOptions } from 'synced-cache';
import { checkRedis } from '../redis/connect.js';
import type { Deadline } from './deadline.js';
import { CliError, causes, explain, TimeoutError, usage } from './errors.js';
import { type GlobalOptions, parseUrl } from './options.js';
import { note } from './output.js';
import { rememberSecret, scrub } from './redact.js';
import { openStore, type StoreSpec, storeSpec } from './stores.js';

export interface Context {
  cache: SyncedCache<unknown>;
  store: StoreSpec;
  /** The Redis bus URL, when there is one. */
  redis: string | undefined;
  options: GlobalOptions;
  deadline: Deadline;
  /** Runs a store operation within the budget, turning a failure into a one-line message. */
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
 * Checks `--secret` (or SYNCED_CACHE_SECRET) as the caches would, as a usage error, and notes it so that
 * nothing printed shows it.
 */
export function checkSecret(secret: string | undefined): void {
  if (secret === undefined) return;
  rememberSecret(secret);
  try {
    new MessageSigner(secret);
  } catch (error) {
    throw usage(`--secret: ${(error as Error).message.replace(/^synced-cache: option "secret" /, '')}`);
  }
}

/** Checks that the Redis at `url` answers and takes the URL's credentials, within the budget. */
export async function checkBus(url: string, deadline: Deadline): Promise<void> {
  try {
    await checkRedis(url, deadline.remaining());
  } catch (error) {
    throw new CliError(explain(error, 'Redis', url, deadline.timeout));
  }
}

/**
 * Opens the cache, runs `body`, and closes what was opened, so the process can end.
 * With `bus`, the command waits for the bus to be up first: an invalidation published by a closing
 * cache before that would be queued and lost. `build` makes the cache from its options (the stash
 * commands build a `Stash` and give its cache).
 */
export async function withCache(
  options: GlobalOptions,
  deadline: Deadline,
  bus: boolean,
  body: (ctx: Context) => Promise<number>,
  build: (options: SyncedCacheOptions) => SyncedCache<unknown> = (o) => new SyncedCache<unknown>(o),
): Promise<number> {
  const { store, redis } = resolveTargets(options);
  checkSecret(options.secret);
  if (options.encryptionKey !== undefined) {
    if (options.encryptionKey === '') throw usage('--encryption-key: must not be empty');
    rememberSecret(options.encryptionKey);
  }
  const useBus = bus && redis !== undefined;
  if (bus && redis === undefined) {
    note(`warning: no --redis given, so other processes will not be told of this change (their memory may serve the old value)`);
  }
  // Before the cache builds its own clients: ioredis would meet a credentials problem with warnings of
  // its own (one per connection) and go on; this says it once, as the error.
  if (useBus && redis !== undefined) await checkBus(redis, deadline);
  const opened = await openStore(store, Math.max(1, deadline.remaining()));
  let cache: SyncedCache<unknown>;
  try {
    // The command's budget bounds every store call too; a breaker would only hide the first failure's reason.
    cache = build({
      namespace: options.namespace,
      store: opened.adapter,
      redis: useBus ? redis : undefined,
      storeTimeout: options.timeout,
      circuitBreaker: false,
      // Signed like the caches' own, or they would ignore what this command announces.
      ...(options.secret === undefined ? {} : { secret: options.secret }),
      // The caches' own key, or this command would store plaintext among their ciphertext and fail every read.
      ...(options.encryptionKey === undefined ? {} : { encryption: { key: options.encryptionKey } }),
    });
  } catch (error) {
    void closeAdapter(opened.adapter);
    throw error instanceof TypeError || error instanceof RangeError ? usage(scrub(error.message.replace(/^synced-cache: /, ''))) : error;
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
    deadline,
    async run(what, operation) {
      try {
        return await deadline.race(operation(), what);
      } catch (error) {
        if (error instanceof CliError) throw error;
        // The core's refusal of an input (a key too long, or one of its own under the namespaced spelling
        // `<ns>:__synced-cache:...`) is the user's to fix, not the store's failure.
        if ((error instanceof TypeError || error instanceof RangeError) && error.message.startsWith('synced-cache: ')) {
          throw usage(scrub(error.message.replace(/^synced-cache: /, '')));
        }
        throw new CliError(explain(error, store.kind, store.uri, deadline.timeout, opened.lastError()));
      }
    },
  };
  let succeeded = false;
  try {
    if (useBus && redis !== undefined) await waitForBus(cache, redis, deadline, () => busError);
    const code = await body(ctx);
    succeeded = true;
    return code;
  } finally {
    const closing = (async () => {
      await cache.close().catch(() => {});
      await closeAdapter(opened.adapter);
    })();
    // After a success, closing lets the last invalidation go out, within what is left of the budget.
    // After a failure there is nothing to finish, and a frozen server would not answer a QUIT: the
    // process ends with the connections.
    if (succeeded) await deadline.race(closing, 'closing').catch(() => {});
    else void closing;
  }
}

function closeAdapter(adapter: KeyvStoreAdapter): Promise<void> {
  const disconnect = (adapter as { disconnect?: () => Promise<void> }).disconnect;
  if (typeof disconnect !== 'function') return Promise.resolve();
  return Promise.resolve(disconnect.call(adapter)).catch(() => {});
}

export async function waitForBus(
  cache: SyncedCache<unknown>,
  redis: string,
  deadline: Deadline,
  lastError: () => Error | undefined,
): Promise<void> {
  if (cache.stats().bus === 'up') return;
  let cleanup = () => {};
  const up = new Promise<void>((resolve, reject) => {
    // A refused connection is final for a one-shot command: the cache would only retry it.
    const onError = (error: Error) => {
      if (causes(error).some((e) => e.code === 'ECONNREFUSED' || e.code === 'ENOTFOUND')) reject(error);
    };
    const onUp = () => resolve();
    cache.on('bus:up', onUp);
    cache.on('error', onError);
    cleanup = () => {
      cache.off('bus:up', onUp);
      cache.off('error', onError);
    };
  });
  try {
    await deadline.race(up, 'connecting the bus');
  } catch (error) {
    throw new CliError(explain(error instanceof TimeoutError ? (lastError() ?? error) : error, 'Redis', redis, deadline.timeout));
  } finally {
    cleanup();
  }
}
