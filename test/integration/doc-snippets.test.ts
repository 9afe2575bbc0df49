import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, type RedisServer, startRedisServer } from '../../scripts/redis-server.mjs';
import { type CodeBlock, codeBlocks, docFiles, ROOT, where } from '../helpers/markdown.js';

// Every code block of README.md and docs/*.md runs as written (issue 9, items 4 and 5). Each ```js and
// ```ts block is a program: it is written inside the repository (so that `synced-cache` resolves to the
// built package through its own name, and the devDependencies resolve), its `redis://localhost:6379`
// becomes the URL of a redis-server this test starts, and it must exit 0 by itself within RUN_BOUND_MS.
// Every ```ts program is type-checked under the repository's strict settings, and runs as tsc emits it
// (tsc emits despite type errors, so one bad block fails two tests and no more). ```sh blocks name commands that exist. The few blocks that cannot run alone say so above
// the fence, and this test knows each marker:
//
//   <!-- snippet: continues -->           the block is the rest of the program above it: they run as one
//   <!-- snippet: server GET /path -->    a server: it must answer GET /path with 200 on $PORT, then end on
//                                         SIGTERM (with exit code 0 when it handles SIGTERM itself)
//   <!-- snippet: typecheck-only: why --> TypeScript that needs what the test cannot start (a Redis Cluster)
//
// Any other block (text, promql, output) is not code and is ignored.

const RUN_BOUND_MS = 20_000;
const DOC_REDIS = 'redis://localhost:6379';
const execFileAsync = promisify(execFile);

type Kind = 'run' | 'server' | 'typecheck-only';

interface Program {
  name: string;
  /** Where the program starts, `file:line`. */
  at: string;
  lang: 'js' | 'ts';
  code: string;
  kind: Kind;
  /** For servers: the path that must answer 200. */
  path?: string;
  /** The markdown line each line of `code` came from, for error messages. */
  lines: string[];
}

const LANGS: Record<string, 'js' | 'ts' | 'sh' | undefined> = {
  js: 'js',
  mjs: 'js',
  javascript: 'js',
  ts: 'ts',
  typescript: 'ts',
  sh: 'sh',
  bash: 'sh',
  shell: 'sh',
};

function collect(): { programs: Program[]; shell: CodeBlock[]; problems: string[] } {
  const programs: Program[] = [];
  const shell: CodeBlock[] = [];
  const problems: string[] = [];
  for (const file of docFiles()) {
    let last: Program | undefined;
    for (const block of codeBlocks(file)) {
      const lang = LANGS[block.lang];
      const at = where(block.file, block.line);
      if (lang === undefined) {
        if (block.marker !== undefined) problems.push(`${at}: a snippet marker on a \`\`\`${block.lang || '(no language)'} block`);
        continue;
      }
      if (lang === 'sh') {
        if (block.marker !== undefined) problems.push(`${at}: shell blocks take no marker`);
        shell.push(block);
        continue;
      }
      const lines = block.code.split('\n').map((_, i) => where(block.file, block.line + i));
      const marker = block.marker ?? '';
      if (marker === 'continues') {
        if (last === undefined || last.lang !== lang) {
          problems.push(`${at}: "continues" needs a ${lang} block above it in the same file`);
          continue;
        }
        last.code += block.code;
        last.lines.push(...lines);
        continue;
      }
      let kind: Kind = 'run';
      let path: string | undefined;
      const server = /^server GET (\/\S*)$/.exec(marker);
      if (server !== null) {
        kind = 'server';
        path = server[1];
      } else if (/^typecheck-only: \S/.test(marker)) {
        if (lang !== 'ts') problems.push(`${at}: typecheck-only is for TypeScript blocks (a JavaScript block would be checked by nothing)`);
        kind = 'typecheck-only';
      } else if (marker !== '') {
        problems.push(`${at}: unknown snippet marker "${marker}"`);
        continue;
      }
      last = {
        name: `${block.file.replace(/[/.]/g, '-')}-${block.line}`,
        at,
        lang,
        code: block.code,
        kind,
        ...(path === undefined ? {} : { path }),
        lines,
      };
      programs.push(last);
    }
  }
  return { programs, shell, problems };
}

const { programs, shell, problems } = collect();
const runnable = programs.filter((p) => p.kind !== 'typecheck-only');

let dir: string;
let redis: RedisServer;
let flusher: Redis;
let typecheck: { ok: boolean; output: string };

/** The program's file as node runs it: the .mjs as written, or the .js tsc emitted for the .ts. */
function entry(program: Program): string {
  return program.lang === 'js' ? join(dir, `${program.name}.mjs`) : join(dir, 'out', `${program.name}.js`);
}

/** tsc's `dir/name.ts(line,col)` in terms of the markdown. */
function mapDiagnostics(output: string): string {
  return output.replace(/(?:^|\n)[^\n]*?([\w-]+)\.ts\((\d+),(\d+)\)/g, (whole, name: string, line: string) => {
    const program = programs.find((p) => p.name === name);
    const origin = program?.lines[Number(line) - 1];
    return origin === undefined ? whole : `\n${origin}`;
  });
}

