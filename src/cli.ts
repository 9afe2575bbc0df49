// The `synced-cache` command: inspect and change a namespace from a shell, and watch its invalidations.
// It uses the library only through its public entry, like any application would.
import { createInterface } from 'node:readline/promises';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { Redis } from 'ioredis';
import type { KeyvStoreAdapter } from 'keyv';
import { channelFor, decodeMessage, MessageType, SyncedCache } from 'synced-cache';

/** Exit codes: 0 ok, 1 not found or runtime error, 2 usage. */
const EXIT = { ok: 0, error: 1, usage: 2 } as const;

/** An error that ends the command with a one-line message and a given exit code. */
class CliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode: number = EXIT.error) {
    super(message);
    this.exitCode = exitCode;
  }
}

const usage = (message: string) => new CliError(message, EXIT.usage);

interface GlobalOptions {
  redis?: string;
  store?: string;
  namespace: string;
  json?: boolean;
  timeout: number;
}

// ---------------------------------------------------------------------------------------------------
// Argument parsing helpers

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

function parseDuration(value: string): number {
  const match = DURATION.exec(value.trim());
  const ms = match === null ? Number.NaN : Math.round(Number(match[1]) * (UNIT_MS[match[2] ?? 'ms'] ?? 1));
  if (!Number.isSafeInteger(ms)) {
    throw new InvalidArgumentError(`expected milliseconds, or a number with a unit (ms, s, m, h, d), e.g. 5000 or 30s`);
  }
  return ms;
}

function parsePositiveDuration(value: string): number {
  const ms = parseDuration(value);
  if (ms <= 0) throw new InvalidArgumentError('must be more than 0');
  return ms;
}

function parseNamespace(value: string): string {
  if (value.length === 0) throw new InvalidArgumentError('must not be empty');
  return value;
}

/** A URL with its password hidden, for messages. */
function redact(raw: string): string {
  try {
    const url = new URL(raw);
    if (url.password !== '') url.password = '***';
    return url.toString().replace(/\/$/, '');
  } catch {
    return raw;
  }
}

function parseUrl(raw: string, option: string, schemes: readonly string[]): URL {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(raw)?.[1]?.toLowerCase();
  if (scheme === undefined || !schemes.includes(scheme)) {
    throw usage(
      `invalid ${option} ${JSON.stringify(redact(raw))}: expected a URL starting with ${schemes.map((s) => `${s}://`).join(', ')}`,
    );
  }
  try {
    return new URL(raw);
  } catch {
    throw usage(`invalid ${option} ${JSON.stringify(redact(raw))}: not a valid URL`);
  }
}

// ---------------------------------------------------------------------------------------------------
// Stores: each Keyv adapter is imported only when its scheme is used, so none is required.

type StoreKind = 'Redis' | 'PostgreSQL' | 'SQLite';

interface StoreSpec {
  kind: StoreKind;
  uri: string;
  /** The npm package of the Keyv adapter. */
  pkg: string;
}

function storeSpec(uri: string): StoreSpec {
  const url = parseUrl(uri, '--store', ['redis', 'rediss', 'postgres', 'postgresql', 'sqlite']);
  const scheme = url.protocol.slice(0, -1).toLowerCase();
  if (scheme === 'redis' || scheme === 'rediss') return { kind: 'Redis', uri, pkg: '@keyv/redis' };
  if (scheme === 'sqlite') return { kind: 'SQLite', uri, pkg: '@keyv/sqlite' };
  return { kind: 'PostgreSQL', uri, pkg: '@keyv/postgres' };
}

/** A Keyv store adapter as constructed from its package's default export. */
type AdapterClass = new (...args: unknown[]) => KeyvStoreAdapter;

async function importAdapter(spec: StoreSpec): Promise<AdapterClass> {
  let mod: { default?: unknown };
  try {
    // A variable specifier keeps bundlers and the type checker from requiring the optional packages.
    const name: string = spec.pkg;
    mod = (await import(name)) as { default?: unknown };
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    if ((e.code === 'ERR_MODULE_NOT_FOUND' || e.code === 'MODULE_NOT_FOUND') && e.message.includes(`'${spec.pkg}'`)) {
      throw new CliError(
        `a ${spec.kind} store (${spec.uri.split(':')[0]}://) needs the ${spec.pkg} package, which is not installed: npm install ${spec.pkg}`,
      );
    }
    throw error;
  }
  const ctor = mod.default;
  if (typeof ctor !== 'function') throw new CliError(`${spec.pkg} does not export a Keyv store adapter class`);
  return ctor as AdapterClass;
}

