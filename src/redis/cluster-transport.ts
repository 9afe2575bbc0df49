import { type Cluster, Redis } from 'ioredis';
import type { TransportConnection, TransportHandlers } from '../bus/transport.js';
import { BusError } from '../errors.js';
import { CLUSTER_SUBSCRIBER_OPTIONS, retryStrategy } from './clients.js';
import { keySlot } from './key-slot.js';

/** True when the server reports Redis (or a compatible server such as Valkey) 7 or later. */
function hasShardedPubSub(info: string): boolean {
  const version = /^redis_version:(\d+)\./m.exec(info)?.[1];
  return version !== undefined && Number(version) >= 7;
}

/**
 * The bus on a Redis Cluster: publishes through the application's cluster client and subscribes on a
 * connection of its own to the master that owns the channel's slot, with sharded pub/sub
 * (SPUBLISH/SSUBSCRIBE) on Redis 7 and later, so a message travels to one shard instead of being
 * broadcast to every node, and with classic PUBLISH/SUBSCRIBE before 7.
 */
export class ClusterConnection implements TransportConnection {
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
    const wasUp = this.#up;
    this.#restart();
    if (wasUp) this.#handlers.down(error);
    else this.#handlers.error(error);
  }

  /** Gives up the subscriber and schedules a fresh one, by the backoff. */
  #restart(): void {
    this.#epoch++;
    const subscriber = this.#subscriber;
    this.#subscriber = undefined;
    subscriber?.disconnect();
    this.#up = false;
    // The slot may have a new owner (a replica promoted, or resharding): ask the cluster again.
    if (this.#cluster.status === 'ready') this.#cluster.refreshSlotsCache();
    this.#timer = setTimeout(() => void this.#connect(), retryStrategy(++this.#attempt));
    this.#timer.unref();
  }

  /**
   * Drops the subscriber connection and makes a new one to wherever the slot lives now. The publishing
   * side is the application's cluster client, left as it is. Nothing to do while a new subscriber is
   * already scheduled.
   */
  reconnect(): void {
    if (this.#closed || this.#subscriber === undefined) return;
    const wasUp = this.#up;
    this.#restart();
    if (wasUp) this.#handlers.down(new BusError('the subscriber connection to the Redis Cluster node was dropped to reconnect'));
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
