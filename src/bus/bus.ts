import { randomUUID } from 'node:crypto';
import type { Clock } from '../clock.js';
import { BusError, InvalidMessageError } from '../errors.js';
import { type BusMessage, byteLength, channelFor, decodeMessage, encodeMessage, MessageType } from './messages.js';
import type { BusTransport, TransportConnection } from './transport.js';

/** Where the bus stands. Changed only through `#setStatus`. */
export type BusStatus = 'connecting' | 'up' | 'down' | 'closed';

/** Why the memory tier had to be dropped as a whole. */
export type FlushCause = 'reconnect' | 'gap' | 'clear';

/** What the bus tells the cache. Called synchronously. */
export interface BusHandlers {
  /** Another instance changed these keys (or everything, `'*'`). */
  invalidate(keys: readonly string[] | '*', origin: string, sentAt: number): void;
  /** Messages from `origin` were lost: memory can no longer be trusted as a whole. */
  gap(origin: string): void;
  /** The status changed. */
  status(status: BusStatus, previous: BusStatus, reason: Error | undefined): void;
  /** A message was ignored, or the transport reported an error. */
  error(error: Error): void;
}

export interface BusOptions {
  namespace: string;
  heartbeat: { interval: number; timeout: number };
  maxPendingKeys: number;
  maxMessageBytes: number;
  publishTimeout: number;
  /** Time source for heartbeat ages. */
  clock: Clock;
}

/** A batch of keys waiting to be published together, and the callers waiting on it. */
interface Batch {
  keys: string[];
  all: boolean;
  promise: Promise<void>;
  resolve: () => void;
}

interface Sender {
  seq: number;
  seenAt: number;
}

// How many recent lag samples the percentiles are computed over.
const LAG_WINDOW = 1024;

/** Propagation lag of received invalidations, in milliseconds. */
export interface LagStats {
  /** Invalidation messages measured since the start. */
  count: number;
  /** Median over the last 1,024 messages. */
  p50: number;
  /** 99th percentile over the last 1,024 messages. */
  p99: number;
  /** Largest since the start. */
  max: number;
}

// A sender silent for this many heartbeat intervals is gone (or was restarted under a new id).
const SENDER_EXPIRY_INTERVALS = 30;

function newBatch(): Batch {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { keys: [], all: false, promise, resolve };
}

/**
 * The invalidation bus: sequencing, batching, liveness and recovery on top of a transport.
 *
 * Pub/sub is at-most-once, so the bus never assumes delivery. It declares itself up only after one of
 * its own heartbeats has made the round trip through the transport, and down when one does not come
 * back in time or the transport reports the subscription lost. Every invalidation carries the sender's
 * id and a gapless sequence number, and heartbeats carry the last one, so a receiver notices a lost
 * message within a heartbeat interval. Keys that cannot be published are kept (bounded) and sent once
 * the bus is up again.
 */
export class Bus {
  /** This instance's id on the bus; its own messages are recognised by it. */
  readonly id: string = randomUUID();
  readonly #options: BusOptions;
  readonly #handlers: BusHandlers;
  readonly #echo: boolean;
  readonly #connection: TransportConnection;
  readonly #senders = new Map<string, Sender>();
  readonly #timer: NodeJS.Timeout | undefined;
  /** How every invalidation this instance sends begins. */
  readonly #ownInvalidation: string;

  #status: BusStatus = 'connecting';
  #transportUp = false;
  #seq = 0;
  #nonce = 0;
  /** The heartbeat we wait for: its nonce and when it was sent. */
  #probe: { nonce: number; sentAt: number; graced: boolean } | undefined;
  /** Only a heartbeat sent after the bus went down can bring it back up. */
  #upFloor = 1;
  #lastBeat: number;

  #inFlight: Batch | undefined;
  #next: Batch | undefined;
  readonly #pending = new Set<string>();
  #pendingAll = false;

  /** Propagation lag of the last received invalidations (sender's clock at sending to applied here), ms. */
  readonly #lags = new Float64Array(LAG_WINDOW);
  #lagCount = 0;
  #lagMax = 0;

