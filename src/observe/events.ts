import type { EventEmitter } from 'node:events';
import type { StaleReason, Tier } from '../types.js';
import { channels } from './diagnostics.js';

/** The events checked by a switch before anything is built for them. */
type Listened = 'hit' | 'miss' | 'set' | 'delete' | 'expire' | 'clear' | 'invalidate' | 'stale';
const LISTENED: readonly Listened[] = ['hit', 'miss', 'set', 'delete', 'expire', 'clear', 'invalidate', 'stale'];

/**
 * The events an event stream carries to other processes (`events: { bus: true }`): the changes, never
 * the reads. `push` and `pop` are the stash's, emitted on its cache.
 */
export const STREAMED_EVENTS = ['set', 'delete', 'clear', 'expire', 'push', 'pop'] as const;
export type StreamedEvent = (typeof STREAMED_EVENTS)[number];
const STREAMED: ReadonlySet<string | symbol> = new Set(STREAMED_EVENTS);

/** Where streamed events go (the events channel's publisher). It must return at once: it is called inside the operation. */
export interface EventSink {
  write(event: StreamedEvent, key: string | undefined, at: number): void;
}

/** Why the whole memory tier was dropped. */
export type FlushCause = 'reconnect' | 'gap' | 'clear';

/** Counters since creation; plain fields, because the hot path bumps one. */
export interface Counts {
  memoryHits: number;
  storeHits: number;
  misses: number;
  sets: number;
  deletes: number;
  flushes: { reconnect: number; gap: number; clear: number };
  stale: Record<StaleReason, number>;
  refreshes: number;
  lock: { acquired: number; waited: number; tookOver: number };
}

/** What a write reports when it is done: the write trace, the counters and the events, the same for every kind. */
export interface WriteReport {
  operation: 'set' | 'delete' | 'clear';
  /** Canonical keys, or '*'. */
  keys: readonly string[] | '*';
  /** The keys as the caller gave them (for events). */
  callerKeys: readonly string[];
  /** `performance.now()` when the write began, or 0 when nobody traces writes. */
  began: number;
  /** The failure, when the write failed. */
  error?: unknown;
}

/**
 * The cache's observability in one place: the listening switches that keep the hot path free of event
 * work while nobody listens, the counters behind `stats()`, the events (built here and only here, each
 * stamped with `at` and `instance`, and only while someone listens or an event stream wants them), and
 * the `diagnostics_channel` messages. Errors raised by listeners are reported, never left to break the
 * operation that emitted.
 */
export class Observer {
  readonly counts: Counts = {
    memoryHits: 0,
    storeHits: 0,
    misses: 0,
    sets: 0,
    deletes: 0,
    flushes: { reconnect: 0, gap: 0, clear: 0 },
    stale: { 'store-error': 0, 'store-timeout': 0, 'store-unavailable': 0, 'loader-error': 0, 'loader-timeout': 0 },
    refreshes: 0,
    lock: { acquired: 0, waited: 0, tookOver: 0 },
  };
  /** Hot-path switches: an event is built and emitted only while someone listens to it. */
  readonly listening: Record<Listened, boolean> = {
    hit: false,
    miss: false,
    set: false,
    delete: false,
    expire: false,
    clear: false,
    invalidate: false,
    stale: false,
  };
  readonly #emitter: EventEmitter;
  readonly #namespace: string;
  readonly #instance: string;
  /** While set, the streamed events are built whether or not anyone here listens, and handed to it. */
  #sink: EventSink | undefined;
  readonly #onNew = (event: string | symbol) => this.#listen(event, 1);
  readonly #onRemove = (event: string | symbol) => this.#listen(event, 0);

  constructor(emitter: EventEmitter, namespace: string, instance: string) {
    this.#emitter = emitter;
    this.#namespace = namespace;
    this.#instance = instance;
    this.attach();
  }

  /** Hands every streamed event from now on to `sink` (`undefined`: no more). */
  streamTo(sink: EventSink | undefined): void {
    this.#sink = sink;
    for (const event of LISTENED) this.listening[event] = this.#wanted(event, this.#emitter.listenerCount(event));
  }

