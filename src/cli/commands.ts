// get, set, del, ls, clear and stats.
import { createInterface } from 'node:readline/promises';
import { channelFor } from 'synced-cache';
import { connectRedis } from '../redis/connect.js';
import { resolveTargets, withCache } from './context.js';
import { Deadline } from './deadline.js';
import { CliError, EXIT, explain, usage } from './errors.js';
import { CannotListKeysError, listKeys } from './keys.js';
import type { GlobalOptions } from './options.js';
import { isJsonOutput, note, print, show, writeRaw } from './output.js';
import { escapeText, showKey, toJson } from './printable.js';
import { redactUrl, scrub } from './redact.js';

// ---------------------------------------------------------------------------------------------------
// Keys

/**
 * How the library's own keys begin (an encryption salt, say): the core refuses to write or delete them.
 * The core's constant (src/store/keys.ts) is not public; test/unit/cli-keys.test.ts pins the two together.
 */
export const INTERNAL_KEY_PREFIX = '__synced-cache:';

/**
 * Refuses, as a usage error and before anything connects, a key that `command` (a write or a delete)
 * may not take: one of the library's own, which the core would refuse only once connected.
 */
export function checkWritableKey(key: string, command: string): void {
  if (key.startsWith(INTERNAL_KEY_PREFIX)) {
    throw usage(`${command}: keys beginning with ${JSON.stringify(INTERNAL_KEY_PREFIX)} are the library's own; choose another key`);
  }
}

// ---------------------------------------------------------------------------------------------------
// Commands

/**
 * How `get` shows a string on a terminal: as it is, but with what a terminal would act on (escape
 * sequences, carriage returns, bidi overrides) escaped. Newlines and tabs stay, so text reads as text.
 * Piped, the value is written as it is: it is data for the next program.
 */
function forTerminal(text: string): string {
  return text
    .split('\n')
    .map((line) => line.split('\t').map(escapeText).join('\t'))
    .join('\n');
}

export async function getCommand(key: string, options: GlobalOptions): Promise<number> {
  const deadline = new Deadline(options.timeout);
  return withCache(options, deadline, false, async ({ cache, run }) => {
    return printLookup(key, await run('get', () => cache.get(key)));
  });
}

/** The answer of a lookup by key (get, stash get): the value, or "not found" with exit 1. */
export function printLookup(key: string, value: unknown): number {
  if (value === undefined) {
    if (isJsonOutput()) print('', { key, found: false });
    else note(`not found: ${toJson(key)}`);
    return EXIT.error;
  }
  printValue(value, { key, found: true, value });
  return EXIT.ok;
}

/** A value found (get, stash get/peek/pop): a string as it is (escaped for a terminal), anything else as JSON; `json` with --json. */
export function printValue(value: unknown, json: unknown): void {
  const text = show(value);
  print(typeof value === 'string' && process.stdout.isTTY === true ? forTerminal(text) : text, json);
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
  checkWritableKey(key, 'set');
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
  checkWritableKey(key, 'del');
  const deadline = new Deadline(options.timeout);
  return withCache(options, deadline, true, async ({ cache, run }) => {
    const existed = await run('del', () => cache.delete(key));
    if (isJsonOutput()) print('', { key, deleted: existed });
    else if (existed) print('deleted', undefined);
    else note(`not found: ${toJson(key)}`);
    return existed ? EXIT.ok : EXIT.error;
  });
}

/**
 * `ls`: one key per line, a key that is not plain as a JSON string (printable.ts `showKey`); with `-0`,
 * the keys as they are, each ended by a NUL (for `xargs -0`); with --json, one JSON array.
 */
export async function lsCommand(local: { null?: boolean }, options: GlobalOptions): Promise<number> {
  checkListing(local, options);
  const deadline = new Deadline(options.timeout);
  return withCache(options, deadline, false, async (ctx) => {
    printKeys((await listKeys(ctx)).sort(), local);
    return EXIT.ok;
  });
}

/** Refuses `-0` with `--json`, before anything connects. */
export function checkListing(local: { null?: boolean }, options: GlobalOptions): void {
  if (local.null === true && options.json === true) throw usage('--null and --json cannot be combined: pick one output');
}

/** Sorted keys as `ls` prints them: one per line (printable.ts `showKey`), NUL-ended with `-0`, one JSON array with --json. */
export function printKeys(keys: readonly string[], local: { null?: boolean }): void {
  if (local.null === true) {
    const bad = keys.find((key) => key.includes('\0'));
    if (bad !== undefined) throw new CliError(`the key ${toJson(bad)} contains a NUL character, which -0 cannot separate: use --json`);
    writeRaw(keys.map((key) => `${key}\0`).join(''));
  } else if (isJsonOutput()) {
    print('', keys);
  } else if (keys.length > 0) {
    print(keys.map(showKey).join('\n'), undefined);
  }
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
    const ok = await confirm(escapeText(`Delete every key of namespace ${toJson(options.namespace)} in ${redactUrl(store.uri)}? [y/N] `));
    if (!ok) {
      if (isJsonOutput()) print('', { namespace: options.namespace, cleared: false });
      else note('not cleared');
      return EXIT.error;
    }
  }
  // The budget starts after the answer: a person's time to answer is not a server's to reply.
  const deadline = new Deadline(options.timeout);
  return withCache(options, deadline, true, async ({ cache, run }) => {
    await run('clear', () => cache.clear());
    print(`cleared namespace ${toJson(options.namespace)}`, { namespace: options.namespace, cleared: true });
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
    print(lines.map(escapeText).join('\n'), result);
    return EXIT.ok;
  });
}
