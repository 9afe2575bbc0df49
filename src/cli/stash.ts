// `synced-cache stash set|get|push|peek|pop|ls|del`: the stash of synced-cache/stash from a shell, over
// the same connection options as every other command.
import { type Command, Option } from 'commander';
import { KeyExistsError } from 'synced-cache';
import { Stash } from 'synced-cache/stash';
import { checkListing, checkWritableKey, parseValue, printKeys, printLookup, printValue, type ValueType } from './commands.js';
import { type Context, withCache } from './context.js';
import { Deadline } from './deadline.js';
import { EXIT, usage } from './errors.js';
import { type GlobalOptions, parseDuration } from './options.js';
import { isJsonOutput, note, print } from './output.js';
import { toJson } from './printable.js';

interface WriteOptions {
  ttl?: number;
  type: ValueType;
}

/** The bytes piped on stdin, as UTF-8. */
async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * The value of a write: the argument when given, else what is piped on stdin with one final newline
 * dropped (so that `stash get a | stash set b` copies a string exactly: `get` adds that newline).
 */
async function readValue(raw: string | undefined, type: ValueType): Promise<unknown> {
  let text = raw;
  if (text === undefined) {
    if (process.stdin.isTTY === true) throw usage('no value given: pass it as an argument, or pipe it on stdin');
    const piped = await readStdin();
    if (piped === '') throw usage('no value given: the argument is missing and stdin is empty');
    text = piped.replace(/\r?\n$/, '');
  }
  const value = parseValue(text, type);
  if (value === null) throw usage('null cannot be stored; use "stash del" to remove a key');
  return value;
}

function checkKeyArgument(key: string): void {
  if (key === '') throw usage('the key must not be empty');
}

/**
 * Runs `body` with a stash over the command's connection, within its time budget. Only the stash's own
 * failures of use (a key that exists, nothing to pop) are results; anything else fails as every command does.
 */
function withStash(options: GlobalOptions, bus: boolean, body: (stash: Stash<unknown>, ctx: Context) => Promise<number>): Promise<number> {
  let stash: Stash<unknown> | undefined;
  return withCache(
    options,
    new Deadline(options.timeout),
    bus,
    (ctx) => body(stash as Stash<unknown>, ctx),
    (cacheOptions) => {
      stash = new Stash<unknown>(cacheOptions);
      return stash.cache;
    },
  );
}

async function setCommand(key: string, raw: string | undefined, local: WriteOptions & { force?: boolean }, options: GlobalOptions) {
  checkKeyArgument(key);
  checkWritableKey(key, 'stash set');
  const value = await readValue(raw, local.type);
  const force = local.force === true;
  return withStash(options, true, async (stash, { run }) => {
    const ttl = local.ttl === undefined ? {} : { ttl: local.ttl };
    const wrote = await run('stash set', () =>
      stash.set(key, value, { ...ttl, force }).then(
        () => true,
        (error: unknown) => {
          if (error instanceof KeyExistsError) return false;
          throw error;
        },
      ),
    );
    if (!wrote) {
      if (isJsonOutput()) print('', { key, ok: false, exists: true });
      else note(`exists: ${toJson(key)} (pass --force to overwrite it)`);
      return EXIT.error;
    }
    print('OK', { key, ok: true, ...ttl });
    return EXIT.ok;
  });
}

async function getCommand(key: string, options: GlobalOptions) {
  checkKeyArgument(key);
  return withStash(options, false, async (stash, { run }) => {
    return printLookup(key, await run('stash get', () => stash.get(key)));
  });
}

async function pushCommand(raw: string | undefined, local: WriteOptions, options: GlobalOptions) {
  const value = await readValue(raw, local.type);
  return withStash(options, true, async (stash, { run }) => {
    const ttl = local.ttl === undefined ? {} : { ttl: local.ttl };
    const id = await run('stash push', () => stash.push(value, ttl));
    print(id, { id, ...ttl });
    return EXIT.ok;
  });
}

/** `peek` and `pop`: the newest pushed value, or exit 1 when there is none. */
async function topCommand(take: boolean, options: GlobalOptions) {
  return withStash(options, take, async (stash, { run }) => {
    // The id of what this pop took, from the stash's own event.
    let id: string | undefined;
    if (take) {
      stash.cache.on('pop', (event) => {
        id = event.key;
      });
    }
    const value = await run(take ? 'stash pop' : 'stash peek', () => (take ? stash.pop() : stash.peek()));
    if (value === undefined) {
      if (isJsonOutput()) print('', { found: false });
      else note('the stash is empty: nothing was pushed, or everything pushed was popped or expired');
      return EXIT.error;
    }
    printValue(value, take ? { found: true, id, value } : { found: true, value });
    return EXIT.ok;
  });
}

