// A local Redis Cluster of our own (masters only, no replicas) on free loopback ports, for tests.
// Each node is a redis-server child process we started, with its nodes.conf in a temp dir, so a
// node can be SIGKILLed and restarted on the same port and rejoin the cluster with the same identity.
// We only ever signal the pids we started.
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './redis-server.mjs';

const run = promisify(execFile);

async function cli(port, ...args) {
  const { stdout } = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { timeout: 5_000 });
  return stdout;
}

async function answers(port, ...args) {
  try {
    return await cli(port, ...args);
  } catch {
    return undefined;
  }
}

async function waitUntil(check, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A free port whose cluster bus port (port + 10000) is free too. */
async function freeClusterPort(taken) {
  for (;;) {
    const port = await freePort();
    if (port > 55_000 || taken.has(port)) continue;
    const bus = await new Promise((resolve) => {
      import('node:net').then(({ createServer }) => {
        const srv = createServer();
        srv.once('error', () => resolve(false));
        srv.listen(port + 10_000, '127.0.0.1', () => srv.close(() => resolve(true)));
      });
    });
    if (bus) return port;
  }
}

/**
 * Starts `masters` redis-server processes with `--cluster-enabled yes`, joins them with
 * `redis-cli --cluster create`, and waits for `cluster_state:ok` on every node.
 * @param {{ masters?: number, nodeTimeout?: number }} [options]
 */
export async function startRedisCluster(options = {}) {
  const masters = options.masters ?? 3;
  const nodeTimeout = options.nodeTimeout ?? 1_000;
  const dir = mkdtempSync(join(tmpdir(), 'synced-cache-cluster-'));
  const taken = new Set();
  const ports = [];
  for (let i = 0; i < masters; i++) {
    const port = await freeClusterPort(taken);
    taken.add(port);
    ports.push(port);
  }
  /** @type {Map<number, import('node:child_process').ChildProcess>} */
  const children = new Map();

  async function launch(port) {
    const child = spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--protected-mode',
        'no',
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        join(dir, `nodes-${port}.conf`),
        '--cluster-node-timeout',
        String(nodeTimeout),
        '--dir',
        dir,
        '--save',
        '',
        '--appendonly',
        'no',
      ],
      { stdio: 'ignore' },
    );
    children.set(port, child);
    const exited = new Promise((resolve) => child.once('exit', resolve));
    await Promise.race([
      waitUntil(async () => (await answers(port, 'PING'))?.trim() === 'PONG', 10_000, `redis-server on port ${port}`),
      exited.then(() => {
        throw new Error(`redis-server on port ${port} exited at start`);
      }),
    ]);
  }

  async function kill(port) {
    const child = children.get(port);
    children.delete(port);
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  async function stateOk(port) {
    return /cluster_state:ok/.test((await answers(port, 'CLUSTER', 'INFO')) ?? '');
  }

  async function waitForOk(timeoutMs = 20_000) {
    await waitUntil(
      async () => (await Promise.all([...children.keys()].map(stateOk))).every(Boolean),
      timeoutMs,
      'cluster_state:ok on every node',
    );
  }

  try {
    await Promise.all(ports.map(launch));
    await run('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'], {
      timeout: 20_000,
    });
    await waitForOk();
  } catch (error) {
    await Promise.all(ports.map(kill));
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }

  return {
    ports,
    startupNodes: ports.map((port) => ({ host: '127.0.0.1', port })),
    /** The port of the master serving the slot of `key` (asked of the cluster, not computed). */
    async ownerOf(key) {
      const alive = [...children.keys()];
      const slot = Number((await cli(alive[0], 'CLUSTER', 'KEYSLOT', key)).trim());
      const nodes = await cli(alive[0], 'CLUSTER', 'NODES');
      for (const line of nodes.trim().split('\n')) {
        const [, address, flags, , , , , , ...ranges] = line.split(' ');
        if (!flags.includes('master')) continue;
        for (const range of ranges) {
          const [from, to = from] = range.split('-').map(Number);
          if (slot >= from && slot <= to) return { slot, port: Number(address.split('@')[0].split(':').pop()) };
        }
      }
      throw new Error(`no master serves slot ${slot}`);
    },
    /** Runs a command on one node with redis-cli and returns its output. */
    command: cli,
    /** SIGKILL one node. */
    kill,
    /** Starts a killed node again on its port with its nodes.conf: it rejoins with the same id and slots. */
    async restart(port) {
      await kill(port);
      await launch(port);
    },
    /** Waits until every running node reports cluster_state:ok. */
    waitForOk,
    /** Kills every node and removes the temp dir. */
    async stop() {
      await Promise.all([...children.keys()].map(kill));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
