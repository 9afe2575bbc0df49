import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const script = fileURLToPath(new URL('../fixtures/cache-worker.mjs', import.meta.url));

/** A real OS process holding one SyncedCache of the built package, driven over IPC. */
export interface Worker {
  readonly pid: number;
  call<T = unknown>(op: string, args?: Record<string, unknown>): Promise<T>;
  /** Resolves on the next `{ event }` message from the child. */
  next(event: string): Promise<Record<string, unknown>>;
  kill(): Promise<void>;
}

export async function startWorker(): Promise<Worker> {
  const child: ChildProcess = fork(script, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  const listeners: { event: string; resolve: (m: Record<string, unknown>) => void }[] = [];
  let ids = 0;
  child.on('message', (message: Record<string, unknown>) => {
    if (typeof message.event === 'string') {
      const i = listeners.findIndex((l) => l.event === message.event);
      if (i >= 0) listeners.splice(i, 1)[0]?.resolve(message);
      return;
    }
    const call = pending.get(message.id as number);
    if (!call) return;
    pending.delete(message.id as number);
    if (message.ok) call.resolve(message.undef ? undefined : message.result);
    else call.reject(new Error(`worker ${child.pid}: ${String(message.error)}`));
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('exit', (code) => {
    for (const call of pending.values()) call.reject(new Error(`worker ${child.pid} exited with ${code}`));
  });
  const ready = new Promise<void>((resolve) => listeners.push({ event: 'ready', resolve: () => resolve() }));
  await ready;
  return {
    pid: child.pid as number,
    call<T>(op: string, args?: Record<string, unknown>) {
      const id = ++ids;
      return new Promise<T>((resolve, reject) => {
        pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
        child.send({ id, op, args });
      });
    },
    next(event: string) {
      return new Promise((resolve) => listeners.push({ event, resolve }));
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
}
