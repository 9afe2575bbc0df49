import { quote } from '../check.js';
import type { Entry } from '../entry/entry.js';
import { judgeJson } from './json-data.js';

/** Keyv's serializer pair, and its optional compression of the value. */
export interface KeyvCodecParts {
  serialize: ((data: unknown) => unknown) | undefined;
  deserialize: ((data: string) => unknown) | undefined;
  compression: { compress(value: unknown): unknown; decompress(value: unknown): unknown } | undefined;
  /** The serializer is Keyv's own default (`@keyv/serialize`): JSON that round-trips Buffers. */
  keyvDefault: boolean;
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

/** The record Keyv stores: `{ value, expires }`. Later fields ride beside them; plain Keyv ignores them. */
interface StoredRecord {
  value?: unknown;
  expires?: number | null;
}

type Mode = 'keyv-json' | 'native-json' | 'custom' | 'raw';

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
  readonly #parts: KeyvCodecParts;
  readonly #mode: Mode;

  constructor(parts: KeyvCodecParts) {
    this.#parts = parts;
    if (parts.serialize === undefined) this.#mode = 'raw';
    else if (parts.compression !== undefined) this.#mode = 'custom';
    else if (parts.keyvDefault) this.#mode = 'keyv-json';
    else if (parts.serialize === JSON.stringify && parts.deserialize === JSON.parse) this.#mode = 'native-json';
    else this.#mode = 'custom';
  }

  /**
   * Encodes `value` (expiring at `expires`, `Date.now()` clock) for the store. Throws a TypeError naming
   * `key` when the value cannot be stored faithfully; nothing is written then.
   */
  async prepare(key: string, value: V, expires: number | undefined): Promise<Prepared<V>> {
    const record: StoredRecord = expires === undefined ? { value } : { value, expires };
    const mode = this.#mode;
    if (mode === 'keyv-json' || mode === 'native-json') {
      const verdict = judgeJson(value);
      if (verdict.kind === 'refused') throw refused(key, verdict.reason);
      if (verdict.kind === 'buffers' && mode === 'native-json') {
        throw refused(key, "it holds a Buffer, which JSON.stringify does not give back as a Buffer (use Keyv's default serializer)");
      }
      if (verdict.kind === 'json' && (mode === 'native-json' || !verdict.colonStrings)) {
        const json = JSON.stringify(record);
        return { stored: json, value: (JSON.parse(json) as StoredRecord).value as V, size: json.length };
      }
    } else if (value === undefined) {
      throw refused(key, 'undefined is not a value (use delete() to remove a key)');
    } else if (typeof value === 'function' || typeof value === 'symbol') {
      throw refused(key, `the value is a ${typeof value}, which cannot be stored`);
    } else if (mode === 'raw') {
      return { stored: record, value, size: 1 };
    }
    let stored: unknown;
    try {
      stored = await this.#encode(record);
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

  async #encode(record: StoredRecord): Promise<unknown> {
    const { serialize, compression } = this.#parts;
    if (serialize === undefined) return record;
    if (compression !== undefined) return serialize({ value: await compression.compress(record.value), expires: record.expires });
    return serialize(record);
  }

  /**
   * The entry in a raw stored record, or undefined for none. Never judges expiry (the caller does), and
   * never deletes anything: Keyv's own reads delete expired entries, unfenced and unannounced.
   * Throws when the record cannot be decoded.
   */
  async decode(raw: unknown): Promise<Entry<V> | undefined> {
    if (raw === undefined || raw === null) return undefined;
    const { deserialize, compression } = this.#parts;
    let data: StoredRecord | undefined;
    if (deserialize !== undefined && (typeof raw === 'string' || compression !== undefined)) {
      data = (await deserialize(raw as string)) as StoredRecord | undefined;
      if (compression !== undefined && data !== undefined && data !== null) {
        data = { value: await compression.decompress(data.value), expires: data.expires ?? undefined };
      }
    } else {
      data = raw as StoredRecord;
    }
    if (data === undefined || data === null || typeof data !== 'object' || data.value === undefined) return undefined;
    return { value: data.value as V, expires: typeof data.expires === 'number' ? data.expires : undefined };
  }
}

function reasonOf(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return error instanceof RangeError || /circular/i.test(message) ? 'it is circular or too deeply nested' : message;
}

function refused(key: string, reason: string, cause?: unknown): TypeError {
  return new TypeError(`synced-cache: cannot set key ${quote(key)}: ${reason}`, cause === undefined ? undefined : { cause });
}