  /** Keys published, received and messages ignored, for stats. A `'*'` counts as one key. */
  sent = 0;
  received = 0;
  ignored = 0;

  constructor(transport: BusTransport, options: BusOptions, handlers: BusHandlers) {
    this.#options = options;
    this.#handlers = handlers;
    this.#echo = transport.echoesOwnMessages;
    this.#lastBeat = options.clock.now();
    const probe = encodeMessage(options.namespace, { type: MessageType.Invalidate, origin: this.id, seq: 0, sentAt: 0, keys: [] });
    this.#ownInvalidation = probe.slice(0, probe.indexOf(',"q":'));
    // A transport may call back from inside open(); nothing here is ready for that until open() has
    // returned, so such calls are replayed on the next microtask.
    let opened = false;
    const whenOpen = (call: () => void) => (opened ? call() : queueMicrotask(call));
    this.#connection = transport.open(channelFor(options.namespace), {
      message: (payload) => whenOpen(() => this.#receive(payload)),
      up: () => whenOpen(() => this.#transportChanged(true, undefined)),
      down: (reason) => whenOpen(() => this.#transportChanged(false, reason)),
      error: (error) => whenOpen(() => this.#handlers.error(error)),
    });
    opened = true;
    // Every transport gets heartbeats: they carry the sender's last sequence number, so a lost message is
    // noticed within an interval; with an echoing transport they also prove the round trip.
    this.#timer = setInterval(() => this.#beat(), options.heartbeat.interval);
    this.#timer.unref();
  }

  /** Percentiles of the recent propagation lag. */
  lag(): LagStats {
    const n = Math.min(this.#lagCount, LAG_WINDOW);
    if (n === 0) return { count: 0, p50: 0, p99: 0, max: 0 };
    const sorted = this.#lags.slice(0, n).sort();
    const at = (q: number) => sorted[Math.min(n - 1, Math.floor(q * n))] as number;
    return { count: this.#lagCount, p50: at(0.5), p99: at(0.99), max: this.#lagMax };
  }

  get status(): BusStatus {
    return this.#status;
  }

  /** Keys waiting for the bus to come back (a pending "everything" counts as one). */
  get pendingKeys(): number {
    return this.#pendingAll ? 1 : this.#pending.size;
  }

  /**
   * Publishes an invalidation of `keys` (or everything). Resolves once it is published, or, when the bus
   * is down or the publish fails, once the keys are queued for the next reconnect. Never rejects.
   * Calls made while a publish is in flight share the next message.
   */
  publish(keys: readonly string[] | '*'): Promise<void> {
    if (this.#status === 'closed') {
      this.#handlers.error(new BusError(`the bus is closed: ${keys === '*' ? 'a clear' : `${keys.length} key(s)`} not announced`));
      return Promise.resolve();
    }
    if (this.#status !== 'up') {
      this.#queuePending(keys);
      return Promise.resolve();
    }
    const batch = this.#next ?? newBatch();
    if (keys === '*') batch.all = true;
    else if (!batch.all) for (const key of keys) batch.keys.push(key);
    if (this.#inFlight === undefined) {
      this.#next = undefined;
      this.#send(batch);
    } else {
      this.#next = batch;
    }
    return batch.promise;
  }

  async close(): Promise<void> {
    if (this.#status === 'closed') return;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    // Let the message in flight and the one queued behind it go out (each bounded by publishTimeout).
    while (this.#inFlight !== undefined) await this.#inFlight.promise;
    this.#setStatus('closed', undefined);
    await this.#connection.close();
  }

  #send(batch: Batch): void {
    this.#inFlight = batch;
    const seq = ++this.#seq;
    const count = batch.all ? 1 : batch.keys.length;
    let payload = encodeMessage(this.#options.namespace, {
      type: MessageType.Invalidate,
      origin: this.id,
      seq,
      sentAt: Date.now(),
      keys: batch.all ? '*' : batch.keys,
    });
    if (byteLength(payload, this.#options.maxMessageBytes) > this.#options.maxMessageBytes) {
      // Too many keys for one message: receivers drop everything instead, which is always safe.
      payload = encodeMessage(this.#options.namespace, {
        type: MessageType.Invalidate,
        origin: this.id,
        seq,
        sentAt: Date.now(),
        keys: '*',
      });
    }
    this.#withTimeout(this.#connection.publish(payload)).then(
      () => {
        this.sent += count;
        this.#finish(batch);
      },
      (error: unknown) => {
        this.#queuePending(batch.all ? '*' : batch.keys);
        const failure = new BusError(`publish failed, ${count} key(s) queued for the next attempt`, { cause: error });
        try {
          // Receivers will see a gap at our next sequence number and drop their memory. With an echoing
          // transport we stop trusting ours until a heartbeat proves the round trip again, and then
          // republish what is pending; without echo nothing would ever prove it, so the next beat retries.
          if (this.#echo) this.#setStatus('down', failure);
          else this.#handlers.error(failure);
        } finally {
          this.#finish(batch);
        }
      },
    );
  }

  #finish(batch: Batch): void {
    this.#inFlight = undefined;
    batch.resolve();
    const next = this.#next;
    if (next === undefined) return;
    this.#next = undefined;
    if (this.#status === 'up') this.#send(next);
    else {
      this.#queuePending(next.all ? '*' : next.keys);
      next.resolve();
    }
  }

  #withTimeout(publish: Promise<void>): Promise<void> {
    const ms = this.#options.publishTimeout;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new BusError(`publish timed out after ${ms} ms`)), ms);
      timer.unref();
      publish.then(
        () => {
          clearTimeout(timer);
          resolve();
        },
        (error: unknown) => {
          clearTimeout(timer);
          reject(error);
        },
      );
    });
  }

  #queuePending(keys: readonly string[] | '*'): void {
    if (this.#pendingAll) return;
    if (keys === '*' || this.#pending.size + keys.length > this.#options.maxPendingKeys) {
      this.#pendingAll = true;
      this.#pending.clear();
      return;
    }
    for (const key of keys) this.#pending.add(key);
  }

  #flushPending(): void {
    if (this.#pendingAll) {
      this.#pendingAll = false;
      void this.publish('*');
    } else if (this.#pending.size > 0) {
      const keys = [...this.#pending];
      this.#pending.clear();
      void this.publish(keys);
    }
  }

  #transportChanged(up: boolean, reason: Error | undefined): void {
    if (this.#status === 'closed') return;
    this.#transportUp = up;
    if (!up) {
      this.#setStatus('down', reason);
    } else if (!this.#echo) {
      this.#setStatus('up', undefined);
      // Tell the others our sequence number now, so they have a baseline before our first invalidation.
      this.#announceSeq();
    } else {
      // Subscribed: prove the round trip before trusting it.
      this.#sendProbe();
    }
  }

  #beat(): void {
    if (this.#status === 'closed') return;
    const now = this.#options.clock.now();
    this.#expireSenders(now);
    if (!this.#echo) {
      this.#announceSeq();
      if (this.#status === 'up') this.#flushPending();
      return;
    }
    const probe = this.#probe;
    const stalled = now - this.#lastBeat > this.#options.heartbeat.interval + this.#options.heartbeat.timeout / 2;
    this.#lastBeat = now;
    // After an event-loop stall (a long synchronous task, a GC pause) the answer may be waiting unread
    // in the socket: timers run before I/O is polled. Judge on the next beat instead of flushing for
    // nothing, but only once per probe, so that timers that are always late cannot hide a dead bus.
    if (stalled && probe !== undefined && !probe.graced) {
      probe.graced = true;
      return;
    }
    if (probe !== undefined) {
      if (now - probe.sentAt <= this.#options.heartbeat.timeout) return;
      this.#probe = undefined;
      if (this.#status !== 'down') {
        this.#setStatus('down', new BusError(`heartbeat not answered within ${this.#options.heartbeat.timeout} ms`));
      }
    }
    this.#sendProbe();
  }

  /** A heartbeat without echo: tells receivers our last sequence number, so they notice a lost message. */
  #announceSeq(): void {
    const payload = encodeMessage(this.#options.namespace, {
      type: MessageType.Heartbeat,
      origin: this.id,
      seq: this.#seq,
      nonce: ++this.#nonce,
      sentAt: Date.now(),
    });
    this.#connection.publish(payload).catch(() => {});
  }

  #sendProbe(): void {
    const nonce = ++this.#nonce;
    this.#probe = { nonce, sentAt: this.#options.clock.now(), graced: false };
    const payload = encodeMessage(this.#options.namespace, {
      type: MessageType.Heartbeat,
      origin: this.id,
      seq: this.#seq,
      nonce,
      sentAt: Date.now(),
    });
    // A failed heartbeat is reported by its absence.
    this.#connection.publish(payload).catch(() => {});
  }

  #expireSenders(now: number): void {
    const limit = now - SENDER_EXPIRY_INTERVALS * this.#options.heartbeat.interval;
    for (const [id, sender] of this.#senders) if (sender.seenAt < limit) this.#senders.delete(id);
  }

  #receive(payload: unknown): void {
    if (this.#status === 'closed') return;
    // Our own invalidations come back from Redis; recognising them by how they begin spares parsing
    // what can be a large batch.
    if (typeof payload === 'string' && payload.startsWith(this.#ownInvalidation)) return;
    const message = decodeMessage(this.#options.namespace, payload, this.#options.maxMessageBytes);
    if (typeof message === 'string') {
      this.ignored++;
      this.#handlers.error(new InvalidMessageError(message));
      return;
    }
    if (message.origin === this.id) {
      if (message.type === MessageType.Heartbeat) this.#ownHeartbeat(message.nonce);
      return;
    }
    this.#track(message);
    if (message.type === MessageType.Invalidate) {
      this.received += message.keys === '*' ? 1 : message.keys.length;
      this.#handlers.invalidate(message.keys, message.origin, message.sentAt);
      if (message.sentAt > 0) {
        // Wall clocks of two hosts can disagree; a negative lag says so and is kept at 0.
        const lag = Math.max(0, Date.now() - message.sentAt);
        this.#lags[this.#lagCount++ % LAG_WINDOW] = lag;
        if (lag > this.#lagMax) this.#lagMax = lag;
      }
    }
  }

  /** Checks the sender's sequence; a gap means lost messages. */
  #track(message: BusMessage): void {
    const sender = this.#senders.get(message.origin);
    const now = this.#options.clock.now();
    if (sender === undefined) {
      // First sight of this sender: whatever it sent before concerns writes that landed before our
      // memory could hold anything of theirs, so its current number is our baseline.
      this.#senders.set(message.origin, { seq: message.seq, seenAt: now });
      return;
    }
    sender.seenAt = now;
    const expected = message.type === MessageType.Invalidate ? sender.seq + 1 : sender.seq;
    if (message.seq > expected) this.#handlers.gap(message.origin);
    // Older numbers are duplicates (a command resent after a reconnect): harmless, never move back.
    if (message.seq > sender.seq) sender.seq = message.seq;
  }

  #ownHeartbeat(nonce: number): void {
    if (this.#probe !== undefined && nonce >= this.#probe.nonce) this.#probe = undefined;
    if (this.#status !== 'up' && this.#transportUp && nonce >= this.#upFloor) this.#setStatus('up', undefined);
  }

  #setStatus(status: BusStatus, reason: Error | undefined): void {
    const previous = this.#status;
    if (previous === status || previous === 'closed') return;
    this.#status = status;
    if (status === 'down') {
      this.#upFloor = this.#nonce + 1;
      // Sequences we saw before are no baseline after messages may have been missed; the flush on
      // reconnect covers what was lost.
      this.#senders.clear();
    }
    try {
      this.#handlers.status(status, previous, reason);
    } finally {
      if (status === 'up') this.#flushPending();
    }
  }
}
