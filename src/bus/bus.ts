import { randomUUID } from 'node:crypto';
import { quote } from '../check.js';
import { type Clock, withTimeout } from '../clock.js';
import { BusError, InvalidMessageError } from '../errors.js';
import { Lag, type LagStats } from './lag.js';
import { Liveness } from './liveness.js';
import { byteLength, channelFor, encodeMessage, MessageType, ownMessagePrefix, Refusal, readMessage } from './messages.js';
import { type Batch, keysOf, Outbox } from './outbox.js';
import { Senders } from './senders.js';
import { type MessageSigner, SIGNATURE_REPORT_INTERVAL, SignatureReports } from './signing.js';
import type { BusTransport, TransportConnection } from './transport.js';

export type { LagStats } from './lag.js';

/** Where the bus stands. Changed only through `#setStatus`. */
export type BusStatus = 'connecting' | 'up' | 'down' | 'closed';

/** Why the memory tier had to be dropped as a whole. */
export type FlushCause = 'reconnect' | 'gap' | 'clear';

/** What the bus tells the cache. Called synchronously. */
export interface BusHandlers {
  /** Another instance changed these keys (or everything, `'*'`). */
  invalidate(keys: readonly string[] | '*', origin: string, sentAt: number): void;
  /** Messages from `origin` were lost (or may have been): memory can no longer be trusted as a whole. */
  gap(origin: string): void;
  /** The status changed. */
  status(status: BusStatus, previous: BusStatus, reason: Error | undefined): void;
  /** A message was ignored, or the transport reported an error. */
  error(error: Error): void;
  /**
   * The bus has not come up within {@link NOT_UP_BEATS} heartbeat intervals of its start. Called once,
   * and only if it never came up; `reason` is a {@link BusError} whose message ends with what failed
   * last (ECONNREFUSED, an AUTH failure, an unanswered heartbeat), that failure as its `cause`.
   */
  notUp?(reason: Error): void;
  /**
   * The bus had its transport drop and reopen its connections (a heartbeat went unanswered, so their
   * path may have died silently): other connections to the same Redis are worth reopening too.
   */
  reconnected?(): void;
}

export interface BusOptions {
  namespace: string;
  heartbeat: { interval: number; timeout: number };
  maxPendingKeys: number;
  maxMessageBytes: number;
  publishTimeout: number;
  /** Time source for heartbeat and sender ages. */
  clock: Clock;
  /** This instance's id, its messages' origin: the cache's instance id. @default a random UUID */
  id?: string;
  /** Most senders whose sequence numbers are remembered. @default {@link MAX_SENDERS} */
  maxSenders?: number;
  /**
   * Signs every message sent (heartbeats included) and drops every message received without a valid
   * signature. Without it, messages are neither signed nor checked.
   */
  signer?: MessageSigner | undefined;
}

/**
 * Heartbeat intervals after its start at which a bus that never came up says so ({@link BusHandlers.notUp}):
 * 3 s by default. A bus normally comes up within one round trip to Redis.
 */
export const NOT_UP_BEATS = 3;

/**
 * Senders remembered at most, by default. About 150 bytes each, so 1.5 MB at most; a namespace with
 * more live processes than this is beyond what one pub/sub channel is for.
 */
export const MAX_SENDERS = 10_000;

// A sender silent for this many heartbeat intervals is gone (or was restarted under a new id).
const SENDER_EXPIRY_INTERVALS = 30;

/**
 * The invalidation bus: the status machine that composes sequencing ({@link Senders}), batching and
 * pending keys ({@link Outbox}), liveness ({@link Liveness}) and lag statistics ({@link Lag}) on top of
 * a transport, and does their I/O.
 *
 * Pub/sub is at-most-once, so the bus never assumes delivery. It declares itself up only after one of
 * its own heartbeats has made the round trip through the transport, and down when one does not come
 * back in time (and then has the transport reconnect, with backoff) or the transport reports the
 * subscription lost. Every invalidation carries the sender's id and a gapless sequence number, and
 * heartbeats carry the last one, so a receiver notices a lost message within a heartbeat interval.
 * Keys that cannot be published are kept (bounded) and sent once the bus is up again.
 */
