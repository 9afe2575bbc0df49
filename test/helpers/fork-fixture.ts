import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * A fixture script of test/fixtures/ running as a real OS process, driven over IPC with the protocol
 * `{ id, op, args }` -> `{ id, ok, result | error, undef? }`, which announces itself with `{ event: 'ready', ... }`.
 */
export interface Fixture {
  readonly pid: number;
  /** The `ready` message, e.g. the port an HTTP fixture listens on. */
  readonly ready: Record<string, unknown>;
  call<T = unknown>(op: string, args?: Record<string, unknown>): Promise<T>;
  /** Kills the child (only this one) and waits for it to exit. Idempotent. */
  kill(): Promise<void>;
}

/** What else a fixture needs besides its environment. */
export interface ForkOptions {
  /** Node flags of the child, e.g. `['--expose-gc']`. */
  execArgv?: string[];
  /** Called with every `{ event }` message other than `ready` (progress a fixture streams). */
  onEvent?: (message: Record<string, unknown>) => void;
  /** Called once when the child exits, however it exits. */
  onExit?: (code: number | null, signal: NodeJS.Signals | null) => void;
}

/** Forks `test/fixtures/<name>` with `env` added to the environment and waits for its `ready` message. */
export async function forkFixture(
  name: string,
  env: Record<string, string>,
  timeoutMs = 10_000,
  options: ForkOptions = {},
): Promise<Fixture> {
  const script = fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));
  const child: ChildProcess = fork(script, [], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    ...(options.execArgv === undefined ? {} : { execArgv: options.execArgv }),
  });
  if (options.onExit !== undefined) child.once('exit', options.onExit);
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  let ids = 0;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ready = new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`fixture ${name} not ready within ${timeoutMs} ms`)), timeoutMs);
    child.on('message', (message: Record<string, unknown>) => {
      if (message.event === 'ready') {
        clearTimeout(timer);
        resolve(message);
        return;
      }
      if (message.event !== undefined) {
        options.onEvent?.(message);
        return;
      }
      const call = pending.get(message.id as number);
      if (call === undefined) return;
      pending.delete(message.id as number);
      if (message.ok) call.resolve(message.undef ? undefined : message.result);
      else call.reject(new Error(`fixture ${name} (pid ${child.pid}): ${String(message.error)}`));
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      const error = new Error(`fixture ${name} (pid ${child.pid}) exited (code ${code}, signal ${signal})`);
      reject(error);
      for (const call of pending.values()) call.reject(error);
      pending.clear();
    });
  });
  const kill = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  };
  let readyMessage: Record<string, unknown>;
  try {
    readyMessage = await ready;
  } catch (error) {
    await kill();
    throw error;
  }
  return {
    pid: child.pid as number,
    ready: readyMessage,
    call<T>(op: string, args?: Record<string, unknown>) {
      const id = ++ids;
      return new Promise<T>((resolve, reject) => {
        pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
        child.send({ id, op, args });
      });
    },
    kill,
  };
}
