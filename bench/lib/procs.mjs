// Parent side of the child-process orchestration: fork a worker, call its exported functions
// over IPC, listen to the events it emits, and stop it. Only the processes started here are
// ever signalled, by their own ChildProcess handle.
import { fork } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { appendFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const CHILD = fileURLToPath(new URL('./child.mjs', import.meta.url));

/** Every worker still running, so the runner can stop them all on an error or Ctrl-C. */
const live = new Set();

/**
 * Forks `node bench/lib/child.mjs <modulePath>` and resolves once the module is imported.
 * @param {string} modulePath absolute path of the module whose exports the child serves
 * @param {{ execArgv?: string[], env?: Record<string,string>, name?: string }} [options]
 */
export async function startWorker(modulePath, options = {}) {
  const execArgv = [...(options.execArgv ?? [])];
  // `node bench/run.mjs --cpu-prof`: every child writes a V8 CPU profile (see profile-summary.mjs)
  if (process.env.BENCH_CPU_PROF_DIR) execArgv.push('--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF_DIR}`);
  const child = fork(CHILD, [modulePath], {
    execArgv,
    env: { ...process.env, ...options.env },
    // structured clone: bigint hrtime readings and typed arrays cross the channel as they are
    serialization: 'advanced',
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const name = options.name ?? basename(modulePath);
  if (process.env.BENCH_CPU_PROF_DIR) appendFileSync(join(process.env.BENCH_CPU_PROF_DIR, 'index.txt'), `${child.pid} ${name}\n`);
  const events = new EventEmitter();
  const pending = new Map();
  let nextId = 1;
  let exited = false;
  const exitPromise = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      exited = true;
      live.delete(worker);
      for (const { reject } of pending.values()) {
        reject(new Error(`worker ${name} exited (code ${code}, signal ${signal}) with a call pending`));
      }
      pending.clear();
      events.emit('exit', code, signal);
      resolve();
    });
  });

  child.on('message', (msg) => {
    if (msg?.type === 'reply') {
      const p = pending.get(msg.id);
      if (!p) return;
      pending.delete(msg.id);
      if (msg.ok) p.resolve(msg.value);
      else {
        const err = new Error(`${name}: ${msg.error?.message}`);
        err.stack = `${err.message}\n--- in child ---\n${msg.error?.stack ?? ''}`;
        p.reject(err);
      }
    } else if (msg?.type === 'event') {
      events.emit(msg.event, msg.data);
    } else if (msg?.type === 'ready') {
      events.emit('ready');
    }
  });

  const worker = {
    name,
    get pid() {
      return child.pid;
    },
    /** Calls an exported function of the worker's module; resolves with what it returns. */
    call(fn, ...args) {
      if (exited) return Promise.reject(new Error(`worker ${name} has exited`));
      const id = nextId++;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        child.send({ type: 'call', id, fn, args });
      });
    },
    /** Calls an exported function of the worker's module without waiting for (or getting) a reply. */
    post(fn, ...args) {
      if (!exited) child.send({ type: 'post', fn, args });
    },
    /** Listens to events the worker sends with emit() from ipc.mjs. */
    on(event, handler) {
      events.on(event, handler);
      return () => events.off(event, handler);
    },
    /** Asks the worker to exit, then kills it if it has not after `graceMs`. */
    async stop(graceMs = 2000) {
      if (exited) return;
      try {
        child.send({ type: 'exit' });
      } catch {
        // channel already closed: the exit handler below still runs
      }
      const timer = setTimeout(() => {
        if (!exited) child.kill('SIGKILL');
      }, graceMs);
      await exitPromise;
      clearTimeout(timer);
    },
  };
  live.add(worker);

  await new Promise((resolve, reject) => {
    events.once('ready', resolve);
    child.once('error', reject);
    exitPromise.then(() => reject(new Error(`worker ${name} exited before it was ready`)));
  });
  return worker;
}

/** Runs one exported function in a fresh process and returns its result. */
export async function inChild(modulePath, fn, args = [], options = {}) {
  const label = typeof args[0] === 'string' ? `${basename(modulePath)} ${fn}(${args[0]})` : `${basename(modulePath)} ${fn}`;
  const worker = await startWorker(modulePath, { name: label, ...options });
  try {
    return await worker.call(fn, ...args);
  } finally {
    await worker.stop();
  }
}

/** Stops every worker this process started and has not stopped yet. */
export async function stopAllWorkers() {
  await Promise.all([...live].map((w) => w.stop(500)));
}

/** Rejects when `promise` has not settled after `ms`. */
export function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
    }),
  ]);
}