beforeAll(async () => {
  redis = await startRedisServer();
  flusher = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  // Inside the repository, so that `synced-cache` and the devDependencies resolve as in an application.
  dir = mkdtempSync(join(ROOT, '.snippets-'));
  mkdirSync(join(dir, 'out'));
  for (const program of programs) {
    const code = program.code.replaceAll(DOC_REDIS, redis.url);
    writeFileSync(join(dir, `${program.name}.${program.lang === 'js' ? 'mjs' : 'ts'}`), code);
  }
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      extends: '../tsconfig.json',
      compilerOptions: {
        // The published types, through the package's own name (the repository's paths point into src/).
        paths: {},
        rootDir: '.',
        outDir: 'out',
        noEmit: false,
        declaration: false,
        sourceMap: false,
        moduleDetection: 'force',
      },
      include: ['*.ts'],
    }),
  );
  try {
    await execFileAsync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(dir, 'tsconfig.json')], {
      cwd: ROOT,
    });
    typecheck = { ok: true, output: '' };
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string };
    typecheck = { ok: false, output: mapDiagnostics(`${e.stdout ?? ''}${e.stderr ?? ''}`) };
  }
}, 120_000);

afterAll(async () => {
  flusher?.disconnect();
  await redis?.stop();
  // KEEP_SNIPPETS=1 keeps the programs (and tsc's output) to look at.
  if (dir !== undefined && process.env.KEEP_SNIPPETS === undefined) rmSync(dir, { recursive: true, force: true });
});