export class Bus {
  /** This instance's id on the bus; its own messages are recognised by it. */
  readonly id: string;
  readonly #options: BusOptions;
  readonly #handlers: BusHandlers;
  readonly #echo: boolean;
  readonly #connection: TransportConnection;
  readonly #timer: NodeJS.Timeout | undefined;
  /** How every invalidation this instance sends begins. */
  readonly #ownInvalidation: string;
  readonly #outbox: Outbox;
  readonly #liveness: Liveness;
  readonly #senders: Senders;
  readonly #lag = new Lag();
  readonly #signatureReports = new SignatureReports();

  #status: BusStatus = 'connecting';
  #transportUp = false;
  #seq = 0;
  #beats = 0;
  #everUp = false;
  /** The latest failure reported while not up: what {@link BusHandlers.notUp} names. */
  #lastFailure: Error | undefined;

  /** Keys published, received and messages ignored, for stats. A `'*'` counts as one key. */
  sent = 0;
  received = 0;
  ignored = 0;
  /** Times the bus had the transport drop and reopen its connections after an unanswered heartbeat. */
  reconnects = 0;

  constructor(transport: BusTransport, options: BusOptions, handlers: BusHandlers) {
    this.id = options.id ?? randomUUID();
    this.#options = options;
    this.#handlers = handlers;
    this.#echo = transport.echoesOwnMessages;
    this.#ownInvalidation = ownMessagePrefix(options.namespace, this.id);
    this.#outbox = new Outbox(options.maxPendingKeys);
    this.#liveness = new Liveness(options.heartbeat, options.clock.now());
    this.#senders = new Senders(
      {
        max: options.maxSenders ?? MAX_SENDERS,
        maxAge: SENDER_EXPIRY_INTERVALS * options.heartbeat.interval,
      },
      options.clock.now(),
    );
    // A transport may call back from inside open(); nothing here is ready for that until open() has
    // returned, so such calls are replayed on the next microtask.
    let opened = false;
    const whenOpen = (call: () => void) => (opened ? call() : queueMicrotask(call));
    this.#connection = transport.open(channelFor(options.namespace), {
      message: (payload) => whenOpen(() => this.#receive(payload)),
      up: () => whenOpen(() => this.#transportChanged(true, undefined)),
      down: (reason) => whenOpen(() => this.#transportChanged(false, reason)),
      error: (error) => whenOpen(() => this.#transportFailed(error)),
    });
    opened = true;
    // Every transport gets heartbeats: they carry the sender's last sequence number, so a lost message is
    // noticed within an interval; with an echoing transport they also prove the round trip.
    this.#timer = setInterval(() => this.#beat(), options.heartbeat.interval);
    this.#timer.unref();
  }

  /** Percentiles of the recent propagation lag. */
  lag(): LagStats {
    return this.#lag.stats();
  }

  /** Received invalidations whose lag was left out of {@link lag} as implausible (negative, or over a minute). */
  get implausibleLags(): number {
    return this.#lag.implausible;
  }

  /** Senders forgotten because more than `maxSenders` were heard from (each may have cost a memory flush). */
  get sendersEvicted(): number {
    return this.#senders.evicted;
  }

  /** Senders forgotten after 30 (to 60) heartbeat intervals of silence. */
  get sendersExpired(): number {
    return this.#senders.expired;
  }

  /** Senders whose sequence numbers are remembered now. */
  get sendersTracked(): number {
    return this.#senders.size;
  }

  /** Why the bus is not up, as last reported (the transport's error, or an unanswered heartbeat); `undefined` while up. */
  get failure(): Error | undefined {
    return this.#status === 'up' ? undefined : this.#lastFailure;
  }

  get status(): BusStatus {
    return this.#status;
  }

  /** Keys waiting for the bus to come back (a pending "everything" counts as one). */
  get pendingKeys(): number {
    return this.#outbox.kept;
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
      this.#outbox.keep(keys);
      return Promise.resolve();
    }
    const done = this.#outbox.add(keys);
    this.#sendNext();
    return done;
  }

