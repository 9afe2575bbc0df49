import { withTimeout } from '../clock.js';
import { BusError } from '../errors.js';
import type { EventSink, StreamedEvent } from '../observe/events.js';
import { EVENTS_TAIL, encodeEventRecord, encodeEvents, eventsChannelFor, eventsHead } from './event-messages.js';
import { byteLength } from './messages.js';
import type { MessageSigner } from './signing.js';
import type { BusTransport, TransportConnection } from './transport.js';

/** Most events waiting to be sent, by default; past it, new ones are dropped (and counted). */
export const EVENT_QUEUE_LIMIT = 10_000;

/**
 * Most characters of keys waiting to be sent, as a multiple of `maxMessageBytes`: 10,000 events of keys
 * as long as `maxKeyLength` allows would otherwise hold 640 MB while the channel has not come up.
 */
export const EVENT_QUEUE_MESSAGES = 16;

/**
 * Milliseconds a batch gathers events before it is sent. A person watching does not see 10 ms, and a
 * process writing one key after another sends one message per 10 ms instead of one per write: measured
 * on sequential sets against a local Redis, a message per write doubled the CPU time of a set.
 */
export const EVENT_LINGER_MS = 10;

/** What a signature adds to a message: `.` and 43 characters. */
const SIGNATURE_CHARS = 44;

export interface EventPublisherOptions {
  namespace: string;
  /** The cache's instance id: the batches' origin. */
  instance: string;
  /** Signs every batch for the events channel, as the bus signs its messages. */
  signer: MessageSigner | undefined;
  /** Largest message sent, in bytes; a batch is cut to fit, an event that cannot fit alone is dropped. */
  maxMessageBytes: number;
  /** Milliseconds a publish may take; a batch that takes longer counts as dropped (it may still arrive). */
  publishTimeout: number;
  /** @default {@link EVENT_QUEUE_LIMIT} */
  maxQueued?: number;
}

/**
 * Publishes a cache's streamed events on its namespace's events channel, best effort.
 *
 * `write()` is called inside the operation that raised the event, so it only appends three values to a
 * flat queue: no encoding, no I/O, nothing awaited. Sending happens afterwards, in batches: what
 * gathered for {@link EVENT_LINGER_MS} goes in one message (cut to `maxMessageBytes`), one message in
 * flight at a time. Events raised before the channel first comes up wait for it; while it is down
 * later, when `maxQueued` are already waiting, and when a publish fails or times out, events are dropped:
 * counted in `dropped`, and told to watchers by the next message's drop count. Nothing is retried, so an
 * outage never grows a backlog.
 */
export class EventPublisher implements EventSink {
  /** Events that reached Redis (the transport's publish resolved). */
  published = 0;
  /** Events given up. */
  dropped = 0;
  readonly #options: EventPublisherOptions;
  readonly #limit: number;
  readonly #connection: TransportConnection;
  /** event, key, at, event, key, at, ...: flat, so that a write allocates nothing of its own. */
  readonly #queue: (string | number | undefined)[] = [];
  /** Characters of the keys in the queue, bounded by {@link EVENT_QUEUE_MESSAGES} messages' worth. */
  #queuedChars = 0;
  readonly #charLimit: number;
  /** Bytes a batch's head may take at most (its numbers at their widest), so a batch is cut before encoding it. */
  readonly #headBytes: number;
  #state: 'connecting' | 'up' | 'down' | 'closed' = 'connecting';
  #seq = 0;
  /** Dropped since the last message that reached Redis: the next message says so. */
  #unreported = 0;
  #timer: NodeJS.Timeout | undefined;
  #inFlight: Promise<void> | undefined;
  #failedWhileClosing = false;
  #closing: Promise<void> | undefined;

