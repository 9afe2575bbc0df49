// The only module that imports ioredis.
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { BusError } from '../errors.js';
import type { BusTransport, TransportConnection, TransportHandlers } from './transport.js';

/** What {@link RedisTransport} accepts: a URL, ioredis options, or a client of yours (never closed by us). */
export type RedisTransportTarget = string | RedisOptions | Redis | Cluster;

// Reconnect quickly: while the bus is down every process reads around its memory tier.
const retryStrategy = (times: number): number => Math.min(50 * 2 ** Math.min(times, 5), 1_000);

const OWN_CLIENT_DEFAULTS: RedisOptions = {
  // Commands must fail fast while disconnected: the bus keeps its own queue of unpublished keys,
  // and an ioredis offline queue would grow without bound during an outage.
  enableOfflineQueue: false,
  // We subscribe again ourselves on every 'ready', so that 'up' follows a confirmed SUBSCRIBE.
  autoResubscribe: false,
  maxRetriesPerRequest: 1,
  retryStrategy,
  connectionName: 'synced-cache',
};

function isCluster(target: RedisTransportTarget): target is Cluster {
  return target instanceof Cluster || (target as { isCluster?: unknown }).isCluster === true;
}

function isClient(target: RedisTransportTarget): target is Redis | Cluster {
  return target instanceof Redis || target instanceof Cluster || typeof (target as { duplicate?: unknown }).duplicate === 'function';
}

/**
 * The Redis pub/sub transport: a plain PUBLISH/SUBSCRIBE on a channel named after the namespace,
 * so operators can see it with `PUBSUB CHANNELS synced-cache:*`. Publishing and subscribing use separate
 * connections (a subscribed connection cannot publish).
 *
 * Given an ioredis `Cluster`, it publishes through that cluster client and subscribes on a connection of
 * its own to the master that owns the channel's slot: with sharded pub/sub (SPUBLISH/SSUBSCRIBE) on
 * Redis 7 and later, so a message travels to one shard instead of being broadcast to every node, and
 * with classic PUBLISH/SUBSCRIBE before 7.
 */
export class RedisTransport implements BusTransport {
  readonly echoesOwnMessages = true;
  readonly #target: RedisTransportTarget;

  constructor(target: RedisTransportTarget) {
    this.#target = target;
  }

  open(channel: string, handlers: TransportHandlers): TransportConnection {
    const target = this.#target;
    if (isCluster(target)) return new ClusterConnection(channel, handlers, target);
    let publisher: Redis | Cluster;
    let subscriber: Redis | Cluster;
    let ownsPublisher: boolean;
    if (isClient(target)) {
      publisher = target;
      subscriber = target.duplicate();
      ownsPublisher = false;
    } else if (typeof target === 'string') {
      publisher = new Redis(target, { ...OWN_CLIENT_DEFAULTS, connectionName: 'synced-cache:pub' });
      subscriber = new Redis(target, { ...OWN_CLIENT_DEFAULTS, connectionName: 'synced-cache:sub' });
      ownsPublisher = true;
    } else {
      publisher = new Redis({ ...OWN_CLIENT_DEFAULTS, connectionName: 'synced-cache:pub', ...target });
      subscriber = new Redis({ ...OWN_CLIENT_DEFAULTS, connectionName: 'synced-cache:sub', ...target });
      ownsPublisher = true;
    }
    return new RedisConnection(channel, handlers, publisher, subscriber, ownsPublisher);
  }
}

class RedisConnection implements TransportConnection {
  readonly #channel: string;
  readonly #handlers: TransportHandlers;
  readonly #publisher: Redis | Cluster;
  readonly #subscriber: Redis | Cluster;
  readonly #ownsPublisher: boolean;
  #closed = false;
  // Bumped on every connection change, so a SUBSCRIBE that completes after the socket it was sent on
  // has closed cannot report the subscription as up.
  #epoch = 0;