interface OpenedStore {
  adapter: KeyvStoreAdapter;
  /** The last error the adapter reported as an event: often the real reason behind a generic failure. */
  lastError(): Error | undefined;
}

async function openStore(spec: StoreSpec, timeout: number): Promise<OpenedStore> {
  const Adapter = await importAdapter(spec);
  let adapter: KeyvStoreAdapter;
  if (spec.kind === 'Redis') {
    // No reconnecting: a one-shot command should fail at once on a refused connection, not retry.
    adapter = new Adapter({ url: spec.uri, socket: { reconnectStrategy: false, connectTimeout: timeout } }, { throwOnConnectError: true });
  } else if (spec.kind === 'PostgreSQL') {
    adapter = new Adapter({ uri: spec.uri, connectionTimeoutMillis: timeout, max: 2 });
  } else {
    adapter = new Adapter(spec.uri);
  }
  let last: Error | undefined;
  // Adapters report connection failures as 'error' events; unheard, an EventEmitter would throw them.
  (adapter as unknown as { on?: (event: string, fn: (e: Error) => void) => void }).on?.('error', (error) => {
    last = error;
  });
  return { adapter, lastError: () => last };
}

// ---------------------------------------------------------------------------------------------------
// Errors as one line

function causes(error: unknown): Record<string, unknown>[] {
  const chain: Record<string, unknown>[] = [];
  let current: unknown = error;
  for (let i = 0; i < 8 && typeof current === 'object' && current !== null; i++) {
    chain.push(current as Record<string, unknown>);
    const agg = (current as { errors?: unknown }).errors;
    if (Array.isArray(agg) && agg.length > 0) chain.push(...causes(agg[0]));
    current = (current as { cause?: unknown }).cause;
  }
  return chain;
}

function firstLine(text: string): string {
  return text.split('\n')[0] ?? text;
}

/** Turns a failure reaching `kind` at `target` into a one-line message a person can act on. */
function explain(error: unknown, kind: string, target: string, timeout: number, extra?: Error): string {
  const chain = [...causes(error), ...causes(extra)];
  const codes = chain.map((e) => e.code).filter((c): c is string => typeof c === 'string');
  const messages = chain.map((e) => (typeof e.message === 'string' ? e.message : '')).join(' | ');
  const where = redact(target);
  if (codes.includes('ECONNREFUSED')) return `cannot reach ${kind} at ${where} (connection refused)`;
  if (codes.includes('ENOTFOUND') || codes.includes('EAI_AGAIN')) return `cannot reach ${kind} at ${where} (unknown host)`;
  if (codes.includes('ETIMEDOUT') || codes.includes('ETIMEOUT') || error instanceof TimeoutError) {
    return `cannot reach ${kind} at ${where} (no answer within ${timeout} ms)`;
  }
  if (codes.includes('28P01') || codes.includes('28000') || /WRONGPASS|NOAUTH|invalid password|authentication failed/i.test(messages)) {
    return `${kind} at ${where} refused the credentials`;
  }
  if (codes.includes('3D000')) return `${kind} at ${where}: ${firstLine(String(chain.find((e) => e.code === '3D000')?.message))}`;
  const message = error instanceof Error ? error.message : String(error);
  return `${kind} at ${where}: ${firstLine(message)}`;
}

