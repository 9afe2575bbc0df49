import { Keyv, type KeyvStoreAdapter } from 'keyv';
import type { StoreDriver } from './driver.js';
import { KeyvV5Driver } from './driver-v5.js';
import { KeyvV6Driver } from './driver-v6.js';
import { type Keyv5Parts, type Keyv6Parts, keyv5Format, keyv6Format } from './formats.js';
import { KeyRules } from './keys.js';
import type { RecordFormat } from './record.js';

/** What `store` accepts: a Keyv instance (5 or 6), or any Keyv store adapter (`@keyv/redis`, `@keyv/postgres`, a `Map`, ...). */
export type StoreOption = Keyv | KeyvStoreAdapter | Map<unknown, unknown>;

/** The parts of a Keyv instance we read, of either generation; duck-typed so a Keyv from another copy works. */
interface KeyvLike extends Keyv5Parts, Keyv6Parts {
  store: unknown;
  namespace: string | undefined;
  ttl?: number | undefined;
  useKeyPrefix?: boolean;
  getRaw: unknown;
  setRaw?: unknown;
  on?: (event: 'error', listener: (error: unknown) => void) => unknown;
}

type KeyvClass = new (options: Record<string, unknown>) => KeyvLike;

/** True when `store` is a Keyv instance rather than a store adapter. */
export function isKeyv(store: unknown): store is KeyvLike {
  return typeof store === 'object' && store !== null && typeof (store as KeyvLike).getRaw === 'function' && 'store' in store;
}

/** Keyv 6 instances have `setRaw` and a serialization adapter; Keyv 5 ones have `opts` and `serialize`. */
function isKeyv6(keyv: KeyvLike): boolean {
  return typeof keyv.setRaw === 'function' || 'serialization' in keyv;
}

/** The default ttl of a Keyv instance, so that a cache built on it keeps its expiry policy. */
export function ttlOf(store: StoreOption | undefined): number | undefined {
  return isKeyv(store) && typeof store.ttl === 'number' && store.ttl > 0 ? store.ttl : undefined;
}

/** The namespace of a Keyv instance, if `store` is one. */
export function namespaceOf(store: StoreOption | undefined): string | undefined {
  return isKeyv(store) && typeof store.namespace === 'string' && store.namespace.length > 0 ? store.namespace : undefined;
}

// Keyv writes its namespace onto the adapter, and adapters such as @keyv/redis prefix keys and scope
// clear() with it: one adapter can serve one namespace only. Shared between namespaces, the last cache
// built would silently move every other cache's keys (differently in each process, by construction order).
const adapterNamespaces = new WeakMap<object, { namespace: string; users: number }>();

function claimAdapter(adapter: object, namespace: string): void {
  if (adapter instanceof Map) return;
  const claim = adapterNamespaces.get(adapter);
  if (claim === undefined) {
    adapterNamespaces.set(adapter, { namespace, users: 1 });
  } else if (claim.namespace === namespace) {
    claim.users++;
  } else {
    throw new TypeError(
      `synced-cache: option "store": this Keyv store adapter already serves namespace ${JSON.stringify(claim.namespace)}; ` +
        `Keyv adapters carry one namespace, so create one adapter per namespace (asked for ${JSON.stringify(namespace)})`,
    );
  }
}

/** Adapters such as @keyv/redis swallow their own errors (answering as for a miss) unless told otherwise. */
function throwOnErrors(adapter: unknown): void {
  for (let level = adapter, i = 0; i < 3 && typeof level === 'object' && level !== null; i++) {
    const flags = level as { throwOnErrors?: unknown; store?: unknown };
    if (flags.throwOnErrors === false) flags.throwOnErrors = true;
    level = flags.store;
  }
}

function errorListeners(adapter: unknown): unknown[] {
  const emitter = adapter as { listeners?: (event: 'error') => unknown[] } | undefined;
  return typeof emitter?.listeners === 'function' ? [...emitter.listeners('error')] : [];
}

