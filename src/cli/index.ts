// The `synced-cache` command: inspect and change a namespace from a shell, and watch its invalidations.
// It uses the library only through its public entry, like any application would.
import { Command, CommanderError, Option } from 'commander';
import { clearCommand, delCommand, getCommand, lsCommand, setCommand, statsCommand, type ValueType } from './commands.js';
import { CliError, EXIT, foreignLine } from './errors.js';
import { type GlobalOptions, parseDuration, parseNamespace, parsePositiveDuration } from './options.js';
import { note, setJsonOutput } from './output.js';
import { escapeText } from './printable.js';
import { maskOptionValues, rememberArgumentSecrets, rememberSecrets, scrub } from './redact.js';
import { addStashCommands } from './stash.js';
import { type WatchOptions, watchCommand } from './watch.js';

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

function buildProgram(setExit: (code: number) => void, argv: readonly string[]): Command {
  const program = new Command('synced-cache');
  program
    .description('Inspect and change a synced-cache namespace, and watch its invalidations live.')
    .exitOverride()
    .configureOutput({
      // Commander's errors can span lines (a suggestion after an unknown command); keep them to one.
      // They quote what was typed (an unknown command may be a mistyped URL, an unknown option a mistyped
      // --secret=...), so they are scrubbed too, and the value of an unknown option is never shown.
      outputError: (text, write) => write(`synced-cache: ${escapeText(scrub(maskOptionValues(oneLine(text), argv)))} (see --help)\n`),
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
      new Option(
        '--secret <secret>',
        "the caches' secret: signs what set, del, clear and the stash announce, and lets watch read signed channels (prefer the environment: arguments are visible to ps)",
      ).env('SYNCED_CACHE_SECRET'),
    )
    .addOption(
      new Option(
        '--encryption-key <key>',
        "the caches' encryption key (64 hex characters) or passphrase, to read and write encrypted values (prefer the environment)",
      ).env('SYNCED_CACHE_ENCRYPTION_KEY'),
    )
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
    // An empty SYNCED_CACHE_SECRET (`SYNCED_CACHE_SECRET=` in an env file) is as if unset; `--secret ''`
    // stays a usage error. An empty SYNCED_CACHE_ENCRYPTION_KEY stays one too: without the key, a write
    // would put plaintext among the caches' ciphertext.
    if (options.secret === '' && command.getOptionValueSourceWithGlobals('secret') === 'env') delete options.secret;
    setJsonOutput(options.json === true);
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
    .description("list the keys of the namespace, sorted (through the store's iterator); a key that is not plain is shown as a JSON string")
    .option('-0, --null', 'print the keys as they are, each followed by a NUL character (for xargs -0)')
    .action(async (local: { null?: boolean }, command: Command) => setExit(await lsCommand(local, globals(command))));

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
    .option('--events', 'also print the operations of every cache with events: { bus: true } (set, delete, clear, expire, push, pop)')
    .action(async (local: WatchOptions, command: Command) => setExit(await watchCommand(local, globals(command))));

  addStashCommands(program, globals, setExit);

  return program;
}

/** Waits until everything written to `stream` has been handed to the OS, so exiting loses nothing. */
function drain(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => stream.write('', () => resolve()));
}

/** The URLs this run may print or be quoted back: every argument that holds one, and the env fallbacks. */
function rememberUrls(argv: readonly string[]): void {
  for (const arg of [...argv, process.env.SYNCED_CACHE_REDIS, process.env.SYNCED_CACHE_STORE]) {
    const url = arg?.replace(/^--?[\w-]+=/, '');
    if (url?.includes('://')) rememberSecrets(url);
  }
}

async function main(argv: string[]): Promise<number> {
  rememberUrls(argv.slice(2));
  rememberArgumentSecrets(argv.slice(2), process.env);
  let code: number = EXIT.ok;
  const program = buildProgram((c) => {
    code = c;
  }, argv.slice(2));
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
    note(`error: ${foreignLine(error)}`);
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
