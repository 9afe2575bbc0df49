/**
 * Keys the library keeps for itself in a namespace (an encryption salt, say) begin with this; listings
 * (`keys()`, `entries()`, and so the stash, the CLI and the Keyv adapter) never show them.
 */
export const INTERNAL_KEY_PREFIX = '__synced-cache:';

/**
 * The namespace's key rules, in one place. Keyv stores key `k` of namespace `ns` as `ns:k`, and leaves a
 * key that already begins with `ns:` alone, so `ns:a` and `a` are one store entry. The cache works on the
 * canonical form (the key without its own `ns:`), so memory, the bus and the store agree on it, and gives
 * canonical keys back when it lists them.
 */
export class KeyRules {
  /** `namespace:` when keys are prefixed in the store (Keyv's `useKeyPrefix`, on by default), else undefined. */
  readonly prefix: string | undefined;

  constructor(namespace: string, prefixed: boolean) {
    this.prefix = prefixed ? `${namespace}:` : undefined;
  }

  /** The canonical form of a caller's key: one leading `namespace:` removed. */
  canon(key: string): string {
    const prefix = this.prefix;
    return prefix !== undefined && key.startsWith(prefix) ? key.slice(prefix.length) : key;
  }

  /** The key a Keyv 5 store adapter is given for canonical key `k`. */
  toStore(k: string): string {
    return this.prefix === undefined ? k : this.prefix + k;
  }

  /** The canonical key of a key an adapter's iterator yields, or undefined when it is another namespace's. */
  fromStore(storeKey: string): string | undefined {
    if (this.prefix === undefined) return storeKey;
    return storeKey.startsWith(this.prefix) ? storeKey.slice(this.prefix.length) : undefined;
  }
}
