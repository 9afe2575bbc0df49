import { createCipheriv, createDecipheriv, createHash, createSecretKey, KeyObject, randomBytes, randomFillSync, scrypt } from 'node:crypto';
import { checkKnownKeys, isObject, quote } from '../check.js';
import { DecryptionError } from '../errors.js';

/**
 * A key for the built-in AES-256-GCM: 32 bytes (a Buffer or Uint8Array, a 64-character hex string, or a
 * secret `KeyObject`, which never prints its bytes), or any other string, taken as a passphrase.
 */
export type EncryptionKey = string | Uint8Array | KeyObject;

/** What a custom encrypter is told about the value it encrypts, so that it can bind the value to its place. */
export interface EncryptionContext {
  /** The entry's key, without the namespace's own `namespace:` prefix (both spellings name one entry). */
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
 * that expiry and grace work, and plain Keyv readers see the ciphertext as the value.
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
  | { kind: 'built-in'; keys: readonly Secret[] }
  | { kind: 'custom'; encrypter: Encrypter; keys: readonly unknown[] };

/** A built-in key, never printed: a raw key as a KeyObject, or a passphrase behind a closure. */
export type Secret = { raw: KeyObject } | { passphrase: () => string };

const SCOPE = 'synced-cache';
const HEX_KEY = /^[0-9a-f]{64}$/i;

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (value instanceof KeyObject) return `a ${value.type} KeyObject`;
  if (value instanceof Uint8Array) return `a ${value.constructor.name} of ${value.length} bytes`;
  if (typeof value === 'string') return `a string of ${value.length} characters`;
  return typeof value === 'object' ? 'an object' : typeof value;
}

