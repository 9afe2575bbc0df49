import { existsSync, readdirSync, statSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { freePort, type RedisServer, startRedisServer } from '../../scripts/redis-server.mjs';
import { Stash } from '../../src/stash/stash.js';
import { bin, type CliResult, root, runCli } from '../helpers/cli.js';
import { uniqueNamespace } from '../helpers/factory.js';
import { waitFor } from '../helpers/wait.js';

const ID = /^_[0-9a-z]{19}$/;

/** Runs the bin; `input` is piped on stdin (and stdin is closed empty without it). */
const run = (args: string[], input = '') => runCli(args, { input });

function oneLine(text: string): string {
  const trimmed = text.trimEnd();
  expect(trimmed).not.toBe('');
  expect(trimmed.split('\n')).toHaveLength(1);
  return trimmed;
}

let redis: RedisServer;

beforeAll(async () => {
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run \`npm run build\` before these tests`);
  const newest = Math.max(
    ...['src/cli', 'src/stash'].flatMap((dir) => readdirSync(`${root}${dir}`).map((f) => statSync(`${root}${dir}/${f}`).mtimeMs)),
  );
  if (statSync(bin).mtimeMs < newest) throw new Error(`${bin} is older than src/cli/ or src/stash/: run \`npm run build\` first`);
  redis = await startRedisServer();
});

afterAll(async () => {
  await redis?.stop();
});

/** `synced-cache --redis <ours> --namespace <ns> [more] stash ...` */
function stash(ns: string, ...more: string[]): string[] {
  return ['--redis', redis.url, '--namespace', ns, ...more, 'stash'];
}

/** The other session: a stash in this process over the same Redis (store and bus). */
function session(ns: string): Stash<unknown> {
  const other = new Stash<unknown>({ namespace: ns, store: redis.url, redis: redis.url });
  onTestFinished(() => other.close());
  return other;
}

