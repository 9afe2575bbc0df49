// A redis-server of our own on a free loopback port, for tests, benchmarks and the example.
// Tests must be able to kill, freeze (SIGSTOP) and restart it, so it is never the machine's
// shared Redis on 6379, and we only ever signal the pid we started.
import { execFileSync, spawn } from 'node:child_process';
import { connect, createServer } from 'node:net';

/** True when a redis-server binary is on PATH. */
export function hasRedisServer() {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Asks the kernel for a free loopback port. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = /** @type {import('node:net').AddressInfo} */ (srv.address());
      srv.close(() => resolve(port));
    });
  });
}

function canConnect(port) {
  return new Promise((resolve) => {
    const sock = connect({ port, host: '127.0.0.1' });
    sock.once('connect', () => {
      // A PING proves redis is serving, not only that the port is bound (a server started with
      // --requirepass answers it with NOAUTH, which proves as much).
      sock.write('PING\r\n');
    });
    sock.once('data', (d) => {
      sock.destroy();
      // NOAUTH is an answer too: a server started with --requirepass is serving, it only wants a password.
      const reply = d.toString();
      resolve(reply.startsWith('+PONG') || reply.startsWith('-NOAUTH'));
    });
    sock.once('error', () => {
      sock.destroy();
      resolve(false);
    });
  });
}

async function waitUntil(check, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * A redis-server child process on 127.0.0.1.
 * `args` are passed on as configuration directives, e.g. `['--requirepass', 'pw']` or an ACL user
 * `['--user', 'ro', 'on', '>pw', '~*', '&*', '+@all', '-scan']` (the default user stays open, so the
 * readiness check and a test's own setup can still connect without a password unless `requirepass` is set).
 * @param {{ port?: number, args?: string[] }} [options]
 */
export async function startRedisServer(options = {}) {
  const port = options.port ?? (await freePort());
  const extra = options.args ?? [];
  /** @type {import('node:child_process').ChildProcess | undefined} */
  let child;
  let frozen = false;

  async function launch() {
    child = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no', ...extra],
      { stdio: 'ignore' },
    );
    const c = child;
    // A test runner that exits without stopping us must not leave the server behind.
    const reap = () => c.kill('SIGKILL');
    process.once('exit', reap);
    c.once('exit', () => process.removeListener('exit', reap));
    const spawnFailed = new Promise((_, reject) =>
      c.once('error', (error) =>
        reject(
          error.code === 'ENOENT'
            ? new Error(
                'redis-server is not on PATH: install it (Debian/Ubuntu: apt-get install -y redis-server; macOS: brew install redis)',
              )
            : error,
        ),
      ),
    );
    const exited = new Promise((resolve) => c.once('exit', resolve));
    await Promise.race([
      spawnFailed,
      waitUntil(() => canConnect(port), 10_000, `redis-server on port ${port}`),
      exited.then(() => {
        throw new Error(`redis-server on port ${port} exited at start`);
      }),
    ]);
  }

  async function stop() {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((resolve) => c.once('exit', resolve));
    if (frozen) c.kill('SIGCONT');
    frozen = false;
    c.kill('SIGKILL');
    await exited;
  }

  await launch();

  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    get pid() {
      return child?.pid;
    },
    /** SIGKILL: the server vanishes and every connection is reset. */
    kill: stop,
    /** SIGSTOP: sockets stay open but nothing is answered. */
    freeze() {
      if (child && !frozen) {
        child.kill('SIGSTOP');
        frozen = true;
      }
    },
    /** SIGCONT after freeze(). */
    thaw() {
      if (child && frozen) {
        child.kill('SIGCONT');
        frozen = false;
      }
    },
    /** Starts a fresh, empty server on the same port (after kill()). */
    async restart() {
      await stop();
      await launch();
    },
    /** Ends the server for good. */
    stop,
  };
}
