import { Keyv, type KeyvStoreAdapter } from 'keyv';
import type { KeyvCodecParts } from './record.js';

/** What `store` accepts: a Keyv instance, or any Keyv store adapter (`@keyv/redis`, `@keyv/postgres`, a `Map`, ...). */
export type StoreOption = Keyv | KeyvStoreAdapter | Map<unknown, unknown>;

/** The parts of a Keyv 5 instance we read; duck-typed so that a Keyv from another copy of the package works. */
interface KeyvLike {
  store: KeyvStoreAdapter | Map<unknown, unknown>;
  namespace: string | undefined;
  ttl?: number | undefined;
  serialize?: unknown;
  deserialize?: unknown;
  useKeyPrefix?: boolean;
  opts: { compression?: unknown };
  getRaw: unknown;
}

/** True when `store` is a Keyv instance rather than a store adapter. */
export function isKeyv(store: unknown): store is KeyvLike {
  return (
    typeof store === 'object' &&
    store !== null &&
    typeof (store as KeyvLike).getRaw === 'function' &&
    typeof (store as KeyvLike).opts === 'object' &&
    'store' in store
  );
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

let keyvDefaultSerialize: unknown;

/** True when `serialize` is Keyv's own default (JSON, with Buffers written as ':base64:' strings). */
function isKeyvDefaultSerializer(serialize: unknown): boolean {
  keyvDefaultSerialize ??= new Keyv().serialize;
  return serialize === keyvDefaultSerialize;
}

/** The store as the store tier uses it: the adapter it talks to, and how Keyv would encode for it. */
export interface OpenedStore {
  /** A Keyv over the same adapter and namespace, for callers who want Keyv's own API (`cache.keyv`). */
  keyv: Keyv;
  /** The adapter every store call goes to (a `Map` for the in-memory default). */
  adapter: KeyvStoreAdapter | Map<unknown, unknown>;
  /** Keyv prefixes keys with `namespace:`. */
  prefixed: boolean;
  codec: KeyvCodecParts;
  /** Gives the adapter up, so that another namespace may use it. */
  release(): void;
}

/**
 * Opens the store of a cache: the adapter given (or the one inside a Keyv given, whose serializer,
 * compression and key-prefix settings are kept; that Keyv itself is never changed), claimed for
 * `namespace`, with its errors turned on.
 */
export function openStore(store: StoreOption | undefined, namespace: string): OpenedStore {
  const given = isKeyv(store) ? store.store : store;
  if (given !== undefined) {
    claimAdapter(given, namespace);
    // Adapters such as @keyv/redis swallow their own errors (emitting 'error', answering as for a
    // miss) unless told otherwise; a failed read that looks like a miss, or a failed write that looks
    // like a success, would break coherence, so we tell them.
    const flags = given as { throwOnErrors?: unknown };
    if (flags.throwOnErrors === false) flags.throwOnErrors = true;
  }
  // Keyv's constructor sets the adapter's namespace (which @keyv/redis prefixes keys and scopes clear()
  // with) and wires its error events; every read and write then goes to the adapter directly.
  const keyv = isKeyv(store)
    ? new Keyv({
        store: store.store as KeyvStoreAdapter,
        namespace,
        serialize: store.serialize as never,
        deserialize: store.deserialize as never,
        compression: store.opts.compression as never,
        useKeyPrefix: store.useKeyPrefix ?? true,
        throwOnErrors: true,
        emitErrors: false,
      })
    : new Keyv({ ...(store === undefined ? {} : { store: store as KeyvStoreAdapter }), namespace, throwOnErrors: true, emitErrors: false });
  const adapter = keyv.store as KeyvStoreAdapter | Map<unknown, unknown>;
  const serialize = keyv.serialize as KeyvCodecParts['serialize'];
  const compression = keyv.opts.compression as KeyvCodecParts['compression'];
  let released = false;
  return {
    keyv,
    adapter,
    prefixed: keyv.useKeyPrefix,
    codec: {
      serialize,
      deserialize: keyv.deserialize as KeyvCodecParts['deserialize'],
      compression: typeof compression?.compress === 'function' ? compression : undefined,
      keyvDefault: isKeyvDefaultSerializer(serialize),
    },
    release() {
      if (released) return;
      released = true;
      const claim = adapterNamespaces.get(adapter);
      if (claim !== undefined && --claim.users === 0) adapterNamespaces.delete(adapter);
    },
  };
}
