// Running the built `synced-cache` bin (dist/cli.js) as a subprocess, for the CLI's integration tests.
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { onTestFinished } from 'vitest';
import { waitFor } from './wait.js';

export const root = fileURLToPath(new URL('../..', import.meta.url));
export const bin = `${root}dist/cli.js`;

/** A clean environment: the SYNCED_CACHE_* fallbacks of the machine must not leak into a test. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of Object.keys(env)) if (name.startsWith('SYNCED_CACHE_')) delete env[name];
  return { ...env, ...extra };
}

/** What a run of the bin printed, and how it ended. */
export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** How long one run of the bin may take before the test gives up on it (and kills it). */
export const RUN_DEADLINE_MS = 15_000;

/** Runs the bin with a clean environment (plus `env`); `input` is piped on stdin (closed empty without it). */
export function runCli(args: readonly string[], options: { env?: Record<string, string>; input?: string } = {}): Promise<CliResult> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd: root, env: cleanEnv(options.env), stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`synced-cache ${args.join(' ')} did not exit within ${RUN_DEADLINE_MS} ms; stderr: ${stderr}`));
    }, RUN_DEADLINE_MS);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: Date.now() - started });
    });
    child.stdin.end(options.input ?? '');
  });
}

/** Lines of a stream, kept as they arrive, for a long-running child (watch). */
export function lines(child: ChildProcess, stream: 'stdout' | 'stderr'): string[] {
  const out: string[] = [];
  let rest = '';
  child[stream]?.on('data', (d: Buffer) => {
    rest += d.toString();
    const parts = rest.split('\n');
    rest = parts.pop() ?? '';
    out.push(...parts);
  });
  return out;
}

/**
 * `synced-cache <args>`, a `watch` command, once it has subscribed (its notice comes after SUBSCRIBE is
 * confirmed, so nothing published from then on is missed); killed when the test ends.
 */
export async function startWatch(args: readonly string[]) {
  const child = spawn(process.execPath, [bin, ...args], { cwd: root, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  onTestFinished(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const out = lines(child, 'stdout');
  const err = lines(child, 'stderr');
  await waitFor(
    () => {
      if (child.exitCode !== null) throw new Error(`watch exited with ${child.exitCode}: ${err.join(' / ')}`);
      return err.some((l) => l.includes('watching synced-cache:'));
    },
    'watch to subscribe',
    10_000,
  );
  return { child, out, err, exited };
}