async function lsCommand(pattern: string | undefined, local: { null?: boolean }, options: GlobalOptions) {
  checkListing(local, options);
  return withStash(options, false, async (stash, { run }) => {
    printKeys(await run('listing the keys', () => stash.ls(pattern)), local);
    return EXIT.ok;
  });
}

async function delCommand(key: string, options: GlobalOptions) {
  checkKeyArgument(key);
  checkWritableKey(key, 'stash del');
  return withStash(options, true, async (stash, { run }) => {
    const existed = await run('stash del', () => stash.delete(key));
    if (isJsonOutput()) print('', { key, deleted: existed });
    else if (existed) print('deleted', undefined);
    else note(`not found: ${toJson(key)}`);
    return existed ? EXIT.ok : EXIT.error;
  });
}

function ttlOption(): Option {
  return new Option('--ttl <duration>', 'time to live: milliseconds, or a number with a unit (30s, 10m, 1h, 2d)').argParser(parseDuration);
}

function typeOption(): Option {
  return new Option('--type <type>', 'how to read the value').choices(['auto', 'json', 'string']).default('auto');
}

/** Adds `stash` and its subcommands to the program. */
export function addStashCommands(program: Command, globals: (command: Command) => GlobalOptions, setExit: (code: number) => void): void {
  const stash = program
    .command('stash')
    .description('hand values from one session to another: named values that are never overwritten by accident, and a shared stack')
    .addHelpText(
      'after',
      `
Values are JSON when they parse (else text, or as --type says), given as the argument or piped on stdin
(one final newline dropped). Exit codes: 0 ok, 1 not found / exists / empty, 2 usage.
Examples:
  synced-cache --redis redis://localhost:6379 stash set user_emails '["ada@example.com"]'
  synced-cache --redis redis://localhost:6379 stash set user_emails '[]' --force
  echo '{"batch":7}' | synced-cache --redis redis://localhost:6379 stash push --ttl 1d
  synced-cache --redis redis://localhost:6379 stash pop`,
    );

  stash
    .command('set')
    .description('store a value under a name; exit 1, writing nothing, when the name is taken (unless --force)')
    .argument('<key>', 'the name')
    .argument('[value]', 'the value: JSON, or any text (default: stdin)')
    .addOption(ttlOption())
    .addOption(typeOption())
    .option('-f, --force', 'overwrite the key if it exists')
    .action(async (key: string, value: string | undefined, local: WriteOptions & { force?: boolean }, command: Command) =>
      setExit(await setCommand(key, value, local, globals(command))),
    );

  stash
    .command('get')
    .description('print the value of a name or a push id; exit 1 when not found')
    .argument('<key>', 'the name, or an id printed by push')
    .action(async (key: string, _local: unknown, command: Command) => setExit(await getCommand(key, globals(command))));

  stash
    .command('push')
    .description('push a value on the shared stack and print its id (under which get reads it too)')
    .argument('[value]', 'the value: JSON, or any text (default: stdin)')
    .addOption(ttlOption())
    .addOption(typeOption())
    .action(async (value: string | undefined, local: WriteOptions, command: Command) =>
      setExit(await pushCommand(value, local, globals(command))),
    );

  stash
    .command('peek')
    .description('print the value pushed last (and still there) without taking it; exit 1 when there is none')
    .action(async (_local: unknown, command: Command) => setExit(await topCommand(false, globals(command))));

  stash
    .command('pop')
    .description('take the value pushed last and print it; never the same one twice, across processes; exit 1 when there is none')
    .action(async (_local: unknown, command: Command) => setExit(await topCommand(true, globals(command))));

  stash
    .command('ls')
    .description(
      'list the keys, names and push ids alike, sorted; with a pattern (quote it), only those it matches: * any run, ? one character',
    )
    .argument('[pattern]', 'a glob: * matches any run of characters, ? one character, \\ makes the next one literal')
    .option('-0, --null', 'print the keys as they are, each followed by a NUL character (for xargs -0)')
    .action(async (pattern: string | undefined, local: { null?: boolean }, command: Command) =>
      setExit(await lsCommand(pattern, local, globals(command))),
    );

  stash
    .command('del')
    .alias('delete')
    .description('delete a name or a push id everywhere; exit 1 when it did not exist')
    .argument('<key>', 'the name, or an id printed by push')
    .action(async (key: string, _local: unknown, command: Command) => setExit(await delCommand(key, globals(command))));
}