  constructor(
    channel: string,
    handlers: TransportHandlers,
    publisher: Redis | Cluster,
    subscriber: Redis | Cluster,
    ownsPublisher: boolean,
  ) {
    this.#channel = channel;
    this.#handlers = handlers;
    this.#publisher = publisher;
    this.#subscriber = subscriber;
    this.#ownsPublisher = ownsPublisher;

    // The message listener is attached before SUBSCRIBE is ever sent.
    subscriber.on('message', (ch: string, message: string) => {
      if (ch === this.#channel) this.#handlers.message(message);
    });
    subscriber.on('ready', () => this.#subscribe());
    subscriber.on('close', () => this.#lost('the subscriber connection to Redis closed'));
    subscriber.on('end', () => this.#lost('the subscriber connection to Redis ended'));
    subscriber.on('error', (error: Error) => {
      if (!this.#closed) this.#handlers.error(new BusError(`Redis subscriber: ${error.message}`, { cause: error }));
    });
    if (ownsPublisher) {
      publisher.on('error', (error: Error) => {
        if (!this.#closed) this.#handlers.error(new BusError(`Redis publisher: ${error.message}`, { cause: error }));
      });
    }
    if (subscriber.status === 'ready') this.#subscribe();
    else if (subscriber.status === 'wait') void subscriber.connect().catch(() => {});
  }

  #subscribe(): void {
    if (this.#closed) return;
    const epoch = ++this.#epoch;
    this.#subscriber.subscribe(this.#channel).then(
      () => {
        if (!this.#closed && epoch === this.#epoch) this.#handlers.up();
      },
      (error: unknown) => {
        if (this.#closed || epoch !== this.#epoch) return;
        // The connection is up but SUBSCRIBE failed: drop it so ioredis reconnects and we try again.
        this.#handlers.down(new BusError('SUBSCRIBE failed', { cause: error }));
        this.#subscriber.disconnect(true);
      },
    );
  }

  #lost(reason: string): void {
    this.#epoch++;
    if (!this.#closed) this.#handlers.down(new BusError(reason));
  }

  async publish(payload: string): Promise<void> {
    await this.#publisher.publish(this.#channel, payload);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#epoch++;
    // disconnect(), not quit(): QUIT waits for an answer a frozen Redis never sends.
    this.#subscriber.disconnect();
    if (this.#ownsPublisher) this.#publisher.disconnect();
  }
}

// ---------------------------------------------------------------------------------------------------
// Redis Cluster

const SLOTS = 16_384;

const CRC16_TABLE = (() => {
  const table = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let crc = i << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    table[i] = crc;
  }
  return table;
})();

/** The cluster slot of `key`: CRC16 (XMODEM) of the key, or of its `{hash tag}`, modulo 16384. */
export function keySlot(key: string): number {
  const bytes = Buffer.from(key);
  let start = 0;
  let end = bytes.length;
  const open = bytes.indexOf(0x7b);
  if (open !== -1) {
    const close = bytes.indexOf(0x7d, open + 1);
    if (close > open + 1) {
      start = open + 1;
      end = close;
    }
  }
  let crc = 0;
  for (let i = start; i < end; i++) crc = ((crc << 8) & 0xffff) ^ (CRC16_TABLE[((crc >> 8) ^ (bytes[i] as number)) & 0xff] as number);
  return crc % SLOTS;
}

// Our subscriber reconnects through #schedule() alone, because after a failure the slot may have
// moved to another node and the connection must be made to wherever it lives now.
const CLUSTER_SUBSCRIBER_OPTIONS: RedisOptions = {
  lazyConnect: true,
  enableOfflineQueue: false,
  autoResubscribe: false,
  maxRetriesPerRequest: 1,
  retryStrategy: () => null,
  readOnly: false,
  connectionName: 'synced-cache:sub',
};

/** True when the server reports Redis (or a compatible server such as Valkey) 7 or later. */
function hasShardedPubSub(info: string): boolean {
  const version = /^redis_version:(\d+)\./m.exec(info)?.[1];
  return version !== undefined && Number(version) >= 7;
}

class ClusterConnection implements TransportConnection {
  readonly #channel: string;
  readonly #slot: number;
  readonly #handlers: TransportHandlers;
  readonly #cluster: Cluster;
  #subscriber: Redis | undefined;
  /** Decided by the version of the node we subscribed on; undefined until the first subscription. */
  #sharded: boolean | undefined;
  #closed = false;
  #up = false;
  #attempt = 0;
  #timer: NodeJS.Timeout | undefined;
  // Bumped whenever a subscriber is given up, so that late callbacks of an abandoned one do nothing.
  #epoch = 0;

  constructor(channel: string, handlers: TransportHandlers, cluster: Cluster) {
    this.#channel = channel;
    this.#slot = keySlot(channel);
    this.#handlers = handlers;
    this.#cluster = cluster;
    if (cluster.status === 'wait') void cluster.connect().catch(() => {});
    void this.#connect();
  }

  async #connect(): Promise<void> {
    if (this.#closed) return;
    const epoch = ++this.#epoch;
    let subscriber: Redis | undefined;
    try {
      subscriber = this.#subscriberForSlotOwner();
      this.#subscriber = subscriber;
      this.#listen(subscriber, epoch);
      await subscriber.connect();
      const sharded = hasShardedPubSub(await subscriber.info('server'));
      // A node that no longer owns the slot answers SSUBSCRIBE with MOVED: handled as any failure.
      if (sharded) await subscriber.ssubscribe(this.#channel);
      else await subscriber.subscribe(this.#channel);
      if (this.#closed || epoch !== this.#epoch) return;
      this.#sharded = sharded;
      this.#attempt = 0;
      this.#up = true;
      this.#handlers.up();
    } catch (error) {
      this.#fail(epoch, error instanceof Error ? error : new Error(String(error)));
    }
  }

  /** A fresh connection to the master serving the channel's slot, as the cluster client last saw it. */
  #subscriberForSlotOwner(): Redis {
    const cluster = this.#cluster;
    if (cluster.status !== 'ready') throw new BusError(`the Redis Cluster client is not ready (${cluster.status})`);
    const owner = cluster.slots[this.#slot]?.[0];
    if (owner === undefined) throw new BusError(`no node serves slot ${this.#slot} of channel ${this.#channel}`);
    // Duplicating the pool's connection keeps per-node options (credentials, TLS) given to the cluster.
    const node = cluster.nodes('master').find((n) => `${n.options.host}:${n.options.port}` === owner);
    if (node !== undefined) return node.duplicate(CLUSTER_SUBSCRIBER_OPTIONS);
    const at = owner.lastIndexOf(':');
    return new Redis({
      ...cluster.options.redisOptions,
      host: owner.slice(0, at),
      port: Number(owner.slice(at + 1)),
      ...CLUSTER_SUBSCRIBER_OPTIONS,
    });
  }

  #listen(subscriber: Redis, epoch: number): void {
    // The message listeners are attached before SSUBSCRIBE/SUBSCRIBE is ever sent.
    const onMessage = (ch: string, message: string) => {
      if (ch === this.#channel && epoch === this.#epoch && !this.#closed) this.#handlers.message(message);
    };
    subscriber.on('smessage', onMessage);
    subscriber.on('message', onMessage);
    subscriber.on('close', () => this.#fail(epoch, new BusError('the subscriber connection to the Redis Cluster node closed')));
    subscriber.on('error', (error: Error) => {
      // Besides socket errors, this is how ioredis reports an unrequested SUNSUBSCRIBE: Redis drops
      // sharded subscriptions when their slot moves to another node. Either way, subscribe afresh.
      this.#fail(epoch, new BusError(`Redis Cluster subscriber: ${error.message}`, { cause: error }));
    });
  }

  #fail(epoch: number, error: Error): void {
    if (this.#closed || epoch !== this.#epoch) return;
    this.#epoch++;
    const subscriber = this.#subscriber;
    this.#subscriber = undefined;
    subscriber?.disconnect();
    if (this.#up) {
      this.#up = false;
      this.#handlers.down(error);
    } else {
      this.#handlers.error(error);
    }
    // The slot may have a new owner (a replica promoted, or resharding): ask the cluster again.
    if (this.#cluster.status === 'ready') this.#cluster.refreshSlotsCache();
    this.#timer = setTimeout(() => void this.#connect(), retryStrategy(++this.#attempt));
    this.#timer.unref();
  }

  async publish(payload: string): Promise<void> {
    // The cluster client may be one of the application's, with an offline queue and retries on a down
    // cluster; the transport contract is to fail now rather than deliver late.
    if (this.#closed) throw new BusError('the transport is closed');
    const status = this.#cluster.status;
    if (status !== 'ready') throw new BusError(`the Redis Cluster client is not ready (${status})`);
    if (this.#sharded === undefined) throw new BusError('not subscribed yet');
    if (this.#sharded) await this.#cluster.spublish(this.#channel, payload);
    else await this.#cluster.publish(this.#channel, payload);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#epoch++;
    clearTimeout(this.#timer);
    this.#subscriber?.disconnect();
    this.#subscriber = undefined;
  }
}