/** The store as the store tier uses it. */
export interface OpenedStore {
  /** A Keyv over the same adapter and namespace, for callers who want Keyv's own API (`cache.keyv`). */
  keyv: Keyv;
  /** The adapter protocol of the Keyv generation in use. */
  driver: StoreDriver;
  /** How records are encoded, as that generation's Keyv encodes them. */
  format: RecordFormat;
  /** The namespace's key rules (Keyv 5 prefixes `namespace:` and treats it as implied; Keyv 6 leaves keys alone). */
  keys: KeyRules;
  /** Gives the adapter up, so that another namespace may use it. */
  release(): void;
}

/**
 * Opens the store of a cache: the adapter given (or the one inside a Keyv given, whose serializer,
 * compression and key-prefix settings are kept; that Keyv itself is never changed), claimed for
 * `namespace`, with its errors turned on, spoken to in the protocol of its Keyv generation: the
 * generation of the Keyv given, else the one installed.
 */
export function openStore(store: StoreOption | undefined, namespace: string): OpenedStore {
  const given: unknown = isKeyv(store) ? store.store : store;
  if (typeof given === 'object' && given !== null) {
    claimAdapter(given, namespace);
    throwOnErrors(given);
  }
  const Class = (isKeyv(store) ? store.constructor : Keyv) as KeyvClass;
  // Keyv (and Keyv 6's bridge) add an 'error' listener to the adapter; release() takes them off again,
  // or caches built and closed on one long-lived adapter would pile them up.
  const before = errorListeners(given);
  const six = isKeyv(store) ? isKeyv6(store) : typeof (Keyv.prototype as unknown as KeyvLike).setRaw === 'function';
  const source: Partial<KeyvLike> = isKeyv(store) ? store : {};
  // Keyv's constructor sets the adapter's namespace (which adapters prefix keys and scope clear() with)
  // and resolves a Keyv 6 storage adapter (a Keyv 5 adapter behind its bridge, a Map behind its memory
  // adapter); every read and write then goes to that adapter directly.
  const keyv = six
    ? new Class({
        ...(given === undefined ? {} : { store: given }),
        namespace,
        ...(source.serialization === undefined ? {} : { serialization: source.serialization }),
        ...(source.compression === undefined ? {} : { compression: source.compression }),
        ...(source.encryption === undefined ? {} : { encryption: source.encryption }),
      })
    : new Class({
        ...(given === undefined ? {} : { store: given }),
        namespace,
        ...(isKeyv(store)
          ? {
              serialize: store.serialize,
              deserialize: store.deserialize,
              compression: store.opts?.compression,
              useKeyPrefix: store.useKeyPrefix ?? true,
            }
          : {}),
        throwOnErrors: true,
        emitErrors: false,
      });
  let driver: StoreDriver;
  let keys: KeyRules;
  let format: RecordFormat;
  if (six) {
    // Keyv 6 rethrows an adapter's 'error' when nobody listens to it (from inside the adapter's emit,
    // which would also keep the adapter's other listeners from hearing it); failures reach us as throws.
    keyv.on?.('error', () => {});
    keys = new KeyRules(namespace, false);
    driver = new KeyvV6Driver(keyv.store);
    format = keyv6Format(keyv);
  } else {
    keys = new KeyRules(namespace, keyv.useKeyPrefix !== false);
    driver = new KeyvV5Driver(keyv.store as KeyvStoreAdapter | Map<unknown, unknown>, keys);
    format = keyv5Format(keyv, () => new Class({}).serialize);
  }
  const added = errorListeners(given).filter((listener) => !before.includes(listener));
  let released = false;
  return {
    keyv: keyv as unknown as Keyv,
    driver,
    format,
    keys,
    release() {
      if (released) return;
      released = true;
      if (typeof given !== 'object' || given === null) return;
      for (const listener of added) (given as { off?: (event: 'error', listener: unknown) => unknown }).off?.('error', listener);
      const claim = adapterNamespaces.get(given);
      if (claim !== undefined && --claim.users === 0) adapterNamespaces.delete(given);
    },
  };
}
