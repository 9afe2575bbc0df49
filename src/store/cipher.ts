import { createSecretKey, KeyObject } from 'node:crypto';
import { checkKnownKeys, isObject, quote } from '../check.js';
import { DecryptionError } from '../errors.js';

/**
 * A key for the built-in AES-256-GCM: 32 bytes (a Buffer or Uint8Array, a 64-character hex string, or a
 * secret `KeyObject`, which never prints its bytes), or any other string, taken as a passphrase.
 */
export type EncryptionKey = string | Uint8Array | KeyObject;

/** What a custom encrypter is told about the value it encrypts, so that it can bind the value to its place. */
export interface EncryptionContext {
  /** The entry's key as the store knows it (under Keyv 5 without the namespace's own `namespace:`, which Keyv takes as implied). */
  key: string;
  /** The cache's namespace. */
  namespace: string;
}

/**
 * Encryption of your own (the interface Stasche users have): strings in, strings out, sync or async.
 * `key` is the `key` you configured (or one of `previousKeys` when decrypting); `context` names the entry,
 * for an encrypter that binds the ciphertext to it (AES-GCM's associated data, say), as the built-in one does.
 * `decrypt` must throw when it cannot decrypt; whatever it throws becomes a {@link DecryptionError}.
 */
export interface Encrypter<K = unknown> {
  encrypt(key: K, plaintext: string, context: EncryptionContext): string | Promise<string>;
  decrypt(key: K, ciphertext: string, context: EncryptionContext): string | Promise<string>;
}

/** The built-in AES-256-GCM with a random nonce per value. */
export interface BuiltInEncryption {
  /** Encrypts every value written; decrypts too. */
  key: EncryptionKey;
  /** Keys that still decrypt (values written before a rotation) but never encrypt. @default [] */
  previousKeys?: readonly EncryptionKey[];
  /** Absent: with `encrypt` and `decrypt` the option is a {@link CustomEncryption}. */
  encrypt?: never;
  decrypt?: never;
}

/** An encrypter of your own, and the key it is given (any value; `undefined` when omitted). */
export interface CustomEncryption<K = unknown> extends Encrypter<K> {
  /** Given to `encrypt` and `decrypt`. */
  key?: K;
  /** Given to `decrypt`, in order, when `key` fails. @default [] */
  previousKeys?: readonly K[];
}

/** The `encryption` option: the built-in AES-256-GCM (`{ key, previousKeys? }`) or an encrypter of your own. */
export type EncryptionOption = BuiltInEncryption | CustomEncryption;

/** Which fields of the record beside the value a cipher may bind (they stay readable in the store). */
export interface RecordMeta {
  expires: number | undefined;
  fresh: number | undefined;
}

/**
 * The encryption of a record's `value`, and nothing else of it: `expires` and `fresh` stay readable, so
 * that expiry and grace work, and plain Keyv readers see the ciphertext as the value. Two implement it:
 * the built-in AES-256-GCM (`aes-gcm.ts`) and {@link CustomCipher} over an encrypter of your own; the
 * record codec (`record.ts`) calls it, and never anything else of encryption.
 */
export interface ValueCipher {
  /** The ciphertext of `plaintext`, bound to canonical key `k`. Throws a TypeError naming `key` when it cannot. */
  seal(key: string, k: string, plaintext: string, meta: RecordMeta): Promise<string>;
  /**
   * What `read` makes of the plaintext of `sealed`, the value stored at canonical key `k`; `read` throws
   * when the plaintext is not a value this cache wrote. Rejects with a {@link DecryptionError} naming `k`
   * when no key decrypts it (a wrong key, tampering, a copy from another key, a value never encrypted).
   */
  open<T>(k: string, sealed: unknown, meta: RecordMeta, read: (plaintext: string) => T | Promise<T>): Promise<T>;
}

/** Where the namespace's passphrase salt is kept: the store, under an internal key. */
export interface SaltStore {
  /** The salt kept for the namespace, or undefined when there is none. */
  read(): Promise<string | undefined>;
  /** Writes `salt` unless a salt is there, atomically where the store or a lock allows; resolves whether it wrote. */
  writeIfAbsent(salt: string): Promise<boolean>;
}

/** The internal key the namespace's passphrase salt is kept under (listings never show it). */
export const SALT_KEY = '__synced-cache:salt';

/** Validated `encryption`: the built-in cipher's keys, or an encrypter and the keys to hand it. */
export type EncryptionSpec =
  | { kind: 'built-in'; keys: readonly CipherSecret[] }
  | { kind: 'custom'; encrypter: Encrypter; keys: readonly unknown[] };

/** A built-in key, never printed: a raw key as a KeyObject, or a passphrase behind a closure. */
export type CipherSecret = { raw: KeyObject } | { passphrase: () => string };

const SCOPE = 'synced-cache';
const HEX_KEY = /^[0-9a-f]{64}$/i;

/** A value described by its kind and size, never its content (it may be a key). */
export function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (value instanceof KeyObject) return `a ${value.type} KeyObject`;
  if (value instanceof Uint8Array) return `a ${value.constructor.name} of ${value.length} bytes`;
  if (typeof value === 'string') return `a string of ${value.length} characters`;
  return typeof value === 'object' ? 'an object' : typeof value;
}