  async close(): Promise<void> {
    if (this.#status === 'closed') return;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    // Let the message in flight and the one queued behind it go out (each bounded by publishTimeout).
    for (let inFlight = this.#outbox.inFlight; inFlight !== undefined; inFlight = this.#outbox.inFlight) await inFlight;
    this.#setStatus('closed', undefined);
    await this.#connection.close();
  }

  #sendNext(): void {
    const batch = this.#outbox.takeNext();
    if (batch !== undefined) this.#send(batch);
  }

  #send(batch: Batch): void {
    const seq = ++this.#seq;
    const count = batch.all ? 1 : batch.keys.length;
    let payload = this.#invalidation(seq, keysOf(batch));
    if (byteLength(payload, this.#options.maxMessageBytes) > this.#options.maxMessageBytes) {
      // Too many keys for one message: receivers drop everything instead, which is always safe.
      payload = this.#invalidation(seq, '*');
    }
    const ms = this.#options.publishTimeout;
    withTimeout(this.#connection.publish(payload), ms, () => new BusError(`publish timed out after ${ms} ms`)).then(
      () => {
        this.sent += count;
        this.#settle();
      },
      (error: unknown) => {
        this.#outbox.keep(keysOf(batch));
        const failure = new BusError(`publish failed, ${count} key(s) queued for the next attempt`, { cause: error });
        try {
          // Receivers will see a gap at our next sequence number and drop their memory. With an echoing
          // transport we stop trusting ours until a heartbeat proves the round trip again, and then
          // republish what is pending; without echo nothing would ever prove it, so the next beat retries.
          if (this.#echo) this.#setStatus('down', failure);
          else this.#handlers.error(failure);
        } finally {
          this.#settle();
        }
      },
    );
  }

  /** The batch in flight is done: the one gathering behind it goes out now, or is kept while not up. */
  #settle(): void {
    this.#outbox.settle();
    if (this.#status === 'up') this.#sendNext();
    else this.#outbox.keepNext();
  }

  #invalidation(seq: number, keys: readonly string[] | '*'): string {
    return encodeMessage(
      this.#options.namespace,
      { type: MessageType.Invalidate, origin: this.id, seq, sentAt: Date.now(), keys: keys as string[] | '*' },
      this.#options.signer,
    );
  }

  #heartbeat(nonce: number): string {
    return encodeMessage(
      this.#options.namespace,
      { type: MessageType.Heartbeat, origin: this.id, seq: this.#seq, nonce, sentAt: Date.now() },
      this.#options.signer,
    );
  }

  #publishKept(): void {
    const kept = this.#outbox.takeKept();
    if (kept !== undefined) void this.publish(kept);
  }

  #transportChanged(up: boolean, reason: Error | undefined): void {
    if (this.#status === 'closed') return;
    this.#transportUp = up;
    if (!up) {
      this.#lastFailure = reason ?? this.#lastFailure;
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

  #transportFailed(error: Error): void {
    if (this.#status !== 'up') this.#lastFailure = error;
    this.#handlers.error(error);
  }

  #beat(): void {
    if (this.#status === 'closed') return;
    const now = this.#options.clock.now();
    this.#senders.expire(now);
    this.#beats++;
    if (!this.#echo) {
      this.#announceSeq();
      if (this.#status === 'up') this.#publishKept();
    } else {
      const verdict = this.#liveness.beat(now);
      if (verdict === 'unanswered') this.#heartbeatUnanswered(now);
      if (verdict !== 'wait') this.#sendProbe();
    }
    if (this.#beats === NOT_UP_BEATS && !this.#everUp) this.#reportNotUp();
  }

  #heartbeatUnanswered(now: number): void {
    const failure = new BusError(`heartbeat not answered within ${this.#options.heartbeat.timeout} ms`);
    // What the transport said is the better reason: it names the cause (ECONNREFUSED, WRONGPASS).
    this.#lastFailure ??= failure;
    if (this.#status !== 'down') this.#setStatus('down', failure);
    // The connections may look fine and be dead (a path that vanished without a reset): make new ones.
    if (this.#connection.reconnect !== undefined && this.#liveness.reconnectDue(now)) {
      this.reconnects++;
      try {
        this.#connection.reconnect();
      } catch (error) {
        this.#handlers.error(new BusError('the transport failed to reconnect', { cause: error }));
      }
      this.#handlers.reconnected?.();
    }
  }

  #reportNotUp(): void {
    const last = this.#lastFailure;
    const after = `${NOT_UP_BEATS} heartbeat intervals (${NOT_UP_BEATS * this.#options.heartbeat.interval} ms)`;
    const what = last?.message ?? 'the transport has not reported the subscription in place';
    this.#handlers.notUp?.(
      new BusError(`the bus has not come up within ${after}: ${what}`, last === undefined ? undefined : { cause: last }),
    );
  }

  /** A heartbeat without echo: tells receivers our last sequence number, so they notice a lost message. */
  #announceSeq(): void {
    this.#connection.publish(this.#heartbeat(this.#liveness.nextNonce())).catch(() => {});
  }

  #sendProbe(): void {
    const nonce = this.#liveness.probe(this.#options.clock.now());
    // A failed heartbeat is reported by its absence.
    this.#connection.publish(this.#heartbeat(nonce)).catch(() => {});
  }