  /**
   * Called by the cache's `emit()` with every event it emits, before its listeners: a streamed one goes
   * to the sink. Through `emit()` rather than the methods below, so that the events another part emits
   * on the cache (the stash's `push` and `pop`) are streamed too.
   */
  tap(event: string | symbol, payload: unknown): void {
    const sink = this.#sink;
    if (sink === undefined || !STREAMED.has(event)) return;
    const { key, at } = (payload ?? {}) as { key?: unknown; at?: unknown };
    sink.write(event as StreamedEvent, typeof key === 'string' ? key : undefined, typeof at === 'number' ? at : Date.now());
  }

  #wanted(event: Listened, listeners: number): boolean {
    return listeners > 0 || (this.#sink !== undefined && STREAMED.has(event));
  }

  /**
   * Keeps the switches current by hooks on the emitter. Called again after `removeAllListeners()`, which
   * removes these hooks with everything else: without them no listener added later would ever be called.
   */
  attach(): void {
    const emitter = this.#emitter;
    if (!emitter.listeners('newListener').includes(this.#onNew)) emitter.on('newListener', this.#onNew);
    if (!emitter.listeners('removeListener').includes(this.#onRemove)) emitter.on('removeListener', this.#onRemove);
    for (const event of LISTENED) this.listening[event] = this.#wanted(event, emitter.listenerCount(event));
  }

  #listen(event: string | symbol, adding: 0 | 1): void {
    if (LISTENED.includes(event as Listened)) {
      // 'newListener' fires before the listener is added, 'removeListener' after it is removed.
      this.listening[event as Listened] = this.#wanted(event as Listened, this.#emitter.listenerCount(event) + adding);
    }
  }

  /** A hit with a listener: a listener that throws rejects the read, as on the async path. */
  async hitAsync<V>(key: string, value: V): Promise<V> {
    this.#emitter.emit('hit', { key, tier: 'memory', at: Date.now(), instance: this.#instance });
    return value;
  }

  hit(key: string, tier: Tier): void {
    if (tier === 'memory') this.counts.memoryHits++;
    else this.counts.storeHits++;
    if (this.listening.hit) this.#emitter.emit('hit', { key, tier, at: Date.now(), instance: this.#instance });
  }

  /** A stale value (within grace) answers a call because fresh data could not be had. */
  stale(key: string, reason: StaleReason): void {
    this.counts.stale[reason]++;
    if (channels.stale.hasSubscribers) channels.stale.publish({ namespace: this.#namespace, instanceId: this.#instance, key, reason });
    if (this.listening.stale) this.#emitter.emit('stale', { key, reason, at: Date.now(), instance: this.#instance });
  }

  miss(key: string): void {
    this.counts.misses++;
    if (this.listening.miss) this.#emitter.emit('miss', { key, at: Date.now(), instance: this.#instance });
  }

  /** An entry was found past its end of life on access (its miss is reported apart). */
  expired(key: string): void {
    if (this.listening.expire) this.#emitter.emit('expire', { key, at: Date.now(), instance: this.#instance });
  }

  /** A write settled (or failed): its line on the `synced-cache:write` channel, for every kind of write. */
  traceWrite(report: WriteReport): void {
    if (report.began !== 0 && channels.write.hasSubscribers) {
      channels.write.publish({
        namespace: this.#namespace,
        operation: report.operation,
        keys: report.keys,
        durationMs: performance.now() - report.began,
        ...(report.error === undefined ? {} : { error: report.error }),
      });
    }
  }

  /** After a write succeeded and was announced: count it and emit its events. */
  written(report: WriteReport): void {
    const emitter = this.#emitter;
    const instance = this.#instance;
    if (report.operation === 'set') {
      this.counts.sets += report.callerKeys.length;
      if (this.listening.set) {
        const at = Date.now();
        for (const key of report.callerKeys) emitter.emit('set', { key, at, instance });
      }
    } else if (report.operation === 'delete') {
      this.counts.deletes += report.callerKeys.length;
      if (this.listening.delete) {
        const at = Date.now();
        for (const key of report.callerKeys) emitter.emit('delete', { key, at, instance });
      }
    } else {
      this.counts.flushes.clear++;
      if (this.listening.clear) emitter.emit('clear', { at: Date.now(), instance });
    }
  }

  /** When write traces are wanted, the start time to pass back in the report; else 0. */
  writeBegins(): number {
    return channels.write.hasSubscribers ? performance.now() : 0;
  }

  published(keys: readonly string[] | '*'): void {
    if (channels.publish.hasSubscribers) channels.publish.publish({ namespace: this.#namespace, instanceId: this.#instance, keys });
  }

  invalidated(keys: readonly string[] | '*', origin: string): void {
    if (this.listening.invalidate) this.emitSafely('invalidate', { keys, origin, at: Date.now(), instance: this.#instance });
    if (channels.invalidate.hasSubscribers) {
      channels.invalidate.publish({ namespace: this.#namespace, instanceId: this.#instance, origin, keys });
    }
  }

  flushed(cause: FlushCause): void {
    this.counts.flushes[cause]++;
    if (channels.flush.hasSubscribers) channels.flush.publish({ namespace: this.#namespace, instanceId: this.#instance, cause });
  }

  bus(status: string, previous: string, reason: Error | undefined): void {
    if (channels.bus.hasSubscribers) {
      channels.bus.publish({
        namespace: this.#namespace,
        instanceId: this.#instance,
        status,
        previous,
        ...(reason === undefined ? {} : { reason }),
      });
    }
  }

  /** The bus is proven up. Raised by the bus: a throwing listener must not break it. */
  busUp(): void {
    if (this.heard('bus:up')) this.emitSafely('bus:up', { at: Date.now(), instance: this.#instance });
  }

  /** The bus is lost. Raised by the bus: a throwing listener must not break it. */
  busDown(reason: Error | undefined): void {
    if (this.heard('bus:down')) this.emitSafely('bus:down', { reason, at: Date.now(), instance: this.#instance });
  }

  /** The store's circuit breaker changed state. Raised inside a store call: a throwing listener must not break it. */
  breaker(state: string): void {
    if (channels.breaker.hasSubscribers) channels.breaker.publish({ namespace: this.#namespace, instanceId: this.#instance, state });
    if (this.heard('breaker')) this.emitSafely('breaker', { state, at: Date.now(), instance: this.#instance });
  }

  /** True when someone listens to `event`. */
  heard(event: string): boolean {
    return this.#emitter.listenerCount(event) > 0;
  }

  /**
   * The bus never came up: said once, as a process warning, when nobody listens to 'error' or 'bus:down'
   * (a wrong or unreachable Redis URL would otherwise give no sign at all).
   */
  notUp(reason: Error): void {
    if (this.heard('error') || this.heard('bus:down')) return;
    process.emitWarning(`the invalidation bus of namespace ${JSON.stringify(this.#namespace)} has not come up: ${reason.message}`, {
      type: 'SyncedCacheWarning',
      code: 'SYNCED_CACHE_BUS_NOT_UP',
      detail:
        'Memory is not used while the bus is down; every read goes to the store. Listen to "bus:down" or "error" to handle this yourself.',
    });
  }

  /** Reports an error on 'error' when someone listens there; errors here are reports, never fatal. */
  error(error: Error): void {
    if (this.#emitter.listenerCount('error') > 0) this.emitSafely('error', error);
  }

  /**
   * Emits an event raised outside a caller's operation (the bus, a background task). A listener that
   * throws must not leave the emitter half-way through a state change (a batch never finished would hold
   * every later write), so its error is reported instead: on 'error' when someone listens there, else as
   * a process warning.
   */
  emitSafely(event: string, ...args: unknown[]): void {
    const emitter = this.#emitter;
    try {
      emitter.emit(event, ...args);
    } catch (thrown) {
      const error = thrown instanceof Error ? thrown : new Error(String(thrown));
      if (event !== 'error' && emitter.listenerCount('error') > 0) {
        try {
          emitter.emit('error', error);
          return;
        } catch {
          // Reported below.
        }
      }
      process.emitWarning(`a '${event}' listener of a SyncedCache threw: ${error.message}`, {
        type: 'SyncedCacheWarning',
        code: 'SYNCED_CACHE_LISTENER_THREW',
      });
    }
  }
}
