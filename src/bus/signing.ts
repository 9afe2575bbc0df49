import { createHmac, createSecretKey, type KeyObject, timingSafeEqual } from 'node:crypto';

/**
 * A key for signing bus messages: a string (its UTF-8 bytes) or bytes, or a list of them for rotation,
 * the first of which signs and every one of which verifies.
 */
export type Secret = string | Uint8Array | readonly (string | Uint8Array)[];

/** Between the message text and its signature. JSON text never ends with it. */
const SEPARATOR = '.';
/** An HMAC-SHA256 is 32 bytes: 43 characters of unpadded base64url. */
const SIGNATURE_CHARS = 43;
const SUFFIX_CHARS = SEPARATOR.length + SIGNATURE_CHARS;
const BASE64URL = /^[A-Za-z0-9_-]*$/;

/** Why `secret` is not usable, in words that name the option and never show the value (it is a secret). */
function refuse(option: string, rule: string, value: unknown, Err: typeof TypeError): never {
  const kind =
    value === null
      ? 'null'
      : Array.isArray(value)
        ? 'an array'
        : typeof value === 'string'
          ? `a string of ${value.length} characters`
          : value instanceof Uint8Array
            ? `${value.byteLength} bytes`
            : typeof value === 'object'
              ? 'an object'
              : `a ${typeof value}`;
  throw new Err(`synced-cache: option "${option}" ${rule}, got ${kind}`);
}

function keyOf(option: string, value: unknown): KeyObject {
  if (typeof value === 'string') {
    if (value.length === 0) refuse(option, 'must not be empty', value, RangeError);
    return createSecretKey(Buffer.from(value, 'utf8'));
  }
  if (value instanceof Uint8Array) {
    if (value.byteLength === 0) refuse(option, 'must not be empty', value, RangeError);
    // createSecretKey copies: a buffer the caller reuses later changes nothing here.
    return createSecretKey(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
  }
  return refuse(option, 'must be a string or a Buffer (or an array of them, the first of which signs)', value, TypeError);
}

/**
 * Validates the `secret` option and prepares its keys: the first signs, every one verifies. Throws a
 * TypeError for a wrong type and a RangeError for an empty key or an empty array; the message never
 * contains the secret.
 */
export function checkSecret(value: unknown, option = 'secret'): readonly KeyObject[] {
  if (!Array.isArray(value)) return [keyOf(option, value)];
  if (value.length === 0) refuse(option, 'must hold at least one key when it is an array', value, RangeError);
  return value.map((key, i) => keyOf(`${option}[${i}]`, key));
}

/** What {@link MessageSigner.open} found. */
export type Opened = { readonly body: string } | { readonly refused: string };

/**
 * Signs bus messages and checks their signatures: an HMAC-SHA256 over the channel, the namespace and the
 * whole message text, appended to the text as `.` and 43 characters of base64url. Appended, so a message
 * still begins the way its codec wrote it (the sender recognises its own echoes by that beginning).
 *
 * A signature made for another channel or namespace does not verify here, so a message cannot be replayed
 * across them. Comparison is in constant time, against every key. Rotation takes three rolling deploys,
 * so that processes on the step before and after always hear each other: `[old, new]` (the new key
 * verifies), then `[new, old]` (it signs), then `[new]`. A process still on `[old]` ignores a sender
 * on `[new, old]`, so skipping the first step leaves it serving stale memory until it is deployed.
 * The keys are held as `KeyObject`s in private fields: neither `util.inspect` nor an error message
 * ever shows them.
 */
export class MessageSigner {
  readonly #keys: readonly KeyObject[];

  /** @throws TypeError or RangeError naming `secret` when it is not a usable secret. */
  constructor(secret: Secret) {
    this.#keys = checkSecret(secret);
  }

  /** `body` with its signature for `channel` of `namespace` appended. */
  sign(body: string, channel: string, namespace: string): string {
    return `${body}${SEPARATOR}${this.#mac(this.#keys[0] as KeyObject, body, channel, namespace)}`;
  }

  /**
   * The message text of `payload` if its signature verifies for `channel` of `namespace` with one of the
   * keys, else why not. Only the last 44 characters are looked at before the HMAC: a payload too large
   * is the codec's to refuse first.
   */
  open(payload: string, channel: string, namespace: string): Opened {
    const at = payload.length - SUFFIX_CHARS;
    if (at < 0 || payload[at] !== SEPARATOR) return { refused: 'no signature (unsigned, or truncated)' };
    const signature = payload.slice(at + SEPARATOR.length);
    if (!BASE64URL.test(signature)) return { refused: 'no signature (unsigned, or truncated)' };
    const body = payload.slice(0, at);
    const given = Buffer.from(signature, 'latin1');
    let valid = false;
    for (const key of this.#keys) {
      // Every key is tried, matched or not, and the bytes compared in constant time: how long this
      // takes says nothing about how much of a forged signature was right.
      const expected = Buffer.from(this.#mac(key, body, channel, namespace), 'latin1');
      valid = timingSafeEqual(expected, given) || valid;
    }
    return valid ? { body } : { refused: 'bad signature (another secret, or a message made or changed by someone without it)' };
  }

  #mac(key: KeyObject, body: string, channel: string, namespace: string): string {
    // The JSON array delimits channel and namespace, so no two (channel, namespace, body) share an input.
    return createHmac('sha256', key)
      .update(JSON.stringify([channel, namespace]))
      .update(body)
      .digest('base64url');
  }
}

/** True when `payload` ends the way a signed message does: for telling a receiver without a secret why it cannot read it. */
export function looksSigned(payload: string): boolean {
  const at = payload.length - SUFFIX_CHARS;
  return at > 0 && payload[at] === SEPARATOR && BASE64URL.test(payload.slice(at + 1));
}

/** How often a bad signature from one sender is reported, at most, in ms. */
export const SIGNATURE_REPORT_INTERVAL = 60_000;

/** Most senders whose last report is remembered; past it, new senders are not reported until some age out. */
const MAX_REPORTED_SENDERS = 100;

/**
 * Decides which signature failures to report: at most one per claimed sender per
 * {@link SIGNATURE_REPORT_INTERVAL}. The sender named in an unverified message is whatever its author
 * wrote, so the memory is bounded: at most {@link MAX_REPORTED_SENDERS} senders, and while that many have
 * been reported within the interval, a new one is not. Every failure is still counted by the bus.
 */
export class SignatureReports {
  readonly #last = new Map<string, number>();

  /** True when a failure of `sender` (`undefined`: not named) at `now` is to be reported. */
  due(sender: string | undefined, now: number): boolean {
    const id = sender ?? '';
    const last = this.#last.get(id);
    if (last !== undefined && now - last < SIGNATURE_REPORT_INTERVAL) return false;
    if (last === undefined && this.#last.size >= MAX_REPORTED_SENDERS) {
      for (const [other, at] of this.#last) if (now - at >= SIGNATURE_REPORT_INTERVAL) this.#last.delete(other);
      if (this.#last.size >= MAX_REPORTED_SENDERS) return false;
    }
    this.#last.set(id, now);
    return true;
  }
}
