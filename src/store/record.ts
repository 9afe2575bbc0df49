import { bytesOver, quote } from '../check.js';
import type { Entry } from '../entry/entry.js';
import type { RecordMeta, ValueCipher } from './cipher.js';
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
  /**
   * The generation's serializer alone, without compression or Keyv's own encryption (JSON for a Keyv
   * that has none): what turns a value into the plaintext that `encryption` encrypts.
   */
  text: TextSerializer;
}

/** A serializer of data to text and back; either side may be async. */
export interface TextSerializer {
  stringify(data: unknown): unknown;
  parse(text: string): unknown;
}

/** What the codec does besides encoding: encryption of the value, and the size limit. */
export interface CodecOptions {
  /** Encrypts `value` (and only it) before the record is encoded, decrypts it after it is decoded. */
  cipher?: ValueCipher;
  /** Most UTF-8 bytes in a serialized value, measured before encryption (`maxValueBytes`). */
  maxValueBytes?: number;
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
 *
 * With a cipher, the value is serialized on its own (as `{ value }`, by the same serializer), that
 * plaintext is encrypted, and the record stored is `{ value: ciphertext, expires, fresh? }`: expiry stays
 * readable to every reader, and the ciphertext is just a string to Keyv.
 */
export class RecordCodec<V> {
  readonly #format: RecordFormat;
  readonly #cipher: ValueCipher | undefined;
  readonly #maxValueBytes: number;

  constructor(format: RecordFormat, options: CodecOptions = {}) {
    this.#format = format;
    this.#cipher = options.cipher;
    this.#maxValueBytes = options.maxValueBytes ?? Number.POSITIVE_INFINITY;
  }

  /**
   * Encodes `value` of `key` (canonical key `k`; gone at `expires`, stale from `fresh` when kept with grace;
   * `Date.now()` clock) for the store. Throws a TypeError naming `key` when the value cannot be stored
   * faithfully, a RangeError when it is larger than `maxValueBytes`; nothing is written then.
   */
  async prepare(key: string, k: string, value: V, expires: number | undefined, fresh?: number): Promise<Prepared<V>> {
    const cipher = this.#cipher;
    if (cipher === undefined) {
      const prepared = await this.#encode(key, value, expires, fresh);
      const stored = prepared.stored;
      if (typeof stored === 'string') this.#checkSize(key, stored);
      else if (stored instanceof Uint8Array && stored.length > this.#maxValueBytes) this.#tooLarge(key, stored.length);
      return prepared;
    }
    const plain = await this.#plaintext(key, value);
    this.#checkSize(key, plain.text);
    // The fields the reader will find beside the value, exactly: bound to the ciphertext.
    const sealed = await cipher.seal(key, k, plain.text, { expires, fresh: expires === undefined ? undefined : fresh });
    const record: StoredRecord =
      expires === undefined ? { value: sealed } : fresh === undefined ? { value: sealed, expires } : { value: sealed, expires, fresh };
    const format = this.#format;
    let stored: unknown;
    if (format.json !== undefined && sealed.charCodeAt(0) !== 58 /* ':' */) stored = JSON.stringify(record);
    else {
      try {
        stored = await format.encode(record);
      } catch (error) {
        throw refused(key, `the store's serializer failed (${reasonOf(error)})`, error);
      }
    }
    return { stored, value: plain.value, size: typeof stored === 'string' ? stored.length : 1 };
  }

  async #encode(key: string, value: V, expires: number | undefined, fresh: number | undefined): Promise<Prepared<V>> {
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
      back = await this.#decodePlain<V>(stored);
    } catch (error) {
      throw refused(key, `the store's serializer cannot read back what it wrote (${reasonOf(error)})`, error);
    }
    if (back === undefined) throw refused(key, "the store's serializer reads it back as nothing");
    return { stored, value: back.value, size: typeof stored === 'string' ? stored.length : 1 };
  }

