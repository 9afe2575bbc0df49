import { randomUUID } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import { Bus } from './bus/bus.js';
import { EventPublisher } from './bus/event-publisher.js';
import { withTimeout } from './clock.js';
import { OutsideChanges } from './coherence/apply.js';
import { Fences } from './coherence/fences.js';
import { Trust } from './coherence/trust.js';
import { BusError, CacheClosedError, StoreError } from './errors.js';
import { MemoryTier } from './memory/memory-tier.js';
import { Observer } from './observe/events.js';
import type { LoadSettings, ResolvedOptions } from './options.js';
import { Background } from './read/background.js';
import { GetOrSet } from './read/get-or-set.js';
import { RedisLockStep } from './read/lock-step.js';
import { ReadThrough } from './read/read-through.js';
import { RedisLock } from './redis/lock.js';
import { RedisTransport } from './redis/transport.js';
import { namespaceOf, openStore, type StoreOption, ttlOf } from './store/adapter.js';
import { Breaker } from './store/breaker.js';
import { StoreCalls } from './store/calls.js';
import type { KeyRules } from './store/keys.js';
import { StoreTier } from './store/store-tier.js';
import { type OwnedStore, openStoreUrl } from './store/url.js';
import { AddGuard } from './write/add.js';
import { WritePath } from './write/write-path.js';
import { Writes } from './write/writes.js';

/** Everything a cache is made of, each part built with exactly the collaborators it uses. */
export interface Parts<V> {
  namespace: string;
  /** This instance's id: in every event's `instance`, and its sender id on the bus. */
  instanceId: string;
  keys: KeyRules;
  memory: MemoryTier<V>;
  store: StoreTier<V>;
  trust: Trust;
  observer: Observer;
  bus: Bus | undefined;
  /** The event stream (`events: { bus: true }`). */
  events: EventPublisher | undefined;
  breaker: Breaker | undefined;
  reads: ReadThrough<V>;
  path: WritePath<V>;
  writes: Writes<V>;
  getOrSet: GetOrSet<V>;
  background: Background;
  lock: RedisLock | undefined;
  owned: OwnedStore | undefined;
  defaults: LoadSettings;
  /** The lock across processes can be had (the bus is Redis). */
  lockAvailable: boolean;
  storeTimeout: number;
  /** Longest key, in UTF-8 bytes. */
  maxKeyLength: number;
}

/**
 * Builds the parts of a cache from its resolved options. `emitter` is the cache itself, as the events'
 * emitter; `closing()` says whether close() has begun (the bus's liveness must not trust memory then).
 */