// Error messages describe a key by its kind and size, never by its content.
function secretOf(option: string, value: unknown): Secret {
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

/** Builds the cipher of a namespace; `salts` is read only when a passphrase encrypts. */
export function createCipher(spec: EncryptionSpec, namespace: string, salts: SaltStore): ValueCipher {
  return spec.kind === 'custom' ? new CustomCipher(spec.encrypter, spec.keys, namespace) : new AesGcmCipher(spec.keys, namespace, salts);
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

class CustomCipher implements ValueCipher {
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

// The built-in format: `sc1.` + base64url(kind, [salt], nonce, tag, ciphertext). A passphrase's value
// carries the salt its key was stretched with, so that a value stays readable by every process that
// knows the passphrase even when two processes came to use different salts (the salt key cleared with
// the namespace, or written by a store that has no set-if-absent).
const PREFIX = 'sc1.';
const RAW = 0;
const PASSPHRASE = 1;
const SALT_BYTES = 16;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
/** scrypt's cost: 64 MiB and about half a second per stretch, once per process and salt. */
const SCRYPT = { N: 2 ** 16, r: 8, p: 1, maxmem: 96 * 1024 * 1024 } as const;

// Nonces are cut from a pool of random bytes refilled when used up: a small randomBytes() costs more
// than the encryption of a small value. Each nonce is used once, and copied into its ciphertext.
const nonces = Buffer.allocUnsafe(NONCE_BYTES * 1_024);
let noncesUsed = nonces.length;

function nextNonce(): Buffer {
  if (noncesUsed === nonces.length) {
    randomFillSync(nonces);
    noncesUsed = 0;
  }
  noncesUsed += NONCE_BYTES;
  return nonces.subarray(noncesUsed - NONCE_BYTES, noncesUsed);
}

// Stretched keys, shared by every cache of the process, keyed by a hash (never the passphrase itself).
const stretched = new Map<string, Promise<KeyObject>>();
const STRETCHED_MAX = 32;

function stretch(passphrase: string, salt: Buffer): Promise<KeyObject> {
  const id = createHash('sha256').update(passphrase).update('\0').update(salt).digest('base64');
  let key = stretched.get(id);
  if (key === undefined) {
    key = new Promise<KeyObject>((resolve, reject) => {
      scrypt(passphrase, salt, 32, SCRYPT, (error, bytes) => (error === null ? resolve(createSecretKey(bytes)) : reject(error)));
    });
    key.catch(() => stretched.delete(id));
    if (stretched.size >= STRETCHED_MAX) stretched.delete(stretched.keys().next().value as string);
    stretched.set(id, key);
  }
  return key;
}

/** `namespace` and `k`, length-prefixed so that no two pairs give one string, and the readable fields beside the value. */
function associated(header: Buffer, namespace: string, k: string, meta: RecordMeta): Buffer {
  return Buffer.concat([header, Buffer.from(`${namespace.length}:${namespace}${k}\0${meta.expires ?? ''}\0${meta.fresh ?? ''}`)]);
}

// Caches of one process that share a namespace settle its salt one after the other, so that a store
// without a set-if-absent (or two caches' separate add guards) cannot have them write two salts.
const settling = new Map<string, Promise<unknown>>();

function oneAtATime<T>(name: string, body: () => Promise<T>): Promise<T> {
  const turn = (settling.get(name) ?? Promise.resolve()).then(body, body);
  settling.set(name, turn);
  const release = () => {
    if (settling.get(name) === turn) settling.delete(name);
  };
  turn.then(release, release);
  return turn;
}

/** The namespace's salt: the one kept in the store, or this process's own if it cannot keep one there. */
function namespaceSalt(namespace: string, salts: SaltStore): Promise<Buffer> {
  return oneAtATime(namespace, () => settleSalt(salts));
}

async function settleSalt(salts: SaltStore): Promise<Buffer> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const kept = await salts.read();
    if (kept !== undefined) {
      const salt = Buffer.from(kept, 'base64url');
      // A salt that is not one of ours (written by hand?) is not used; values carry their own salt anyway.
      return salt.length === SALT_BYTES ? salt : randomBytes(SALT_BYTES);
    }
    const salt = randomBytes(SALT_BYTES);
    if (await salts.writeIfAbsent(salt.toString('base64url'))) return salt;
    // Another process wrote one first: read it (unless it was deleted meanwhile, then try again).
  }
  return randomBytes(SALT_BYTES);
}

class AesGcmCipher implements ValueCipher {
  readonly #raw: readonly KeyObject[];
  readonly #passphrases: readonly (() => string)[];
  readonly #first: Secret;
  readonly #namespace: string;
  readonly #salts: SaltStore;
  /** The key that encrypts, with the header of its values; settled once per cache, retried after a failure. */
  #sealing: Promise<{ key: KeyObject; header: Buffer }> | undefined;

  constructor(keys: readonly Secret[], namespace: string, salts: SaltStore) {
    this.#first = keys[0] as Secret;
    this.#raw = keys.flatMap((s) => ('raw' in s ? [s.raw] : []));
    this.#passphrases = keys.flatMap((s) => ('passphrase' in s ? [s.passphrase] : []));
    this.#namespace = namespace;
    this.#salts = salts;
  }

  #sealingKey(): Promise<{ key: KeyObject; header: Buffer }> {
    const first = this.#first;
    if ('raw' in first) {
      this.#sealing ??= Promise.resolve({ key: first.raw, header: Buffer.of(RAW) });
    } else if (this.#sealing === undefined) {
      const sealing = namespaceSalt(this.#namespace, this.#salts).then(async (salt) => ({
        key: await stretch(first.passphrase(), salt),
        header: Buffer.concat([Buffer.of(PASSPHRASE), salt]),
      }));
      this.#sealing = sealing;
      // A store that failed is asked again by the next write.
      sealing.catch(() => {
        if (this.#sealing === sealing) this.#sealing = undefined;
      });
    }
    return this.#sealing;
  }

  async seal(_key: string, k: string, plaintext: string, meta: RecordMeta): Promise<string> {
    const { key, header } = await this.#sealingKey();
    const nonce = nextNonce();
    const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
    cipher.setAAD(associated(header, this.#namespace, k, meta));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return PREFIX + Buffer.concat([header, nonce, cipher.getAuthTag(), body]).toString('base64url');
  }

  async open<T>(k: string, sealed: unknown, meta: RecordMeta, read: (plaintext: string) => T | Promise<T>): Promise<T> {
    if (typeof sealed !== 'string' || !sealed.startsWith(PREFIX)) {
      throw new DecryptionError(k, 'the stored value was not encrypted by synced-cache (written without encryption, or by another writer)');
    }
    const bytes = Buffer.from(sealed.slice(PREFIX.length), 'base64url');
    const kind = bytes[0];
    const headerBytes = kind === PASSPHRASE ? 1 + SALT_BYTES : 1;
    if ((kind !== RAW && kind !== PASSPHRASE) || bytes.length < headerBytes + NONCE_BYTES + TAG_BYTES) {
      throw new DecryptionError(k, 'the ciphertext is malformed');
    }
    const header = bytes.subarray(0, headerBytes);
    let keys: readonly KeyObject[];
    if (kind === RAW) {
      keys = this.#raw;
      if (keys.length === 0) throw new DecryptionError(k, 'it was encrypted with a raw key, and only passphrases are configured');
    } else {
      if (this.#passphrases.length === 0)
        throw new DecryptionError(k, 'it was encrypted with a passphrase, and only raw keys are configured');
      const salt = Buffer.from(header.subarray(1));
      keys = await Promise.all(this.#passphrases.map((passphrase) => stretch(passphrase(), salt)));
    }
    const nonce = bytes.subarray(headerBytes, headerBytes + NONCE_BYTES);
    const tag = bytes.subarray(headerBytes + NONCE_BYTES, headerBytes + NONCE_BYTES + TAG_BYTES);
    const body = bytes.subarray(headerBytes + NONCE_BYTES + TAG_BYTES);
    const aad = associated(header, this.#namespace, k, meta);
    for (const key of keys) {
      let plaintext: string;
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
        decipher.setAAD(aad);
        decipher.setAuthTag(tag);
        plaintext = Buffer.concat([decipher.update(body), decipher.final()]).toString('utf8');
      } catch {
        continue;
      }
      try {
        return await read(plaintext);
      } catch {
        throw new DecryptionError(k, "it decrypted, but the store's serializer cannot read the plaintext");
      }
    }
    throw new DecryptionError(
      k,
      'no configured key authenticates it (a wrong key, a tampered value, or a value copied from another key or namespace)',
    );
  }
}
