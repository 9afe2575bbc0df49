import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { BusTransport, TransportConnection, TransportHandlers, TransportOpenOptions } from '../bus/transport.js';
import { BusError } from '../errors.js';
import { CLOSE_AT_ONCE, isClient, isCluster, OWN_CLIENT_DEFAULTS, type RedisOption } from './clients.js';
import { ClusterConnection } from './cluster-transport.js';
import { Scrubber, secretsOf } from './scrub.js';

/**
 * The Redis pub/sub transport: a plain PUBLISH/SUBSCRIBE on a channel named after the namespace,
 * so operators can see it with `PUBSUB CHANNELS synced-cache:*`. Publishing and subscribing use separate
 * connections (a subscribed connection cannot publish).
 *
 * Given an ioredis `Cluster`, it publishes through that cluster client and subscribes on a connection of
 * its own to the master that owns the channel's slot: with sharded pub/sub (SPUBLISH/SSUBSCRIBE) on
 * Redis 7 and later, so a message travels to one shard instead of being broadcast to every node, and
 * with classic PUBLISH/SUBSCRIBE before 7.
 *
 * Every error it hands out (down reasons, reported errors, rejected publishes) is a copy with the
 * credentials masked, down its `cause` chain: ioredis attaches the AUTH command, password included, to
 * the error of a failed login.
 */
export class RedisTransport implements BusTransport {
  readonly echoesOwnMessages = true;
  readonly #target: RedisOption;
  readonly #scrubber: Scrubber;

  constructor(target: RedisOption) {
    this.#target = target;
    this.#scrubber = new Scrubber(secretsOf(target));
  }

  open(channel: string, handlers: TransportHandlers, options: TransportOpenOptions = {}): TransportConnection {
    const scrubber = this.#scrubber;
    const connection = this.#open(channel, options.publishOnly === true, {
      message: (payload) => handlers.message(payload),
      up: () => handlers.up(),
      down: (reason) => handlers.down(scrubber.error(reason)),
      error: (error) => handlers.error(scrubber.error(error)),
    });
    return {
      publish: (payload) =>
        connection.publish(payload).catch((error: unknown) => {
          throw scrubber.error(error);
        }),
      close: () => connection.close(),
      reconnect: () => connection.reconnect?.(),
    };
  }

  #open(channel: string, publishOnly: boolean, handlers: TransportHandlers): TransportConnection {
    const target = this.#target;
    if (isCluster(target)) return new ClusterConnection(channel, handlers, target);
    let publisher: Redis;
    let subscriber: Redis;
    let ownsPublisher: boolean;
    if (isClient(target)) {
      publisher = target;
      subscriber = target.duplicate(CLOSE_AT_ONCE);
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
    // Publishing only: the subscription that proves the connection up is to a channel nobody else uses, so
    // this process is not sent what every other one publishes (a sharded cluster subscribes as usual).
    const listen = publishOnly ? `${channel}:up:${randomUUID()}` : channel;
    return new RedisConnection(channel, listen, handlers, publisher, subscriber, ownsPublisher);
  }
}

class RedisConnection implements TransportConnection {
  /** Where it publishes. */
  readonly #channel: string;
  /**
   * What it subscribes to: the channel, or for a publish-only connection one of its own, until a Redis
   * user limited to the channels themselves (an ACL) refuses that: then the channel after all.
   */
  #listen: string;
  readonly #handlers: TransportHandlers;
  readonly #publisher: Redis;
  readonly #subscriber: Redis;
  readonly #ownsPublisher: boolean;
  #closed = false;
  /** The subscriber's last error since it was last ready: why its connection closed, for the down reason. */
  #lastError: Error | undefined;
  // Bumped on every connection change, so a SUBSCRIBE that completes after the socket it was sent on
  // has closed cannot report the subscription as up.
  #epoch = 0;

  constructor(channel: string, listen: string, handlers: TransportHandlers, publisher: Redis, subscriber: Redis, ownsPublisher: boolean) {
    this.#channel = channel;
    this.#listen = listen;
    this.#handlers = handlers;
    this.#publisher = publisher;
    this.#subscriber = subscriber;
    this.#ownsPublisher = ownsPublisher;

    // The message listener is attached before SUBSCRIBE is ever sent.
    subscriber.on('message', (ch: string, message: string) => {
      if (ch === this.#listen) this.#handlers.message(message);
    });
    subscriber.on('ready', () => {
      this.#lastError = undefined;
      this.#subscribe();
    });
    subscriber.on('close', () => this.#lost('the subscriber connection to Redis closed'));
    subscriber.on('end', () => this.#lost('the subscriber connection to Redis ended'));
    subscriber.on('error', (error: Error) => {
      this.#lastError = error;
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
    this.#subscriber.subscribe(this.#listen).then(
      () => {
        if (!this.#closed && epoch === this.#epoch) this.#handlers.up();
      },
      (error: unknown) => {
        if (this.#closed || epoch !== this.#epoch) return;
        if (this.#listen !== this.#channel && /NOPERM/.test(String((error as Error | undefined)?.message))) {
          // An ACL that names the channels exactly: subscribe to the channel itself (its messages are
          // dropped), as before publish-only connections, rather than fail for good.
          this.#listen = this.#channel;
          this.#subscribe();
          return;
        }
        // The connection is up but SUBSCRIBE failed: drop it so ioredis reconnects and we try again.
        this.#handlers.down(new BusError('SUBSCRIBE failed', { cause: error }));
        this.#subscriber.disconnect(true);
      },
    );
  }

  #lost(what: string): void {
    this.#epoch++;
    if (this.#closed) return;
    // ioredis reports why (ECONNREFUSED, WRONGPASS, ...) as an 'error' just before the close.
    const error = this.#lastError;
    this.#handlers.down(error === undefined ? new BusError(what) : new BusError(`${what}: ${error.message}`, { cause: error }));
  }

  async publish(payload: string): Promise<void> {
    await this.#publisher.publish(this.#channel, payload);
  }

  /** Drops both connections (only the subscriber when the publisher is the application's client). */
  reconnect(): void {
    if (this.#closed) return;
    drop(this.#subscriber);
    if (this.#ownsPublisher) drop(this.#publisher);
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

/**
 * Destroys the client's socket, as a reset from the network would: ioredis then reconnects by its retry
 * strategy. Not `disconnect(true)`, which ends the socket politely and waits `disconnectTimeout` for a
 * peer that, on a dead path, never answers. A socket already gone (a reconnect scheduled) is left alone.
 */
function drop(client: Redis): void {
  (client.stream as Redis['stream'] | undefined)?.destroy();
}