export function buildParts<V>(resolved: ResolvedOptions, emitter: EventEmitter, closing: () => boolean): Parts<V> {
  const given = typeof resolved.store === 'string' ? undefined : resolved.store;
  const namespace = resolved.namespaceExplicit ? resolved.namespace : (namespaceOf(given) ?? resolved.namespace);
  // A store named by a URL is built here, and closed by close().
  const owned = typeof resolved.store === 'string' ? openStoreUrl(resolved.store) : undefined;
  const opened = openStore(owned?.adapter ?? (given as StoreOption | undefined), namespace);
  const instanceId = randomUUID();
  const observer = new Observer(emitter, namespace, instanceId);
  const breaker =
    resolved.circuitBreaker === undefined
      ? undefined
      : new Breaker({ ...resolved.circuitBreaker, clock: resolved.clock, changed: (state) => observer.breaker(state) });
  // The add guard lives on the bus's Redis (a lock), on a connection of its own opened on first use;
  // a passphrase's salt is first written under it.
  const lock = resolved.redis === undefined ? undefined : new RedisLock(resolved.redis);
  const guard = new AddGuard(lock, namespace);
  const store = new StoreTier<V>(opened, new StoreCalls({ timeout: resolved.storeTimeout, breaker }), {
    namespace,
    encryption: resolved.encryption,
    maxValueBytes: resolved.maxValueBytes,
    exclusive: (k, body) => guard.run(k, body),
  });
  if (owned !== undefined) owned.report = (error) => observer.error(new StoreError('pool', undefined, error));
  // Stale copies in memory are decided once per cache: only a cache built with grace keeps them.
  const memory = new MemoryTier<V>({ ...resolved.memory, clock: resolved.clock, staleCopies: resolved.grace > 0 });
  const fences = new Fences();
  const transport = resolved.transport ?? (resolved.redis === undefined ? undefined : new RedisTransport(resolved.redis));
  const trust = new Trust(transport === undefined ? [] : ['bus']);
  const outside = new OutsideChanges(fences, memory, trust, observer);
  let bus: Bus | undefined;
  // Built after the bus, but reopened with it: one dead path takes both connections.
  let events: EventPublisher | undefined;
  if (transport !== undefined) {
    bus = new Bus(
      transport,
      {
        id: instanceId,
        namespace,
        heartbeat: resolved.heartbeat,
        maxPendingKeys: resolved.maxPendingKeys,
        maxMessageBytes: resolved.maxMessageBytes,
        publishTimeout: resolved.publishTimeout,
        clock: resolved.clock,
        signer: resolved.signer,
      },
      {
        invalidate: (keys, origin) => outside.changed(keys, origin),
        gap: () => outside.lost(),
        status: (status, previous, reason) => outside.busStatus(status, previous, reason, closing()),
        error: (error) => observer.error(error),
        notUp: (reason) => observer.notUp(reason),
        reconnected: () => events?.reconnect(),
      },
    );
  }
  events =
    resolved.events.bus && transport !== undefined
      ? new EventPublisher(transport, {
          namespace,
          instance: instanceId,
          signer: resolved.signer,
          maxMessageBytes: resolved.maxMessageBytes,
          publishTimeout: resolved.publishTimeout,
        })
      : undefined;
  observer.streamTo(events);
  const announceOn = bus;
  const reads = new ReadThrough(fences, memory, store, trust, observer);
  const path = new WritePath(fences, memory, trust, observer, (keys) => {
    if (announceOn === undefined) return Promise.resolve();
    observer.published(keys);
    return announceOn.publish(keys);
  });
  const ttl = resolved.ttl ?? ttlOf(given);
  const defaults: LoadSettings = {
    ttl,
    grace: resolved.grace,
    softTimeout: resolved.softTimeout,
    hardTimeout: resolved.hardTimeout,
    refreshAhead: resolved.refreshAhead,
    lock: resolved.lock,
  };
  const writes = new Writes<V>({
    store,
    keys: opened.keys,
    path,
    reads,
    guard,
    defaults,
    maxKeyLength: resolved.maxKeyLength,
    open: (operation) => {
      if (closing()) throw new CacheClosedError(operation);
    },
  });
  const background = new Background();
  const getOrSet = new GetOrSet<V>({
    fences,
    memory,
    trust,
    reads,
    observer,
    background,
    lock:
      lock === undefined
        ? undefined
        : new RedisLockStep<V>({
            lock,
            namespace,
            reread: (k, key) => reads.find(k, key).then((found) => (found === undefined || found.stale ? undefined : found.value)),
            watch: (k) => outside.watch(k),
            counts: observer.counts.lock,
            report: (error) => observer.error(error),
          }),
    // A loader that answers once close() has begun (its signal aborted, ignored) still answers its callers,
    // but is not stored: the write could not be announced, and the store may be closed by then (a Redis
    // adapter asked to write would reconnect and keep the process alive).
    store: (key, value, settings, unchanged) => (closing() ? Promise.resolve() : writes.setLoaded(key, value, settings, unchanged)),
  });
  return {
    namespace,
    instanceId,
    keys: opened.keys,
    memory,
    store,
    trust,
    observer,
    bus,
    events,
    breaker,
    reads,
    path,
    writes,
    getOrSet,
    background,
    lock,
    owned,
    defaults,
    lockAvailable: resolved.redis !== undefined,
    storeTimeout: resolved.storeTimeout,
    maxKeyLength: resolved.maxKeyLength,
  };
}

/**
 * Closes the parts, each step bounded so that a SIGTERM handler never waits on a store or a Redis that
 * hangs: writes in flight finish and announce themselves and loaders in the background are told to stop
 * (together, storeTimeout at most), then the bus and the event stream together (their last publish, publishTimeout at most), the lock, and
 * a store built from a URL (forced closed after storeTimeout). In all: 2 x storeTimeout + publishTimeout.
 */
export async function closeParts<V>(parts: Parts<V>): Promise<void> {
  const { observer, bus, storeTimeout } = parts;
  try {
    // Writes in flight and loads in the background settle together, each bounded by storeTimeout.
    const [idle] = await Promise.all([
      withTimeout(
        parts.path.idle().then(() => true),
        storeTimeout,
        () => new Error('writes still in flight'),
      ).catch(() => false),
      parts.background.drain(storeTimeout, new CacheClosedError('getOrSet')),
    ]);
    // No write may begin its store call from here on: the bus is about to close.
    parts.path.seal();
    if (!idle) {
      const message = `closed with writes still in flight after ${storeTimeout} ms (storeTimeout): their invalidations may not be sent`;
      observer.error(new StoreError('close', undefined, undefined, message));
    }
    const unpublished = bus?.pendingKeys ?? 0;
    if (unpublished > 0) {
      // Nobody will publish them now: the other processes keep their copies until they expire.
      observer.error(new BusError(`closed with ${unpublished} invalidation(s) not yet published: the bus was down`));
    }
    // The event stream and the bus each send their last messages, side by side.
    await Promise.all([parts.events?.close(), bus?.close()]);
    await parts.lock?.close();
  } finally {
    parts.memory.clear();
    parts.store.release();
    await parts.owned?.disconnect(storeTimeout);
  }
}
