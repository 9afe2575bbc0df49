import { onTestFinished } from 'vitest';
import { SyncedCache, type SyncedCacheOptions } from '../../src/index.js';

/** Builds a cache that is closed when the current test finishes. */
export function makeCache<V = unknown>(options: SyncedCacheOptions = {}): SyncedCache<V> {
  const cache = new SyncedCache<V>(options);
  onTestFinished(() => cache.close());
  return cache;
}

let namespaces = 0;
/** A namespace no other test uses, so BroadcastChannel and Redis channels never cross between tests. */
export function uniqueNamespace(prefix = 'test'): string {
  return `${prefix}-${process.pid}-${++namespaces}-${Math.random().toString(36).slice(2, 8)}`;
}
