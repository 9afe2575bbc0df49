// get, set, del, ls, clear and stats.
import { createInterface } from 'node:readline/promises';
import { channelFor } from 'synced-cache';
import { connectRedis } from '../redis/connect.js';
import { resolveTargets, withCache } from './context.js';
import { Deadline } from './deadline.js';
import { CliError, EXIT, explain, usage } from './errors.js';
import { CannotListKeysError, listKeys } from './keys.js';
import type { GlobalOptions } from './options.js';
import { isJsonOutput, note, print, show } from './output.js';
import { redactUrl, scrub } from './redact.js';

// ---------------------------------------------------------------------------------------------------
// Commands

export async function getCommand(key: string, options: GlobalOptions): Promise<number> {
  const deadline = new Deadline(options.timeout);
  return withCache(options, deadline, false, async ({ cache, run }) => {
    const value = await run('get', () => cache.get(key));
    if (value === undefined) {
      if (isJsonOutput()) print('', { key, found: false });
      else note(`not found: ${JSON.stringify(key)}`);
      return EXIT.error;
    }
    print(show(value), { key, found: true, value });
    return EXIT.ok;
  });
}

export type ValueType = 'auto' | 'json' | 'string';

export function parseValue(raw: string, type: ValueType): unknown {
  if (type === 'string') return raw;
  try {
    return JSON.parse(raw) as unknown;
  } catch (error) {
    if (type === 'json') {
      throw usage(`the value is not valid JSON (${scrub((error as Error).message)}); use --type string to store it as text`);
    }
    return raw;
  }
}

export async function setCommand(
  key: string,
  raw: string,
  local: { ttl?: number; type: ValueType },
  options: GlobalOptions,
): Promise<number> {
  const value = parseValue(raw, local.type);
  if (value === null) throw usage('null cannot be stored; use "del" to remove a key');
  const deadline = new Deadline(options.timeout);
  return withCache(options, deadline, true, async ({ cache, run }) => {
    await run('set', () => cache.set(key, value, local.ttl === undefined ? undefined : { ttl: local.ttl }));
    print(`OK`, { key, ok: true, ...(local.ttl === undefined ? {} : { ttl: local.ttl }) });
    return EXIT.ok;
  });
}

export async function delCommand(key: string, options: GlobalOptions): Promise<number> {
  const deadline = new Deadline(options.timeout);
  return withCache(options, deadline, true, async ({ cache, run }) => {
    const existed = await run('del', () => cache.delete(key));
    if (isJsonOutput()) print('', { key, deleted: existed });
    else if (existed) print('deleted', undefined);
    else note(`not found: ${JSON.stringify(key)}`);
    return existed ? EXIT.ok : EXIT.error;
  });
}

export async function lsCommand(options: GlobalOptions): Promise<number> {
  const deadline = new Deadline(options.timeout);
  return withCache(options, deadline, false, async (ctx) => {
    const keys = (await listKeys(ctx)).sort();
    if (isJsonOutput()) print('', keys);
    else if (keys.length > 0) process.stdout.write(`${keys.join('\n')}\n`);
    return EXIT.ok;
  });
}

export async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(question);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}

export async function clearCommand(local: { yes?: boolean }, options: GlobalOptions): Promise<number> {
  const { store } = resolveTargets(options);
  if (local.yes !== true) {
    if (process.stdin.isTTY !== true) {
      throw usage('refusing to clear without confirmation: stdin is not a terminal, pass --yes');
    }
    const ok = await confirm(`Delete every key of namespace ${JSON.stringify(options.namespace)} in ${redactUrl(store.uri)}? [y/N] `);
    if (!ok) {
      note('not cleared');
      return EXIT.error;
    }
  }
  // The budget starts after the answer: a person's time to answer is not a server's to reply.
  const deadline = new Deadline(options.timeout);
  return withCache(options, deadline, true, async ({ cache, run }) => {
    await run('clear', () => cache.clear());
    print(`cleared namespace ${JSON.stringify(options.namespace)}`, { namespace: options.namespace, cleared: true });
    return EXIT.ok;
  });
}

export async function statsCommand(options: GlobalOptions): Promise<number> {
  const deadline = new Deadline(options.timeout);
  const { redis } = resolveTargets(options);
  const channel = channelFor(options.namespace);
  let subscribers: number | undefined;
  if (redis !== undefined) {
    try {
      const connection = await connectRedis(redis, { timeout: deadline.remaining(), name: 'synced-cache:cli' });
      try {
        subscribers = await deadline.race(connection.subscriberCount(channel), 'PUBSUB NUMSUB');
      } finally {
        connection.disconnect();
      }
    } catch (error) {
      throw new CliError(explain(error, 'Redis', redis, options.timeout));
    }
  }
  return withCache(options, deadline, false, async (ctx) => {
    let keys: number | null = null;
    try {
      keys = (await listKeys(ctx)).length;
    } catch (error) {
      if (!(error instanceof CannotListKeysError)) throw error;
    }
    const result = {
      namespace: options.namespace,
      channel,
      store: { kind: ctx.store.kind, uri: redactUrl(ctx.store.uri), keys },
      bus: redis === undefined ? null : { url: redactUrl(redis), subscribers: subscribers ?? 0 },
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