describe('synced-cache stash: names', () => {
  it('set refuses to overwrite (exit 1, value kept) unless --force; get, del, with exit codes', async () => {
    const ns = uniqueNamespace('cli-stash');
    expect(await run([...stash(ns), 'set', 'user_emails', '["ada@example.com"]'])).toMatchObject({ code: 0, stdout: 'OK\n' });
    let r = await run([...stash(ns), 'set', 'user_emails', '[]']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(oneLine(r.stderr)).toBe('synced-cache: exists: "user_emails" (pass --force to overwrite it)');
    r = await run([...stash(ns), 'get', 'user_emails']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(['ada@example.com']);

    expect(await run([...stash(ns), 'set', 'user_emails', '["grace@example.com"]', '--force'])).toMatchObject({ code: 0 });
    expect(JSON.parse((await run([...stash(ns), 'get', 'user_emails'])).stdout)).toEqual(['grace@example.com']);

    expect(await run([...stash(ns), 'del', 'user_emails'])).toMatchObject({ code: 0, stdout: 'deleted\n' });
    r = await run([...stash(ns), 'del', 'user_emails']);
    expect(r.code).toBe(1);
    expect(oneLine(r.stderr)).toBe('synced-cache: not found: "user_emails"');
    r = await run([...stash(ns), 'get', 'user_emails']);
    expect(r.code).toBe(1);
    expect(oneLine(r.stderr)).toBe('synced-cache: not found: "user_emails"');
  });

  it('a name set in another session is refused from the CLI, and a forced CLI write reaches that session', async () => {
    const ns = uniqueNamespace('cli-stash');
    const other = session(ns);
    await other.cache.ready();
    await other.set('report', { rows: 3 });
    expect(await other.get('report')).toEqual({ rows: 3 });
    expect((await run([...stash(ns), 'set', 'report', '{}'])).code).toBe(1);
    expect(await other.get('report')).toEqual({ rows: 3 });
    expect((await run([...stash(ns), 'set', 'report', '{"rows":4}', '--force'])).code).toBe(0);
    // The other session held the old value in memory: the CLI's write told it to drop it.
    await waitFor(async () => JSON.stringify(await other.get('report')) === '{"rows":4}', 'the forced write to reach the session');
  });
});

describe('synced-cache stash: the stack', () => {
  it('the two-terminal story: a session pushes, the CLI peeks and pops it; the CLI pushes, the session pops it', async () => {
    const ns = uniqueNamespace('cli-stash');
    const other = session(ns);
    await other.cache.ready();
    const id = await other.push({ emails: ['ada@example.com'] });
    expect(await other.get(id)).toEqual({ emails: ['ada@example.com'] });

    let r = await run([...stash(ns), 'peek']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ emails: ['ada@example.com'] });
    r = await run([...stash(ns), 'pop']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ emails: ['ada@example.com'] });
    // Gone everywhere, the session's memory included.
    await waitFor(async () => (await other.get(id)) === undefined, "the pop to drop the session's copy");
    r = await run([...stash(ns), 'pop']);
    expect(r.code).toBe(1);
    expect(oneLine(r.stderr)).toBe('synced-cache: the stash is empty: nothing was pushed, or everything pushed was popped or expired');
    expect((await run([...stash(ns), 'peek'])).code).toBe(1);

    r = await run([...stash(ns), 'push', '{"from":"cli"}']);
    expect(r.code).toBe(0);
    const pushed = r.stdout.trimEnd();
    expect(pushed).toMatch(ID);
    expect(await other.get(pushed)).toEqual({ from: 'cli' });
    expect(JSON.parse((await run([...stash(ns), 'get', pushed])).stdout)).toEqual({ from: 'cli' });
    expect(await other.pop()).toEqual({ from: 'cli' });
    expect(await other.pop()).toBeUndefined();
  });

  it('pops last-in first-out, across CLI runs', async () => {
    const ns = uniqueNamespace('cli-stash');
    for (const value of ['1', '2', '3']) expect((await run([...stash(ns), 'push', value])).code).toBe(0);
    const popped: string[] = [];
    for (let i = 0; i < 3; i++) popped.push((await run([...stash(ns), 'pop'])).stdout);
    expect(popped).toEqual(['3\n', '2\n', '1\n']);
  });

  it('6 CLI pops at once over 6 pushed values: each value exactly once', async () => {
    const ns = uniqueNamespace('cli-stash');
    const other = session(ns);
    const values = ['a', 'b', 'c', 'd', 'e', 'f'];
    for (const value of values) await other.push(value);
    const results = await Promise.all(values.map(() => run([...stash(ns, '--json'), 'pop'])));
    const taken = results.map((r) => {
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout) as { found: boolean; id: string; value: string };
    });
    expect(taken.map((t) => t.value).sort()).toEqual(values);
    expect(new Set(taken.map((t) => t.id)).size).toBe(6);
    expect(await other.peek()).toBeUndefined();
  });

  it('--ttl on push makes the entry expire, and peek then shows the one below it', async () => {
    const ns = uniqueNamespace('cli-stash');
    expect((await run([...stash(ns), 'push', '"below"'])).code).toBe(0);
    expect((await run([...stash(ns), 'push', '"short"', '--ttl', '300ms'])).code).toBe(0);
    const other = session(ns);
    await waitFor(async () => (await other.peek()) === 'below', 'the short-lived entry to expire', 10_000);
    expect(await run([...stash(ns), 'peek'])).toMatchObject({ code: 0, stdout: 'below\n' });
  });
});

