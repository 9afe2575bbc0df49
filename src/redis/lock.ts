import { randomUUID } from 'node:crypto';
import { type Cluster, Redis, type RedisOptions } from 'ioredis';
import type { KeyLock } from '../read/lock.js';
import { CLOSE_AT_ONCE, isClient, isCluster, type RedisOption, retryStrategy } from './clients.js';
import { Scrubber, secretsOf } from './scrub.js';

const LOCK_CLIENT: RedisOptions = {
  lazyConnect: true,
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
  // A command on a connection that went silent is given up rather than left in ioredis's queue.
  commandTimeout: 2_000,
  retryStrategy,
  connectionName: 'synced-cache:lock',
  ...CLOSE_AT_ONCE,
};

// Deletes the lock only if it still holds our token: after an expiry it may be another process's.
const RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

/**
 * The getOrSet lock on the bus's Redis: `SET name token NX PX ttl` to take it, a compare-and-delete
 * script to give it up. On a connection of its own, opened on first use (a cache that never locks opens
 * none), failing fast while Redis is down: a load then runs without the lock rather than wait.
 */
export class RedisLock implements KeyLock {
  readonly #target: RedisOption;
  readonly #scrubber: Scrubber;
  #client: Redis | Cluster | undefined;
  #connected: Promise<void> | undefined;

  constructor(target: RedisOption) {
    this.#target = target;
    this.#scrubber = new Scrubber(secretsOf(target));
  }

  /** The lock's own connection, ready: without an offline queue, a command sent while connecting fails. */
  async #connection(): Promise<Redis | Cluster> {
    if (this.#client === undefined) {
      const target = this.#target;
      let client: Redis | Cluster;
      if (isCluster(target)) client = target.duplicate([], { lazyConnect: true, enableOfflineQueue: false });
      else if (isClient(target)) client = target.duplicate(LOCK_CLIENT);
      else if (typeof target === 'string') client = new Redis(target, LOCK_CLIENT);
      else client = new Redis({ ...LOCK_CLIENT, ...target });
      // Failures surface as rejected commands; an 'error' event with no listener would throw.
      client.on('error', () => {});
      this.#client = client;
      this.#connected = client.status === 'wait' ? client.connect() : Promise.resolve();
      // A failed first connection is retried by the next call.
      this.#connected.catch(() => {
        if (this.#client === client) this.#connected = undefined;
      });
    }
    if (this.#connected === undefined) this.#connected = Promise.resolve();
    await this.#connected;
    return this.#client;
  }

  async acquire(name: string, ttl: number): Promise<string | undefined> {
    const token = randomUUID();
    try {
      const reply = await (await this.#connection()).set(name, token, 'PX', ttl, 'NX');
      return reply === 'OK' ? token : undefined;
    } catch (error) {
      throw this.#scrubber.error(error instanceof Error ? error : new Error(String(error)));
    }
  }

  async release(name: string, token: string): Promise<void> {
    try {
      await (await this.#connection()).eval(RELEASE, 1, name, token);
    } catch (error) {
      throw this.#scrubber.error(error instanceof Error ? error : new Error(String(error)));
    }
  }

  async close(): Promise<void> {
    this.#client?.disconnect();
    this.#client = undefined;
  }
}