  /**
   * The plaintext of an encrypted value: `{ value }` serialized as the record would be (native JSON where
   * that is byte for byte the serializer's output), and the value read back from it, the writer's memory
   * copy. A Keyv without a serializer gets JSON, with JSON's rules.
   */
  async #plaintext(key: string, value: V): Promise<{ text: string; value: V }> {
    const format = this.#format;
    const json = format.raw ? 'native' : format.json;
    if (json !== undefined) {
      const verdict = judgeJson(value);
      if (verdict.kind === 'refused') throw refused(key, verdict.reason);
      if (verdict.kind === 'buffers' && json === 'native') {
        throw refused(key, "it holds a Buffer, which JSON.stringify does not give back as a Buffer (use Keyv's default serializer)");
      }
      if (verdict.kind === 'json' && (json === 'native' || !verdict.colonStrings)) {
        const text = JSON.stringify({ value });
        return { text, value: (JSON.parse(text) as StoredRecord).value as V };
      }
    } else if (value === undefined) {
      throw refused(key, 'undefined is not a value (use delete() to remove a key)');
    } else if (typeof value === 'function' || typeof value === 'symbol') {
      throw refused(key, `the value is a ${typeof value}, which cannot be stored`);
    }
    let text: unknown;
    try {
      text = await format.text.stringify({ value });
    } catch (error) {
      throw refused(key, `the store's serializer failed (${reasonOf(error)})`, error);
    }
    if (typeof text !== 'string') throw refused(key, "the store's serializer does not give a string, which encryption needs");
    let back: unknown;
    try {
      back = await this.#readPlaintext(text);
    } catch (error) {
      throw refused(key, `the store's serializer cannot read back what it wrote (${reasonOf(error)})`, error);
    }
    return { text, value: back as V };
  }

  /** The value in a decrypted plaintext; throws when it is not `{ value }` as this codec writes it. */
  async #readPlaintext(text: string): Promise<unknown> {
    const format = this.#format;
    // Keyv's escaping serializers change only string values that begin with ':' (in their compact JSON, a
    // quote after ':', ',' or '[' then ':'); without one, JSON.parse reads the same, without a reviver.
    const plain = format.raw || format.json === 'native' || (format.json === 'escaped' && !COLON_STRING.test(text));
    const data = (plain ? JSON.parse(text) : await format.text.parse(text)) as StoredRecord | null | undefined;
    if (typeof data !== 'object' || data === null || !('value' in data) || data.value === undefined) {
      throw new Error('the plaintext is not a value written by synced-cache');
    }
    return data.value;
  }

  #checkSize(key: string, text: string): void {
    const bytes = bytesOver(text, this.#maxValueBytes);
    if (bytes > 0) this.#tooLarge(key, bytes);
  }

  #tooLarge(key: string, bytes: number): never {
    throw new RangeError(
      `synced-cache: cannot set key ${quote(key)}: its serialized value is ${bytes} bytes, more than maxValueBytes (${this.#maxValueBytes})`,
    );
  }

  /**
   * The entry in a raw stored record at canonical key `k`, or undefined for none. Never judges expiry
   * (the caller does), and never deletes anything: Keyv's own reads delete expired entries, unfenced
   * and unannounced. Throws when the record cannot be decoded, and a DecryptionError when its value
   * cannot be decrypted.
   */
  async decode(raw: unknown, k: string): Promise<Entry<V> | undefined> {
    const entry = await this.read(raw);
    return entry === undefined ? undefined : this.open(k, entry);
  }

  /** The record in a raw stored one, its value still encrypted when there is a cipher (so that expiry can be judged first). */
  read(raw: unknown): Promise<Entry<unknown> | undefined> {
    return this.#decodePlain(raw);
  }

  /** The entry `read()` gave for canonical key `k`, its value decrypted; rejects with a DecryptionError. */
  async open(k: string, entry: Entry<unknown>): Promise<Entry<V>> {
    const cipher = this.#cipher;
    if (cipher === undefined) return entry as Entry<V>;
    const meta: RecordMeta = { expires: entry.expires, fresh: entry.fresh };
    const value = (await cipher.open(k, entry.value, meta, (text) => this.#readPlaintext(text))) as V;
    return entry.fresh === undefined ? { value, expires: entry.expires } : { value, expires: entry.expires, fresh: entry.fresh };
  }

  async #decodePlain<T>(raw: unknown): Promise<Entry<T> | undefined> {
    if (raw === undefined || raw === null) return undefined;
    const data = await this.#format.decode(raw);
    if (data === undefined || data === null || typeof data !== 'object' || data.value === undefined) return undefined;
    const expires = typeof data.expires === 'number' ? data.expires : undefined;
    return typeof data.fresh === 'number' && expires !== undefined
      ? { value: data.value as T, expires, fresh: data.fresh }
      : { value: data.value as T, expires };
  }
}

/** Where a string value that begins with ':' may start in compact JSON; other matches only cost the slow path. */
const COLON_STRING = /[:,[]":/;

function reasonOf(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return error instanceof RangeError || /circular/i.test(message) ? 'it is circular or too deeply nested' : message;
}

function refused(key: string, reason: string, cause?: unknown): TypeError {
  return new TypeError(`synced-cache: cannot set key ${quote(key)}: ${reason}`, cause === undefined ? undefined : { cause });
}