// Error messages describe a key by its kind and size, never by its content.
function secretOf(option: string, value: unknown): CipherSecret {
  if (value instanceof KeyObject) {
    if (value.type !== 'secret' || value.symmetricKeySize !== 32) {
      throw new RangeError(`${SCOPE}: option "${option}" must be a 32-byte secret key for AES-256-GCM, got ${kindOf(value)}`);
    }
    return { raw: value };
  }
  if (value instanceof Uint8Array) {
    if (value.length !== 32) throw new RangeError(`${SCOPE}: option "${option}" must be 32 bytes for AES-256-GCM, got ${kindOf(value)}`);
    // A copy: the caller may reuse or zero its buffer.
    return { raw: createSecretKey(Buffer.from(value)) };
  }
  if (typeof value === 'string') {
    if (HEX_KEY.test(value)) return { raw: createSecretKey(Buffer.from(value, 'hex')) };
    if (value.length === 0) throw new RangeError(`${SCOPE}: option "${option}" must not be an empty passphrase`);
    return { passphrase: () => value };
  }
  throw new TypeError(
    `${SCOPE}: option "${option}" must be a 32-byte Buffer, a 64-character hex string, a secret KeyObject or a passphrase, got ${kindOf(value)}`,
  );
}

function previousOf(value: Record<string, unknown>): readonly unknown[] {
  const previous = value.previousKeys;
  if (previous === undefined) return [];
  if (!Array.isArray(previous))
    throw new TypeError(`${SCOPE}: option "encryption.previousKeys" must be an array of keys, got ${kindOf(previous)}`);
  return previous;
}

/** Validates the `encryption` option, synchronously; every error names `encryption` and never shows a key. */
export function resolveEncryption(value: unknown): EncryptionSpec | undefined {
  if (value === undefined) return undefined;
  if (!isObject(value) || Array.isArray(value)) {
    throw new TypeError(
      `${SCOPE}: option "encryption" must be { key, previousKeys? } or an encrypter with encrypt() and decrypt(), got ${kindOf(value)}`,
    );
  }
  if ('encrypt' in value || 'decrypt' in value) {
    for (const method of ['encrypt', 'decrypt'] as const) {
      if (typeof value[method] !== 'function') {
        throw new TypeError(
          `${SCOPE}: option "encryption.${method}" must be a function: an encrypter has encrypt(key, plaintext) and decrypt(key, ciphertext), got ${kindOf(value[method])}`,
        );
      }
    }
    return { kind: 'custom', encrypter: value as unknown as Encrypter, keys: [value.key, ...previousOf(value)] };
  }
  checkKnownKeys(SCOPE, 'encryption', value, ['key', 'previousKeys', 'encrypt', 'decrypt']);
  if (value.key === undefined) {
    throw new TypeError(
      `${SCOPE}: option "encryption.key" is required: a 32-byte Buffer, a 64-character hex string, a secret KeyObject or a passphrase`,
    );
  }
  const keys = [secretOf('encryption.key', value.key), ...previousOf(value).map((k, i) => secretOf(`encryption.previousKeys[${i}]`, k))];
  return { kind: 'built-in', keys };
}

/** The cipher's own errors on the write side: the value is refused, nothing is written. */
function refused(key: string, reason: string): TypeError {
  return new TypeError(`${SCOPE}: cannot set key ${quote(key)}: ${reason}`);
}

/** A thrown value's class name and nothing more: its message may hold a key or a plaintext. */
function nameOf(error: unknown): string {
  if (error instanceof Error) return error.name;
  return error === null ? 'null' : typeof error;
}

/** An encrypter of your own behind the {@link ValueCipher} contract: what it throws or answers wrongly becomes a DecryptionError. */
export class CustomCipher implements ValueCipher {
  readonly #encrypter: Encrypter;
  readonly #keys: readonly unknown[];
  readonly #namespace: string;

  constructor(encrypter: Encrypter, keys: readonly unknown[], namespace: string) {
    this.#encrypter = encrypter;
    this.#keys = keys;
    this.#namespace = namespace;
  }

  async seal(key: string, k: string, plaintext: string): Promise<string> {
    let sealed: unknown;
    try {
      sealed = await this.#encrypter.encrypt(this.#keys[0], plaintext, { key: k, namespace: this.#namespace });
    } catch (error) {
      throw refused(key, `encryption.encrypt threw (${nameOf(error)})`);
    }
    if (typeof sealed !== 'string') throw refused(key, `encryption.encrypt must return a string, got ${kindOf(sealed)}`);
    return sealed;
  }

  async open<T>(k: string, sealed: unknown, _meta: RecordMeta, read: (plaintext: string) => T | Promise<T>): Promise<T> {
    if (typeof sealed !== 'string') throw new DecryptionError(k, `the stored value is ${kindOf(sealed)}, not a ciphertext`);
    let reason = '';
    for (const key of this.#keys) {
      let plaintext: unknown;
      try {
        plaintext = await this.#encrypter.decrypt(key, sealed, { key: k, namespace: this.#namespace });
      } catch (error) {
        reason = `encryption.decrypt threw (${nameOf(error)})`;
        continue;
      }
      if (typeof plaintext !== 'string') {
        reason = `encryption.decrypt returned ${kindOf(plaintext)}, not a string`;
        continue;
      }
      try {
        return await read(plaintext);
      } catch {
        // An encrypter that does not authenticate returns garbage for a wrong key: try the next one.
        reason = 'encryption.decrypt returned something that is not a value this cache wrote';
      }
    }
    throw new DecryptionError(k, reason);
  }
}