  #receive(payload: unknown): void {
    if (this.#status === 'closed') return;
    // Our own invalidations come back from Redis; recognising them by how they begin spares parsing
    // (and hashing) what can be a large batch. One forged to begin so is dropped as well: it changes nothing.
    if (typeof payload === 'string' && payload.startsWith(this.#ownInvalidation)) return;
    const message = readMessage(this.#options.namespace, payload, this.#options.maxMessageBytes, this.#options.signer);
    if (message instanceof Refusal) {
      this.#refused(message);
      return;
    }
    if (message.origin === this.id) {
      if (message.type === MessageType.Heartbeat) this.#ownHeartbeat(message.nonce);
      return;
    }
    const invalidation = message.type === MessageType.Invalidate;
    const heard = this.#senders.heard(message.origin, message.seq, invalidation, this.#options.clock.now());
    // A number already heard from this sender: the message was applied when it first came (a command
    // resent after a reconnect, or a replay by someone who recorded it). Applying it again would let a
    // replayed "drop everything" flush memory at will.
    if (heard === 'duplicate') return;
    if (heard === 'gap') this.#handlers.gap(message.origin);
    if (message.type === MessageType.Invalidate) {
      this.received += message.keys === '*' ? 1 : message.keys.length;
      this.#handlers.invalidate(message.keys, message.origin, message.sentAt);
      // A message without a timestamp (0) is not measured.
      if (message.sentAt > 0) this.#lag.record(message.sentAt, Date.now());
    }
  }

  /**
   * Counts and reports a message that was ignored. A signature failure is reported once per sender it
   * claims per minute: a misconfigured process keeps sending them, heartbeats every interval.
   */
  #refused(refusal: Refusal): void {
    this.ignored++;
    if (!refusal.signature) {
      this.#handlers.error(new InvalidMessageError(refusal.reason));
      return;
    }
    if (!this.#signatureReports.due(refusal.sender, this.#options.clock.now())) return;
    const from = refusal.sender === undefined ? 'a sender it does not name' : `sender ${quote(refusal.sender)} (as it claims)`;
    this.#handlers.error(
      new InvalidMessageError(
        `${refusal.reason}, from ${from}; more from it within ${SIGNATURE_REPORT_INTERVAL / 1_000} s are counted in stats().invalidations.ignored, not reported`,
      ),
    );
  }

  #ownHeartbeat(nonce: number): void {
    const proves = this.#liveness.answered(nonce);
    if (this.#status !== 'up' && this.#transportUp && proves) this.#setStatus('up', undefined);
  }

  #setStatus(status: BusStatus, reason: Error | undefined): void {
    const previous = this.#status;
    if (previous === status || previous === 'closed') return;
    this.#status = status;
    if (status === 'down') {
      this.#liveness.wentDown();
      // Sequences we saw before are no baseline after messages may have been missed; the flush on
      // reconnect covers what was lost.
      this.#senders.forgetAll();
    } else if (status === 'up') {
      this.#everUp = true;
      this.#lastFailure = undefined;
      this.#liveness.wentUp();
    }
    try {
      this.#handlers.status(status, previous, reason);
    } finally {
      if (status === 'up') this.#publishKept();
    }
  }
}
