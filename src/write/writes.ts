import { checkKey, checkKeys } from '../check.js';
import { StoreError } from '../errors.js';
import type { LoadSettings, WriteSettings } from '../options.js';
import { writeSettings } from '../options.js';
import type { ReadThrough } from '../read/read-through.js';
import { INTERNAL_KEY_PREFIX, type KeyRules } from '../store/keys.js';
import type { StoreTier } from '../store/store-tier.js';
import type { SetManyEntry, SetOptions } from '../types.js';
import type { AddGuard } from './add.js';
import {
  addPlan,
  type BatchEntry,
  clearPlan,
  deleteManyPlan,
  deletePlan,
  loadedPlan,
  replacePlan,
  setManyPlan,
  setPlan,
  timing,
  type WritePlan,
} from './plans.js';
import type { WritePath } from './write-path.js';

/** How many times `update()` reads again when another write got in between its read and its write. */
const UPDATE_ATTEMPTS = 5;

/** The parts the writes are built from. */
export interface WritesParts<V> {
  store: StoreTier<V>;
  keys: KeyRules;
  path: WritePath<V>;
  reads: ReadThrough<V>;
  guard: AddGuard;
  defaults: LoadSettings;
  /** Longest key, in UTF-8 bytes. */
  maxKeyLength: number;
  /** Throws CacheClosedError for `operation` once close() has begun. */
  open(operation: string): void;
}

/**
 * A key a write may take (getOrSet's included, since it stores what its loader returns): a valid key, and
 * none of the library's own (an encryption salt, say), which a caller's write or delete would corrupt.
 * Judged on the canonical form, so under Keyv 5 `ns:__synced-cache:x` is one too.
 */
export function checkWriteKey(
  key: unknown,
  operation: string,
  parts: Pick<WritesParts<unknown>, 'keys' | 'maxKeyLength'>,
): asserts key is string {
  checkKey(key, operation, parts.maxKeyLength);
  if (parts.keys.canon(key).startsWith(INTERNAL_KEY_PREFIX)) {
    throw new TypeError(
      `synced-cache: ${operation}: keys beginning with "${INTERNAL_KEY_PREFIX}" are the library's own; choose another key`,
    );
  }
}

/**
 * Every kind of write, as the public methods take it: the input checked before anything is touched,
 * the value prepared for the store, then one plan run through the one write protocol (write-path.ts).
 * Every write is tracked from its first line, so that close() lets it finish and announce itself.
 */
export class Writes<V> {
  readonly #parts: WritesParts<V>;

  constructor(parts: WritesParts<V>) {
    this.#parts = parts;
  }

