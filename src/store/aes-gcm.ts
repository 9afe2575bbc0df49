import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createSecretKey,
  type KeyObject,
  randomBytes,
  randomFillSync,
  scrypt,
} from 'node:crypto';
import { DecryptionError } from '../errors.js';
import type { CipherSecret, RecordMeta, SaltStore, ValueCipher } from './cipher.js';

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

/**
 * The built-in cipher: AES-256-GCM, a random 96-bit nonce per value, the namespace, the canonical key and
 * the record's readable fields as associated data. A raw key encrypts as it is; a passphrase is stretched
 * with scrypt and the namespace's salt, settled once in the store (see {@link SaltStore}).
 */
export class AesGcmCipher implements ValueCipher {
  readonly #raw: readonly KeyObject[];
  readonly #passphrases: readonly (() => string)[];
  readonly #first: CipherSecret;
  readonly #namespace: string;
  readonly #salts: SaltStore;
  /** The key that encrypts, with the header of its values; settled once per cache, retried after a failure. */
  #sealing: Promise<{ key: KeyObject; header: Buffer }> | undefined;

  constructor(keys: readonly CipherSecret[], namespace: string, salts: SaltStore) {
    this.#first = keys[0] as CipherSecret;
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