class TimeoutError extends Error {}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new TimeoutError(`${what} timed out after ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------------------------------------------
// Output

let jsonOutput = false;

function print(text: string, json: unknown): void {
  process.stdout.write(`${jsonOutput ? JSON.stringify(json) : text}\n`);
}

function note(text: string): void {
  process.stderr.write(`synced-cache: ${text}\n`);
}

function show(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

// ---------------------------------------------------------------------------------------------------
// The cache a command works on

interface Context {
  cache: SyncedCache<unknown>;
  store: StoreSpec;
  /** The Redis bus URL, when there is one. */
  redis: string | undefined;
  options: GlobalOptions;
  /** Runs a store operation with the timeout, turning a failure into a one-line message. */
  run<T>(what: string, operation: () => Promise<T>): Promise<T>;
}

function resolveTargets(options: GlobalOptions): { store: StoreSpec; redis: string | undefined } {
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
async function withCache(options: GlobalOptions, bus: boolean, body: (ctx: Context) => Promise<number>): Promise<number> {
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

async function closeAdapter(adapter: KeyvStoreAdapter, timeout: number): Promise<void> {
  const disconnect = (adapter as { disconnect?: () => Promise<void> }).disconnect;
  if (typeof disconnect !== 'function') return;
  await withTimeout(Promise.resolve(disconnect.call(adapter)), timeout, 'closing the store').catch(() => {});
}

function waitForBus(cache: SyncedCache<unknown>, redis: string, timeout: number, lastError: () => Error | undefined): Promise<void> {
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

// ---------------------------------------------------------------------------------------------------
// Commands

async function getCommand(key: string, options: GlobalOptions): Promise<number> {
  return withCache(options, false, async ({ cache, run }) => {
    const value = await run('get', () => cache.get(key));
    if (value === undefined) {
      if (jsonOutput) print('', { key, found: false });
      else note(`not found: ${JSON.stringify(key)}`);
      return EXIT.error;
    }
    print(show(value), { key, found: true, value });
    return EXIT.ok;
  });
}

type ValueType = 'auto' | 'json' | 'string';

function parseValue(raw: string, type: ValueType): unknown {
  if (type === 'string') return raw;
  try {
    return JSON.parse(raw) as unknown;
  } catch (error) {
    if (type === 'json') throw usage(`the value is not valid JSON (${(error as Error).message}); use --type string to store it as text`);
    return raw;
  }
}

async function setCommand(key: string, raw: string, local: { ttl?: number; type: ValueType }, options: GlobalOptions): Promise<number> {
  const value = parseValue(raw, local.type);
  if (value === null) throw usage('null cannot be stored; use "del" to remove a key');
  return withCache(options, true, async ({ cache, run }) => {
    await run('set', () => cache.set(key, value, local.ttl === undefined ? undefined : { ttl: local.ttl }));
    print(`OK`, { key, ok: true, ...(local.ttl === undefined ? {} : { ttl: local.ttl }) });
    return EXIT.ok;
  });
}

async function delCommand(key: string, options: GlobalOptions): Promise<number> {
  return withCache(options, true, async ({ cache, run }) => {
    const existed = await run('del', () => cache.delete(key));
    if (jsonOutput) print('', { key, deleted: existed });
    else if (existed) print('deleted', undefined);
    else note(`not found: ${JSON.stringify(key)}`);
    return existed ? EXIT.ok : EXIT.error;
  });
}

function iteratorOf(cache: SyncedCache<unknown>, store: StoreSpec): () => AsyncIterable<[string, unknown]> {
  const keyv = cache.keyv as unknown as { iterator?: () => AsyncIterable<[string, unknown]> };
  if (typeof keyv.iterator !== 'function') {
    throw new CliError(`the ${store.kind} store cannot list its keys (its Keyv adapter has no iterator)`);
  }
  return keyv.iterator.bind(keyv);
}

async function listKeys(ctx: Context): Promise<string[]> {
  const iterate = iteratorOf(ctx.cache, ctx.store);
  return ctx.run('ls', async () => {
    const keys: string[] = [];
    for await (const [key] of iterate()) keys.push(key);
    return keys.sort();
  });
}

async function lsCommand(options: GlobalOptions): Promise<number> {
  return withCache(options, false, async (ctx) => {
    const keys = await listKeys(ctx);
    if (jsonOutput) print('', keys);
    else if (keys.length > 0) process.stdout.write(`${keys.join('\n')}\n`);
    return EXIT.ok;
  });
}

async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(question);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}

async function clearCommand(local: { yes?: boolean }, options: GlobalOptions): Promise<number> {
  const { store } = resolveTargets(options);
  if (local.yes !== true) {
    if (process.stdin.isTTY !== true) {
      throw usage('refusing to clear without confirmation: stdin is not a terminal, pass --yes');
    }
    const ok = await confirm(`Delete every key of namespace ${JSON.stringify(options.namespace)} in ${redact(store.uri)}? [y/N] `);
    if (!ok) {
      note('not cleared');
      return EXIT.error;
    }
  }
  return withCache(options, true, async ({ cache, run }) => {
    await run('clear', () => cache.clear());
    print(`cleared namespace ${JSON.stringify(options.namespace)}`, { namespace: options.namespace, cleared: true });
    return EXIT.ok;
  });
}

/** Connects an ioredis client for a one-shot query or a subscription; fails fast on the first attempt. */
async function connectRedis(url: string, timeout: number, name: string): Promise<Redis> {
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

async function statsCommand(options: GlobalOptions): Promise<number> {
  const { redis } = resolveTargets(options);
  const channel = channelFor(options.namespace);
  let subscribers: number | undefined;
  if (redis !== undefined) {
    const client = await connectRedis(redis, options.timeout, 'synced-cache:cli');
    try {
      const reply = (await withTimeout(client.pubsub('NUMSUB', channel), options.timeout, 'PUBSUB NUMSUB')) as [string, number];
      subscribers = Number(reply[1]);
    } catch (error) {
      throw new CliError(explain(error, 'Redis', redis, options.timeout));
    } finally {
      client.disconnect();
    }
  }
  return withCache(options, false, async (ctx) => {
    let keys: number | null = null;
    try {
      iteratorOf(ctx.cache, ctx.store);
      keys = (await listKeys(ctx)).length;
    } catch (error) {
      if (!(error instanceof CliError) || !/cannot list/.test(error.message)) throw error;
    }
    const result = {
      namespace: options.namespace,
      channel,
      store: { kind: ctx.store.kind, uri: redact(ctx.store.uri), keys },
      bus: redis === undefined ? null : { url: redact(redis), subscribers: subscribers ?? 0 },
    };
    const lines = [
      `namespace    ${result.namespace}`,
      `store        ${result.store.uri} (${ctx.store.kind})`,
      `keys         ${keys === null ? 'unknown (the store cannot list keys)' : keys}`,
      `channel      ${channel}`,
      `subscribers  ${result.bus === null ? 'no --redis given' : `${result.bus.subscribers} (caches listening on ${result.bus.url})`}`,
    ];
    print(lines.join('\n'), result);
    return EXIT.ok;
  });
}

async function watchCommand(local: { heartbeats?: boolean }, options: GlobalOptions): Promise<number> {
  const { redis } = resolveTargets(options);
  if (redis === undefined) throw usage('watch needs the bus: pass --redis <url> (or a redis:// --store)');
  const channel = channelFor(options.namespace);
  const client = await connectRedis(redis, options.timeout, 'synced-cache:watch');
  client.on('message', (ch: string, payload: string) => {
    if (ch !== channel) return;
    const now = Date.now();
    const time = new Date(now).toISOString();
    // No size limit here: an operator watching wants to see even a message the caches would refuse.
    const message = decodeMessage(options.namespace, payload, Number.MAX_SAFE_INTEGER);
    if (typeof message === 'string') {
      note(`${time} ignored a message: ${message}`);
      return;
    }
    if (message.type === MessageType.Heartbeat && local.heartbeats !== true) return;
    const type = message.type === MessageType.Invalidate ? 'invalidate' : 'heartbeat';
    const sentAt = message.sentAt > 0 ? message.sentAt : undefined;
    const lag = sentAt === undefined ? undefined : Math.max(0, now - sentAt);
    const keys = message.type === MessageType.Invalidate ? message.keys : undefined;
    const shown = keys === undefined ? '' : ` keys=${keys === '*' ? '*' : JSON.stringify(keys)}`;
    print(`${time} ${type} origin=${message.origin} seq=${message.seq}${lag === undefined ? '' : ` lag=${lag}ms`}${shown}`, {
      time,
      type,
      origin: message.origin,
      seq: message.seq,
      sentAt: sentAt === undefined ? null : new Date(sentAt).toISOString(),
      lagMs: lag ?? null,
      ...(keys === undefined ? {} : { keys }),
    });
  });
  let subscribedOnce = false;
  client.on('close', () => {
    if (subscribedOnce) note(`${new Date().toISOString()} connection to Redis lost, reconnecting (messages sent meanwhile are missed)`);
  });
  client.on('ready', () => {
    if (subscribedOnce) note(`${new Date().toISOString()} reconnected to Redis`);
  });
  try {
    await withTimeout(client.subscribe(channel), options.timeout, 'SUBSCRIBE');
  } catch (error) {
    client.disconnect();
    throw new CliError(explain(error, 'Redis', redis, options.timeout));
  }
  subscribedOnce = true;
  note(`watching ${channel} on ${redact(redis)} (Ctrl-C to stop)`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  client.disconnect();
  return EXIT.ok;
}

// ---------------------------------------------------------------------------------------------------
// The program

function oneLine(text: string): string {
  return text
    .trim()
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .join(' ');
}

function buildProgram(setExit: (code: number) => void): Command {
  const program = new Command('synced-cache');
  program
    .description('Inspect and change a synced-cache namespace, and watch its invalidations live.')
    .exitOverride()
    .configureOutput({
      // Commander's errors can span lines (a suggestion after an unknown command); keep them to one.
      outputError: (text, write) => write(`synced-cache: ${oneLine(text)} (see --help)\n`),
    })
    .addOption(new Option('--redis <url>', 'Redis of the invalidation bus (redis://, rediss://, unix://)').env('SYNCED_CACHE_REDIS'))
    .addOption(
      new Option('--store <uri>', 'the shared store: redis://, postgres://, postgresql:// or sqlite:// (default: the --redis URL)').env(
        'SYNCED_CACHE_STORE',
      ),
    )
    .addOption(
      new Option('-n, --namespace <name>', 'the cache namespace')
        .env('SYNCED_CACHE_NAMESPACE')
        .default('default')
        .argParser(parseNamespace),
    )
    .option('--json', 'machine-readable output (one JSON value per line)')
    .addOption(
      new Option('--timeout <ms>', 'how long to wait for a connection or an answer').default(5_000).argParser(parsePositiveDuration),
    )
    .showSuggestionAfterError(true)
    .addHelpText(
      'after',
      `
Exit codes: 0 ok, 1 not found or error, 2 usage.
Examples:
  synced-cache --redis redis://localhost:6379 set user:1 '{"name":"Ada"}' --ttl 10m
  synced-cache --redis redis://localhost:6379 --store postgres://localhost/app get user:1
  synced-cache --redis redis://localhost:6379 watch`,
    );

  const globals = (command: Command): GlobalOptions => {
    const options = command.optsWithGlobals<GlobalOptions>();
    jsonOutput = options.json === true;
    return options;
  };

  program
    .command('get')
    .description('print the value of a key (strings as they are, anything else as JSON); exit 1 when not found')
    .argument('<key>', 'the key')
    .action(async (key: string, _local: unknown, command: Command) => setExit(await getCommand(key, globals(command))));

  program
    .command('set')
    .description('store a value (parsed as JSON, else kept as a string) and tell every process to drop its copy')
    .argument('<key>', 'the key')
    .argument('<value>', 'the value: JSON, or any text')
    .addOption(
      new Option('--ttl <duration>', 'time to live: milliseconds, or a number with a unit (30s, 10m, 1h, 2d)').argParser(parseDuration),
    )
    .addOption(new Option('--type <type>', 'how to read the value').choices(['auto', 'json', 'string']).default('auto'))
    .action(async (key: string, value: string, local: { ttl?: number; type: ValueType }, command: Command) =>
      setExit(await setCommand(key, value, local, globals(command))),
    );

  program
    .command('del')
    .alias('delete')
    .description('delete a key everywhere; exit 1 when it did not exist')
    .argument('<key>', 'the key')
    .action(async (key: string, _local: unknown, command: Command) => setExit(await delCommand(key, globals(command))));

  program
    .command('ls')
    .description("list the keys of the namespace (through the store's iterator)")
    .action(async (_local: unknown, command: Command) => setExit(await lsCommand(globals(command))));

  program
    .command('clear')
    .description('delete every key of the namespace; asks first unless --yes')
    .option('-y, --yes', 'do not ask for confirmation (required when stdin is not a terminal)')
    .action(async (local: { yes?: boolean }, command: Command) => setExit(await clearCommand(local, globals(command))));

  program
    .command('stats')
    .description('show the namespace: store, number of keys, and how many caches listen on its channel')
    .action(async (_local: unknown, command: Command) => setExit(await statsCommand(globals(command))));

  program
    .command('watch')
    .description('print each invalidation of the namespace as it happens (time, origin, keys) until interrupted')
    .option('--heartbeats', 'also print the heartbeats every cache sends')
    .action(async (local: { heartbeats?: boolean }, command: Command) => setExit(await watchCommand(local, globals(command))));

  return program;
}

/** Waits until everything written to `stream` has been handed to the OS, so exiting loses nothing. */
function drain(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => stream.write('', () => resolve()));
}

async function main(argv: string[]): Promise<number> {
  let code: number = EXIT.ok;
  const program = buildProgram((c) => {
    code = c;
  });
  try {
    if (argv.length <= 2) {
      program.outputHelp({ error: true });
      return EXIT.usage;
    }
    await program.parseAsync(argv);
    return code;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    if (error instanceof CliError) {
      note(error.message);
      return error.exitCode;
    }
    note(`error: ${firstLine(error instanceof Error ? error.message : String(error))}`);
    return EXIT.error;
  }
}

// `synced-cache ls | head` closes our stdout early: that is the reader's choice, not an error.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(EXIT.ok);
  throw error;
});

const exitCode = await main(process.argv);
await Promise.all([drain(process.stdout), drain(process.stderr)]);
// Everything opened has been closed; exiting explicitly guards against a stray handle in a dependency
// (a driver's pool or timer) keeping a finished command alive.
process.exit(exitCode);
