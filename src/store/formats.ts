import * as keyvModule from 'keyv';
import type { RecordFormat, StoredRecord, TextSerializer } from './record.js';

type Compression = { compress(value: unknown): unknown; decompress(value: unknown): unknown };
type Encryption = { encrypt(value: unknown): unknown; decrypt(value: unknown): unknown };

/** The Keyv 5 parts of the record encoding. */
export interface Keyv5Parts {
  serialize?: unknown;
  deserialize?: unknown;
  opts?: { compression?: unknown };
}

/** The Keyv 6 parts of the record encoding. */
export interface Keyv6Parts {
  serialization?: { stringify(data: unknown): unknown; parse(data: string): unknown };
  compression?: unknown;
  encryption?: unknown;
}

let keyv5DefaultSerialize: unknown;

/** The text serializer of a Keyv that has none (it stores records as objects). */
const JSON_TEXT: TextSerializer = { stringify: JSON.stringify, parse: JSON.parse };

function usable<T extends object>(value: unknown, methods: readonly (keyof T)[]): T | undefined {
  return typeof value === 'object' && value !== null && methods.every((m) => typeof (value as T)[m] === 'function')
    ? (value as T)
    : undefined;
}

/**
 * Keyv 5's encoding: `serialize({ value, expires })`, after compressing `value` alone when compression is
 * set (so `expires` stays readable); the default serializer is `@keyv/serialize`.
 */
export function keyv5Format(keyv: Keyv5Parts, defaultSerialize: () => unknown): RecordFormat {
  const serialize = typeof keyv.serialize === 'function' ? (keyv.serialize as (data: unknown) => unknown) : undefined;
  const deserialize = typeof keyv.deserialize === 'function' ? (keyv.deserialize as (data: string) => unknown) : undefined;
  const compression = usable<Compression>(keyv.opts?.compression, ['compress', 'decompress']);
  keyv5DefaultSerialize ??= defaultSerialize();
  const json =
    serialize === undefined || compression !== undefined
      ? undefined
      : serialize === keyv5DefaultSerialize
        ? 'escaped'
        : serialize === JSON.stringify && deserialize === JSON.parse
          ? 'native'
          : undefined;
  return {
    json,
    raw: serialize === undefined,
    text: serialize === undefined || deserialize === undefined ? JSON_TEXT : { stringify: serialize, parse: deserialize },
    async encode(record: StoredRecord) {
      if (serialize === undefined) return record;
      if (compression !== undefined) return serialize({ ...record, value: await compression.compress(record.value) });
      return serialize(record);
    },
    async decode(raw: unknown) {
      if (deserialize === undefined || (typeof raw !== 'string' && compression === undefined)) return raw as StoredRecord;
      const data = (await deserialize(raw as string)) as StoredRecord | undefined;
      if (compression === undefined || data === undefined || data === null) return data;
      return { ...data, value: await compression.decompress(data.value) };
    },
  };
}

/**
 * Keyv 6's encoding: the serialization adapter over the whole record, then compression of the whole
 * string, then encryption (Keyv 6's own optional slot); the default is `KeyvJsonSerializer`.
 */
export function keyv6Format(keyv: Keyv6Parts): RecordFormat {
  const serialization = usable<NonNullable<Keyv6Parts['serialization']>>(keyv.serialization, ['stringify', 'parse']);
  const compression = usable<Compression>(keyv.compression, ['compress', 'decompress']);
  const encryption = usable<Encryption>(keyv.encryption, ['encrypt', 'decrypt']);
  const Default = (keyvModule as unknown as { KeyvJsonSerializer?: new () => unknown }).KeyvJsonSerializer;
  const plain = compression === undefined && encryption === undefined;
  const json =
    serialization === undefined || !plain
      ? undefined
      : Default !== undefined && serialization instanceof Default
        ? 'escaped'
        : serialization.stringify === JSON.stringify && serialization.parse === JSON.parse
          ? 'native'
          : undefined;
  return {
    json,
    raw: serialization === undefined,
    text:
      serialization === undefined
        ? JSON_TEXT
        : { stringify: (data) => serialization.stringify(data), parse: (text) => serialization.parse(text) },
    async encode(record: StoredRecord) {
      if (serialization === undefined) return record;
      let data = await serialization.stringify(record);
      if (compression !== undefined) data = await compression.compress(data);
      if (encryption !== undefined) data = await encryption.encrypt(data);
      return data;
    },
    async decode(raw: unknown) {
      if (serialization === undefined) return typeof raw === 'string' ? undefined : (raw as StoredRecord);
      let data = raw;
      if (encryption !== undefined) data = await encryption.decrypt(data);
      if (compression !== undefined) data = await compression.decompress(data);
      return (typeof data === 'string' ? await serialization.parse(data) : data) as StoredRecord | undefined;
    },
  };
}