function start(
  program: Program,
  env: Record<string, string>,
): { child: ChildProcess; exit: Promise<{ code: number | null; signal: string | null }>; output: () => string } {
  const { REDIS_URL: _redis, PORT: _port, ...inherited } = process.env;
  const child = spawn(process.execPath, [entry(program)], {
    cwd: ROOT,
    env: { ...inherited, SESSION_SECRET: 'a secret for the snippet test', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d) => {
    output += d;
  });
  child.stderr?.on('data', (d) => {
    output += d;
  });
  const exit = new Promise<{ code: number | null; signal: string | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  return { child, exit, output: () => output };
}

async function within<T>(promise: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

describe('the snippets of README.md and docs/*.md', () => {
  it('are found, and every marker is one this test knows', () => {
    expect(problems).toEqual([]);
    // Any other Redis URL would reach a server this test did not start (the machine's 6379, say).
    const foreign = runnable.filter((p) => [...p.code.matchAll(/rediss?:\/\/[^'"`\s]*/g)].some((m) => m[0] !== DOC_REDIS));
    expect(
      foreign.map((p) => p.at),
      `write every Redis URL of a runnable snippet as ${DOC_REDIS}`,
    ).toEqual([]);
    expect(runnable.length).toBeGreaterThan(10);
    // The exceptions stay few: a block that can neither run nor be checked would prove nothing.
    expect(programs.filter((p) => p.kind === 'typecheck-only').length).toBeLessThanOrEqual(3);
  });

  it('type-check under the strict settings of the repository (every TypeScript block)', () => {
    expect(programs.some((p) => p.lang === 'ts')).toBe(true);
    expect(typecheck.output.trim(), 'tsc').toBe('');
    expect(typecheck.ok).toBe(true);
  });

  it.each(runnable.map((p) => [p.at, p] as const))('%s runs to completion as written', async (_, program) => {
    await flusher.flushall();
    if (program.kind === 'run') {
      const run = start(program, {});
      const result = await within(run.exit, RUN_BOUND_MS);
      if (result === 'timeout') run.child.kill('SIGKILL');
      expect(result, `${program.at} did not exit by itself within ${RUN_BOUND_MS} ms:\n${run.output()}`).not.toBe('timeout');
      expect(result, run.output()).toEqual({ code: 0, signal: null });
      return;
    }
    const port = await freePort();
    const run = start(program, { PORT: String(port) });
    try {
      const deadline = Date.now() + RUN_BOUND_MS;
      let status: number | undefined;
      while (status !== 200 && Date.now() < deadline) {
        const exited = await within(run.exit, 0);
        if (exited !== 'timeout') throw new Error(`${program.at} exited before serving (${JSON.stringify(exited)}):\n${run.output()}`);
        status = await fetch(`http://127.0.0.1:${port}${program.path}`).then(
          (res) => res.arrayBuffer().then(() => res.status),
          () => undefined,
        );
        if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(status, `${program.at}: GET ${program.path} on port ${port}\n${run.output()}`).toBe(200);
      run.child.kill('SIGTERM');
      const result = await within(run.exit, RUN_BOUND_MS);
      expect(result, `${program.at} did not end within ${RUN_BOUND_MS} ms of SIGTERM:\n${run.output()}`).not.toBe('timeout');
      const handles = /process\.(?:once|on)\('SIGTERM'/.test(program.code);
      expect(result, run.output()).toEqual(handles ? { code: 0, signal: null } : { code: null, signal: 'SIGTERM' });
    } finally {
      if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill('SIGKILL');
    }
  });
});

// Shell blocks: each command must exist as written (npm scripts in package.json, the package's bin and
// its commands and options, files given to node). They are not run: they install, or run for good.
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  scripts: Record<string, string>;
  bin: Record<string, string>;
};
const ALLOWED = new Set(['git', 'cd', 'export', 'xargs', 'jq', 'apt-get', 'sudo', 'redis-server', 'curl', 'echo']);
const NPM = new Set(['install', 'i', 'ci', 'pack', 'view', 'test']);
const VALUED = new Set(['--redis', '--store', '-n', '--namespace', '--timeout', '--ttl', '--type']);

function words(command: string): string[] {
  return [...command.matchAll(/'[^']*'|"(?:\\.|[^"\\])*"|\S+/g)].map((m) => m[0]);
}

/** The commands of a shell block: comments dropped, split at &&, ||, ; and |. */
function commands(block: CodeBlock): { at: string; argv: string[] }[] {
  const out: { at: string; argv: string[] }[] = [];
  block.code.split('\n').forEach((line, i) => {
    const code = line.replace(/(^|\s)#.*$/, '').trim();
    if (code === '') return;
    for (const part of code.split(/&&|\|\||;|\|/)) {
      const argv = words(part.trim());
      while (argv[0] !== undefined && /^[A-Z_][A-Z0-9_]*=/.test(argv[0])) argv.shift();
      if (argv.length > 0) out.push({ at: where(block.file, block.line + i), argv });
    }
  });
  return out;
}

describe('the shell blocks of README.md and docs/*.md', () => {
  const cli = join(ROOT, 'dist', 'cli.js');
  const helps = new Map<string, Promise<string>>();
  function help(command: string | undefined): Promise<string> {
    const key = command ?? '';
    let text = helps.get(key);
    if (text === undefined) {
      text = execFileAsync(process.execPath, [cli, ...(command === undefined ? [] : [command]), '--help'], { cwd: ROOT }).then(
        (r) => r.stdout,
      );
      helps.set(key, text);
    }
    return text;
  }

  async function checkCli(at: string, args: string[]): Promise<string[]> {
    const problems: string[] = [];
    const options: string[] = [];
    let command: string | undefined;
    for (let i = 0; i < args.length; i++) {
      const arg = args[i] as string;
      if (arg.startsWith('-')) {
        options.push(arg.split('=')[0] as string);
        if (VALUED.has(arg)) i++;
      } else if (command === undefined) command = arg;
    }
    const programHelp = await help(undefined);
    if (command !== undefined && !new RegExp(`^\\s+${command}\\b`, 'm').test(programHelp)) {
      problems.push(`${at}: synced-cache has no command "${command}"`);
      return problems;
    }
    const commandHelp = command === undefined ? '' : await help(command);
    for (const option of options) {
      if (!`${programHelp}\n${commandHelp}`.includes(option)) problems.push(`${at}: synced-cache ${command ?? ''} has no option ${option}`);
    }
    return problems;
  }

  it('are found', () => {
    expect(shell.length).toBeGreaterThan(3);
  });

  it('name npm scripts, files and synced-cache commands and options that exist', async () => {
    const found: string[] = [];
    for (const block of shell) {
      for (const { at, argv } of commands(block)) {
        const [program, ...args] = argv as [string, ...string[]];
        if (program === 'npm') {
          const sub = args[0] ?? '';
          if (sub === 'run' || sub === 'run-script') {
            const script = args.slice(1).find((a) => !a.startsWith('-'));
            if (script === undefined || !(script in pkg.scripts)) found.push(`${at}: no npm script "${script}" in package.json`);
          } else if (!NPM.has(sub)) found.push(`${at}: npm ${sub} is not a command this test knows`);
        } else if (program === 'npx' || program === 'synced-cache') {
          const rest = [...args];
          if (program === 'npx') while (rest[0]?.startsWith('-')) rest.shift();
          const bin = program === 'npx' ? rest.shift() : 'synced-cache';
          if (bin === undefined || !(bin in pkg.bin)) found.push(`${at}: no bin "${bin}" in package.json`);
          else found.push(...(await checkCli(at, rest)));
        } else if (program === 'node') {
          const file = args.find((a) => !a.startsWith('-'));
          try {
            readFileSync(join(ROOT, file ?? ''));
          } catch {
            found.push(`${at}: node ${file}: no such file`);
          }
        } else if (!ALLOWED.has(program)) found.push(`${at}: ${program} is not a command this test knows`);
      }
    }
    expect(found).toEqual([]);
  });
});
