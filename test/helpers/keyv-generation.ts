import { Keyv } from 'keyv';

/**
 * The Keyv generation installed (5, or 6 in the keyv-6 CI job), for the few expectations that follow
 * Keyv's own rules: how keys are laid out in a store, and how Keyv itself reports errors.
 */
export const KEYV_GENERATION: 5 | 6 = typeof (Keyv.prototype as unknown as { setRaw?: unknown }).setRaw === 'function' ? 6 : 5;

/**
 * The key a Keyv 5 adapter without namespaces of its own (a Map, PostgreSQL, a test double) is given for
 * `key` of `namespace`: Keyv 5 prefixes `namespace:`, Keyv 6's bridge `namespace::`.
 */
export function adapterKey(namespace: string, key: string): string {
  return KEYV_GENERATION === 6 ? `${namespace}::${key}` : `${namespace}:${key}`;
}

/**
 * The key a `SyncedKeyvStore` is given by `new Keyv({ store, namespace })` for `key`: Keyv 5 prefixes
 * `namespace:` (its default namespace is `keyv`); Keyv 6 has no default namespace, and its bridge
 * prefixes `namespace::`.
 */
export function keyvKey(namespace: string | undefined, key: string): string {
  if (KEYV_GENERATION === 5) return `${namespace ?? 'keyv'}:${key}`;
  return namespace === undefined ? key : `${namespace}::${key}`;
}

/**
 * The record a Keyv of either generation keeps in a plain `Map` for `key` of `namespace`, parsed: Keyv 5
 * stores the serialized string, Keyv 6's memory adapter `{ value: string, expires }`.
 */
export function mapRecord<R = { value: unknown; expires?: number; fresh?: number }>(
  store: Map<unknown, unknown>,
  namespace: string,
  key: string,
): R {
  const held = store.get(adapterKey(namespace, key));
  if (held === undefined) throw new Error(`no record for ${namespace}:${key} in the Map`);
  return JSON.parse(typeof held === 'string' ? held : (held as { value: string }).value) as R;
}
