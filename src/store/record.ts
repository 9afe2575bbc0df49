import { quote } from '../check.js';
import type { Entry } from '../entry/entry.js';
import { judgeJson } from './json-data.js';

/** The record Keyv stores: `{ value, expires }`. Later fields ride beside them; plain Keyv ignores them. */
export interface StoredRecord {
  value?: unknown;
  /** The end of the entry's life, grace included: what plain Keyv readers judge expiry by. */
  expires?: number | null;
  /** With grace: the end of its fresh life (its ttl). */
  fresh?: number;
}

/** How one Keyv generation encodes the record for its store. */
export interface RecordFormat {
  /** Encodes `{ value, expires }` as that generation's Keyv writes it. */
  encode(record: StoredRecord): unknown;
  /** Decodes a raw stored value; undefined for none. Throws when it cannot be decoded. */
  decode(raw: unknown): Promise<StoredRecord | undefined>;
  /**
   * How plain JSON data may be encoded without the serializer, byte for byte as it would write it:
   * `'escaped'`: `JSON.stringify`, for data without strings that begin with ':' (Keyv's default
   * serializers escape those); `'native'`: `JSON.stringify` for all JSON data (the serializer is JSON
   * itself); `undefined`: always the serializer.
   */
  json: 'escaped' | 'native' | undefined;
  /** No serialization at all: the record object itself is stored. */
  raw: boolean;
}

/** A value ready to be written: what the adapter is given, and what every process will read back. */
export interface Prepared<V> {
  /** The encoded record, as the adapter stores it. */
  stored: unknown;
  /** The value as every process reads it back: the writer's memory copy. */
  value: V;
  /** Approximate size in bytes (the encoded length), for `memory.maxSize`. */
  size: number;
}

/**
 * Entry <-> the record Keyv keeps in its store, encoded exactly as Keyv 5 encodes it (serialize
 * `{ value, expires }`, after compressing `value` when compression is set), so that plain Keyv readers of
 * the namespace read what the cache writes and the reverse.
 *
 * The writer's memory copy is the value decoded from the very bytes written, so it is what every other
 * process reads; a value the serializer cannot give back unchanged is refused with a TypeError naming the
 * key. With Keyv's default serializer and values that are plain JSON data, encoding is native
 * `JSON.stringify`, byte for byte what `@keyv/serialize` writes for them (it differs only for Buffers and
 * strings that begin with ':', which take Keyv's own serializer).
 */
export class RecordCodec<V> {
  readonly #format: RecordFormat;

  constructor(format: RecordFormat) {
    this.#format = format;
  }

  /**
   * Encodes `value` (gone at `expires`, stale from `fresh` when kept with grace; `Date.now()` clock) for the store. Throws a TypeError naming
   * `key` when the value cannot be stored faithfully; nothing is written then.
   */
  async prepare(key: string, value: V, expires: number | undefined, fresh?: number): Promise<Prepared<V>> {
    const record: StoredRecord = expires === undefined ? { value } : fresh === undefined ? { value, expires } : { value, expires, fresh };
    const format = this.#format;
    if (format.json !== undefined) {
      const verdict = judgeJson(value);
      if (verdict.kind === 'refused') throw refused(key, verdict.reason);
      if (verdict.kind === 'buffers' && format.json === 'native') {
        throw refused(key, "it holds a Buffer, which JSON.stringify does not give back as a Buffer (use Keyv's default serializer)");
      }
      if (verdict.kind === 'json' && (format.json === 'native' || !verdict.colonStrings)) {
        const json = JSON.stringify(record);
        return { stored: json, value: (JSON.parse(json) as StoredRecord).value as V, size: json.length };
      }
    } else if (value === undefined) {
      throw refused(key, 'undefined is not a value (use delete() to remove a key)');
    } else if (typeof value === 'function' || typeof value === 'symbol') {
      throw refused(key, `the value is a ${typeof value}, which cannot be stored`);
    } else if (format.raw) {
      return { stored: record, value, size: 1 };
    }
    let stored: unknown;
    try {
      stored = await format.encode(record);
    } catch (error) {
      throw refused(key, `the store's serializer failed (${reasonOf(error)})`, error);
    }
    let back: Entry<V> | undefined;
    try {
      back = await this.decode(stored);
    } catch (error) {
      throw refused(key, `the store's serializer cannot read back what it wrote (${reasonOf(error)})`, error);
    }
    if (back === undefined) throw refused(key, "the store's serializer reads it back as nothing");
    return { stored, value: back.value, size: typeof stored === 'string' ? stored.length : 1 };
  }

  /**
   * The entry in a raw stored record, or undefined for none. Never judges expiry (the caller does), and
   * never deletes anything: Keyv's own reads delete expired entries, unfenced and unannounced.
   * Throws when the record cannot be decoded.
   */
  async decode(raw: unknown): Promise<Entry<V> | undefined> {
    if (raw === undefined || raw === null) return undefined;
    const data = await this.#format.decode(raw);
    if (data === undefined || data === null || typeof data !== 'object' || data.value === undefined) return undefined;
    const expires = typeof data.expires === 'number' ? data.expires : undefined;
    return typeof data.fresh === 'number' && expires !== undefined
      ? { value: data.value as V, expires, fresh: data.fresh }
      : { value: data.value as V, expires };
  }
}

function reasonOf(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return error instanceof RangeError || /circular/i.test(message) ? 'it is circular or too deeply nested' : message;
}

function refused(key: string, reason: string, cause?: unknown): TypeError {
  return new TypeError(`synced-cache: cannot set key ${quote(key)}: ${reason}`, cause === undefined ? undefined : { cause });
}