  set(key: string, value: V, options: SetOptions | number | undefined): Promise<void> {
    const { path, defaults } = this.#parts;
    return path.track(async () => {
      checkWriteKey(key, 'set', this.#parts);
      this.#parts.open('set');
      await path.run(await this.#setPlan(key, value, writeSettings('set', key, options, defaults)));
    });
  }

  /** A loader's result: stored unless `unchanged()` is false when the write begins. */
  setLoaded(key: string, value: V, settings: WriteSettings, unchanged: () => boolean): Promise<void> {
    const path = this.#parts.path;
    return path.track(async () => {
      await path.run(loadedPlan(await this.#setPlan(key, value, settings), unchanged));
    });
  }

  setMany(entries: readonly SetManyEntry<V>[]): Promise<void> {
    const { path, store, keys, defaults } = this.#parts;
    return path.track(async () => {
      if (!Array.isArray(entries)) throw new TypeError('synced-cache: setMany: entries must be an array of { key, value, ttl?, grace? }');
      this.#parts.open('setMany');
      const batch: BatchEntry<V>[] = [];
      for (const entry of entries) {
        if (typeof entry !== 'object' || entry === null) {
          throw new TypeError('synced-cache: setMany: each entry must be an object { key, value, ttl?, grace? }');
        }
        checkWriteKey(entry.key, 'setMany', this.#parts);
        const settings = writeSettings('setMany', entry.key, { ttl: entry.ttl, grace: entry.grace }, defaults);
        const t = timing(settings.ttl, settings.grace);
        const prepared = await store.prepare(entry.key, entry.value, t.expires, t.fresh);
        batch.push({ k: keys.canon(entry.key), key: entry.key, ttl: t.ttl, expires: t.expires, timing: t, prepared });
      }
      if (batch.length > 0) await path.run(setManyPlan(store, batch));
    });
  }

  add(key: string, value: V, options: SetOptions | number | undefined): Promise<boolean> {
    const { path, store, keys, reads, guard, defaults } = this.#parts;
    return path.track(async () => {
      checkWriteKey(key, 'add', this.#parts);
      this.#parts.open('add');
      const settings = writeSettings('add', key, options, defaults);
      const k = keys.canon(key);
      // The store's own SET NX would see a stale record kept for grace as present: the guard judges by freshness.
      if (store.setsIfAbsent && settings.grace === 0) {
        const t = timing(settings.ttl, 0);
        const prepared = await store.prepare(key, value, t.expires, t.fresh);
        if ((await path.run(addPlan(store, k, key, prepared, t))) === true) return true;
        // SET NX also refuses a record kept past its ttl for another write's grace: only a fresh one counts.
        const { entry } = await store.read(k);
        if (entry !== undefined) return false;
      }
      const plan = await this.#setPlan(key, value, settings);
      return guard.run(k, async () => {
        const found = await reads.find(k, key);
        if (found !== undefined && !found.stale) return false;
        await path.run(plan);
        return true;
      });
    });
  }

  /**
   * Reads `key` from the store (never memory), gives its fresh value (or undefined) to `updater`, and
   * writes what it returns only if the store still holds what was read; when another write got in
   * between, reads again, up to {@link UPDATE_ATTEMPTS} times. `updater` returning undefined writes
   * nothing. Atomic where the store compares and sets itself (Redis); elsewhere every update of a key
   * takes the key's guard, but a plain set may still land between its check and its write.
   */
  update(
    key: string,
    updater: (current: V | undefined) => V | undefined | Promise<V | undefined>,
    options: SetOptions | number | undefined,
  ): Promise<V | undefined> {
    const { path, store, keys, guard, defaults } = this.#parts;
    return path.track(async () => {
      checkWriteKey(key, 'update', this.#parts);
      if (typeof updater !== 'function') throw new TypeError('synced-cache: update: updater must be a function');
      this.#parts.open('update');
      const settings = writeSettings('update', key, options, defaults);
      const k = keys.canon(key);
      for (let attempt = 0; attempt < UPDATE_ATTEMPTS; attempt++) {
        const { raw, entry } = await store.read(k);
        const next = await updater(entry?.value);
        if (next === undefined) return undefined;
        const t = timing(settings.ttl, settings.grace);
        const prepared = await store.prepare(key, next, t.expires, t.fresh);
        const plan = replacePlan(store, k, key, raw, prepared, t);
        const wrote = store.comparesAndSets ? await path.run(plan) : await guard.run(k, () => path.run(plan));
        if (wrote === true) return prepared.value;
      }
      throw new StoreError('update', key, new Error(`the key kept changing: ${UPDATE_ATTEMPTS} attempts were overtaken by other writes`));
    });
  }

  delete(key: string): Promise<boolean> {
    const { path, store, keys } = this.#parts;
    return path.track(async () => {
      checkWriteKey(key, 'delete', this.#parts);
      this.#parts.open('delete');
      return (await path.run(deletePlan(store, keys.canon(key), key))) === true;
    });
  }

  deleteMany(list: readonly string[]): Promise<boolean> {
    const { path, store, keys } = this.#parts;
    return path.track(async () => {
      checkKeys(list, 'deleteMany', this.#parts.maxKeyLength);
      for (const key of list) checkWriteKey(key, 'deleteMany', this.#parts);
      this.#parts.open('deleteMany');
      if (list.length === 0) return true;
      return (
        (await path.run(
          deleteManyPlan(
            store,
            list.map((key) => keys.canon(key)),
            list,
          ),
        )) === true
      );
    });
  }

  clear(): Promise<void> {
    const { path, store } = this.#parts;
    return path.track(async () => {
      this.#parts.open('clear');
      await path.run(clearPlan(store));
    });
  }

  async #setPlan(key: string, value: V, settings: WriteSettings): Promise<WritePlan<void, V>> {
    const t = timing(settings.ttl, settings.grace);
    const prepared = await this.#parts.store.prepare(key, value, t.expires, t.fresh);
    return setPlan(this.#parts.store, this.#parts.keys.canon(key), key, prepared, t);
  }
}
