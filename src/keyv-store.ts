// Placeholder until the Keyv store adapter lands (issue 4).
import type { SyncedCache } from './synced-cache.js';

export class SyncedKeyvStore {
  constructor(readonly cache: SyncedCache<unknown>) {}
}