  constructor(transport: BusTransport, options: EventPublisherOptions) {
    this.#options = options;
    this.#limit = options.maxQueued ?? EVENT_QUEUE_LIMIT;
    this.#charLimit = options.maxMessageBytes * EVENT_QUEUE_MESSAGES;
    const widest = Number.MAX_SAFE_INTEGER;
    this.#headBytes =
      Buffer.byteLength(eventsHead(options.namespace, options.instance, widest, widest)) +
      EVENTS_TAIL.length +
      (options.signer === undefined ? 0 : SIGNATURE_CHARS);
    // A transport may call back from inside open(), before #connection is set: state changes only.
    // Publish-only: with N caches streaming, each would otherwise be sent the events of all N.
    this.#connection = transport.open(
      eventsChannelFor(options.namespace),
      {
        // A transport that ignores publishOnly delivers every process's events, ours among them: none is for us.
        message: () => {},
        up: () => this.#changed('up'),
        down: () => this.#changed('down'),
        // The bus reports the state of the same Redis; once is enough.
        error: () => {},
      },
      { publishOnly: true },
    );
  }

  /** Events waiting to be sent. */
  get queued(): number {
    return this.#queue.length / 3;
  }

  write(event: StreamedEvent, key: string | undefined, at: number): void {
    const chars = key === undefined ? 0 : key.length;
    if (
      this.#state === 'down' ||
      this.#state === 'closed' ||
      this.#queue.length >= this.#limit * 3 ||
      this.#queuedChars + chars > this.#charLimit
    ) {
      this.#lose(1);
      return;
    }
    this.#queuedChars += chars;
    this.#queue.push(event, key, at);
    if (this.#state === 'up') this.#schedule();
  }

  /**
   * Drops and reopens the connection, when the bus found the path to Redis dead (a heartbeat went
   * unanswered): a connection whose path vanished without a reset still looks up, and every batch sent
   * on it would time out, and stay in its write buffer, until the kernel gives up on it.
   */
  reconnect(): void {
    if (this.#state === 'closed' || this.#closing !== undefined) return;
    try {
      this.#connection.reconnect?.();
    } catch {
      // Best effort, like everything here: the bus reports its own reconnect failing.
    }
  }

  /**
   * Sends what is queued, only while up and for at most `publishTimeout` in all (a slow Redis would
   * otherwise take one round trip per batch of a long queue), then drops the rest and closes the
   * channel. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      clearTimeout(this.#timer);
      this.#timer = undefined;
      const ms = this.#options.publishTimeout;
      const drain = (async () => {
        while (this.#inFlight !== undefined || (this.#state === 'up' && this.#queue.length > 0 && !this.#failedWhileClosing)) {
          if (this.#inFlight === undefined) this.#send();
          await this.#inFlight;
        }
      })();
      await withTimeout(drain, ms, () => new BusError(`event drain timed out after ${ms} ms`)).catch(() => {
        // What is still queued is dropped below; the batch in flight is counted when it settles.
        this.#failedWhileClosing = true;
      });
      this.#lose(this.queued);
      this.#queue.length = 0;
      this.#queuedChars = 0;
      this.#state = 'closed';
      await this.#connection.close();
    })();
    return this.#closing;
  }

  #changed(state: 'up' | 'down'): void {
    if (this.#state === 'closed') return;
    this.#state = state;
    if (state === 'up') {
      if (this.#queue.length > 0) this.#schedule();
    } else {
      this.#lose(this.queued);
      this.#queue.length = 0;
      this.#queuedChars = 0;
    }
  }

  #schedule(): void {
    if (this.#timer !== undefined || this.#inFlight !== undefined || this.#closing !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#send();
    }, EVENT_LINGER_MS);
    // Unsent events must not keep a process alive; close() sends them.
    this.#timer.unref();
  }

  #send(): void {
    if (this.#state !== 'up' || this.#inFlight !== undefined) return;
    const batch = this.#take();
    if (batch === undefined) return;
    const { payload, count, carried } = batch;
    const ms = this.#options.publishTimeout;
    this.#inFlight = withTimeout(this.#connection.publish(payload), ms, () => new BusError(`event publish timed out after ${ms} ms`))
      .then(
        () => {
          this.published += count;
        },
        () => {
          this.dropped += count;
          this.#unreported += count + carried;
          if (this.#closing !== undefined) this.#failedWhileClosing = true;
        },
      )
      .finally(() => {
        this.#inFlight = undefined;
        if (this.#queue.length > 0) this.#schedule();
      });
  }

  /** The next batch: as many queued events as fit in one message. */
  #take(): { payload: string; count: number; carried: number } | undefined {
    const { namespace, instance, signer, maxMessageBytes } = this.#options;
    const queue = this.#queue;
    const records: string[] = [];
    let bytes = this.#headBytes;
    let i = 0;
    for (; i < queue.length; i += 3) {
      const key = queue[i + 1] as string | undefined;
      const record = encodeEventRecord(queue[i] as StreamedEvent, key, queue[i + 2] as number);
      const size = byteLength(record, maxMessageBytes) + (records.length > 0 ? 1 : 0);
      if (bytes + size <= maxMessageBytes) {
        records.push(record);
        bytes += size;
      } else if (records.length === 0) {
        // Too large for any message (a huge key): it can never be sent.
        this.#lose(1);
      } else {
        break;
      }
      if (key !== undefined) this.#queuedChars -= key.length;
    }
    queue.splice(0, i);
    if (records.length === 0) return undefined;
    const carried = this.#unreported;
    this.#unreported = 0;
    const payload = encodeEvents(namespace, eventsHead(namespace, instance, ++this.#seq, carried), records, signer);
    return { payload, count: records.length, carried };
  }

  #lose(count: number): void {
    this.dropped += count;
    this.#unreported += count;
  }
}