describe('synced-cache stash: values from stdin, --type, --json', () => {
  it('takes the value from stdin when the argument is missing, dropping one final newline; JSON when it parses', async () => {
    const ns = uniqueNamespace('cli-stash');
    const other = session(ns);
    let r = await run([...stash(ns), 'push'], 'plain text\n');
    expect(r.code, r.stderr).toBe(0);
    expect(await other.get(r.stdout.trimEnd())).toBe('plain text');
    r = await run([...stash(ns), 'push'], '{"n": 1}\n');
    expect(await other.get(r.stdout.trimEnd())).toEqual({ n: 1 });
    r = await run([...stash(ns), 'set', 'multi'], 'line 1\nline 2\n\n');
    expect(r.code, r.stderr).toBe(0);
    expect(await other.get('multi')).toBe('line 1\nline 2\n');
    // get | set copies a string exactly: get adds the newline that set drops.
    const copied = await run([...stash(ns), 'get', 'multi']);
    expect((await run([...stash(ns), 'set', 'copy'], copied.stdout)).code).toBe(0);
    expect(await other.get('copy')).toBe('line 1\nline 2\n');
    // The argument wins over stdin.
    expect((await run([...stash(ns), 'set', 'arg', '"from the argument"'], '"from stdin"')).code).toBe(0);
    expect(await other.get('arg')).toBe('from the argument');
  });

  it('--type string keeps 42 a string, --type json insists on JSON; null and an empty stdin are refused (exit 2)', async () => {
    const ns = uniqueNamespace('cli-stash');
    const other = session(ns);
    expect((await run([...stash(ns), 'set', 'n', '42'])).code).toBe(0);
    expect((await run([...stash(ns), 'set', 's', '42', '--type', 'string'])).code).toBe(0);
    expect(await other.get('n')).toBe(42);
    expect(await other.get('s')).toBe('42');
    const cases: [string[], string, string][] = [
      [['push', '{"broken":', '--type', 'json'], '', /the value is not valid JSON/.source],
      [['push', 'null'], '', 'null cannot be stored; use "stash del" to remove a key'],
      [['push'], '', 'no value given: the argument is missing and stdin is empty'],
      [['set', 'k'], '', 'no value given: the argument is missing and stdin is empty'],
      [['get', ''], '', 'the key must not be empty'],
    ];
    for (const [args, input, message] of cases) {
      const r = await run([...stash(ns), ...args], input);
      expect({ args, code: r.code, stdout: r.stdout }).toEqual({ args, code: 2, stdout: '' });
      expect(oneLine(r.stderr)).toMatch(new RegExp(message.replace(/[()"]/g, '\\$&')));
    }
    expect(await other.ls()).toEqual(['n', 's']);
  });

  it('--json gives one JSON value for every stash command, the failures included', async () => {
    const ns = uniqueNamespace('cli-stash');
    const json = stash(ns, '--json');
    const parsed = async (args: string[], code = 0) => {
      const r = await run([...json, ...args]);
      expect({ args, code: r.code }).toEqual({ args, code });
      return JSON.parse(oneLine(r.stdout)) as unknown;
    };
    expect(await parsed(['set', 'a', '[1,2]', '--ttl', '1h'])).toEqual({ key: 'a', ok: true, ttl: 3_600_000 });
    expect(await parsed(['set', 'a', '3'], 1)).toEqual({ key: 'a', ok: false, exists: true });
    expect(await parsed(['set', 'a', '3', '--force'])).toEqual({ key: 'a', ok: true });
    expect(await parsed(['get', 'a'])).toEqual({ key: 'a', found: true, value: 3 });
    expect(await parsed(['get', 'b'], 1)).toEqual({ key: 'b', found: false });
    const pushed = (await parsed(['push', '{"x":1}', '--ttl', '10m'])) as { id: string; ttl: number };
    expect(pushed).toEqual({ id: expect.stringMatching(ID), ttl: 600_000 });
    expect(await parsed(['peek'])).toEqual({ found: true, value: { x: 1 } });
    expect(await parsed(['ls'])).toEqual([pushed.id, 'a']);
    expect(await parsed(['pop'])).toEqual({ found: true, id: pushed.id, value: { x: 1 } });
    expect(await parsed(['pop'], 1)).toEqual({ found: false });
    expect(await parsed(['peek'], 1)).toEqual({ found: false });
    expect(await parsed(['del', 'a'])).toEqual({ key: 'a', deleted: true });
    expect(await parsed(['del', 'a'], 1)).toEqual({ key: 'a', deleted: false });
  });
});

describe('synced-cache stash ls', () => {
  it('lists names and push ids sorted, filters with a quoted glob, shows unusual keys as JSON, and -0 writes them raw', async () => {
    const ns = uniqueNamespace('cli-stash');
    const other = session(ns);
    for (const key of ['user:2', 'user:1', 'users', 'report', 'evil\nkey']) await other.set(key, 1);
    const id = await other.push('p');
    let r = await run([...stash(ns), 'ls']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${[id, '"evil\\nkey"', 'report', 'user:1', 'user:2', 'users'].join('\n')}\n`);
    expect(await run([...stash(ns), 'ls', 'user:*'])).toMatchObject({ code: 0, stdout: 'user:1\nuser:2\n' });
    expect(await run([...stash(ns), 'ls', 'user?'])).toMatchObject({ code: 0, stdout: 'users\n' });
    expect(await run([...stash(ns), 'ls', '_*'])).toMatchObject({ code: 0, stdout: `${id}\n` });
    expect(await run([...stash(ns), 'ls', 'none*'])).toMatchObject({ code: 0, stdout: '' });
    r = await run([...stash(ns), 'ls', 'evil*', '-0']);
    expect(r.stdout).toBe('evil\nkey\0');
    r = await run([...stash(ns, '--json'), 'ls', '-0']);
    expect(r.code).toBe(2);
    expect(oneLine(r.stderr)).toBe('synced-cache: --null and --json cannot be combined: pick one output');
  });
});

describe('synced-cache stash: usage and failures', () => {
  it('bad subcommands, arguments and options end with exit 2 and one line', async () => {
    const base = ['--redis', 'redis://127.0.0.1:1', 'stash'];
    const cases: [string[], RegExp][] = [
      [[...base, 'sett', 'a'], /unknown command 'sett'.*Did you mean set\?/],
      [[...base, 'set'], /missing required argument 'key'/],
      [[...base, 'get'], /missing required argument 'key'/],
      [[...base, 'push', '1', '--force'], /unknown option '--force'/],
      [[...base, 'push', '1', '--ttl', 'soon'], /option '--ttl <duration>' argument 'soon' is invalid/],
      [[...base, 'pop', 'extra'], /too many arguments/],
      [['stash', 'get', 'a'], /no store given: pass --store <uri> or --redis <url>/],
    ];
    const results = await Promise.all(cases.map(([args]) => run(args)));
    cases.forEach(([args, message], i) => {
      const r = results[i] as CliResult;
      expect({ args, code: r.code }).toEqual({ args, code: 2 });
      expect(oneLine(r.stderr)).toMatch(message);
      expect(r.stdout).toBe('');
    });
  });

  it('--help works for stash and each of its commands', async () => {
    const top = await run(['--help']);
    expect(top.stdout).toMatch(/^\s+stash\b/m);
    const group = await run(['stash', '--help']);
    expect(group.code).toBe(0);
    for (const command of ['set', 'get', 'push', 'peek', 'pop', 'ls', 'del']) {
      expect(group.stdout).toMatch(new RegExp(`^\\s+${command}\\b`, 'm'));
      const r = await run(['stash', command, '--help']);
      expect({ command, code: r.code }).toEqual({ command, code: 0 });
      expect(r.stdout).toContain(`Usage: synced-cache stash ${command}`);
    }
    expect((await run(['stash', 'set', '--help'])).stdout).toContain('--force');
    // Without a subcommand: the help, as a usage error.
    const none = await run(['stash']);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('Usage: synced-cache stash');
  });

  it('a refused connection ends at once with "cannot reach Redis" and exit 1', async () => {
    const port = await freePort();
    for (const command of [['get', 'a'], ['set', 'a', '1'], ['push', '1'], ['pop'], ['peek'], ['ls'], ['del', 'a']]) {
      const r = await run(['--redis', `redis://127.0.0.1:${port}`, 'stash', ...command]);
      expect({ command, code: r.code }).toEqual({ command, code: 1 });
      expect(oneLine(r.stderr)).toBe(`synced-cache: cannot reach Redis at redis://127.0.0.1:${port} (connection refused)`);
    }
  });
});
