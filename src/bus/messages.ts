import { describe, quote } from '../check.js';
import { looksSigned, type MessageSigner } from './signing.js';

/** Message kinds on the bus: a const object plus a union, so both values and types are available. */
export const MessageType = {
  /** Drop these keys (or `'*'`: everything) from memory. */
  Invalidate: 'i',
  /** A liveness probe; also tells receivers the sender's last invalidation sequence number. */
  Heartbeat: 'h',
} as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

/** Wire format version; a receiver ignores versions it does not know. */
export const PROTOCOL_VERSION = 1;

/**
 * Longest sender id a message may carry, in characters; a message with a longer one is refused. The
 * caches' own are UUIDs (36 characters). It bounds, in bytes, what a receiver remembers of each sender
 * (the bus's sequence numbers, `watch`'s), whatever ids a publisher forges.
 */
export const MAX_SENDER_ID_LENGTH = 128;

/** True for a sender id a message may carry: a non-empty string of at most {@link MAX_SENDER_ID_LENGTH} characters. */
export function isSenderId(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_SENDER_ID_LENGTH;
}

/** Why `value`, refused by {@link isSenderId}, is no sender id. */
export function senderIdRefusal(value: unknown): string {
  return typeof value === 'string' && value.length > MAX_SENDER_ID_LENGTH
    ? `a sender id of ${value.length} characters (at most ${MAX_SENDER_ID_LENGTH})`
    : 'missing sender id';
}

/** Milliseconds from the epoch a `Date` can hold, either way (ECMA-262 time values). */
const MAX_TIME = 8.64e15;

/** True for a time (ms since the epoch) that a `Date` can hold, so every receiver can show it. */
export function isTime(value: unknown): value is number {
  return typeof value === 'number' && Math.abs(value) <= MAX_TIME;
}

export interface InvalidateMessage {
  type: typeof MessageType.Invalidate;
  /** Instance id of the sender. */
  origin: string;
  /** The sender's sequence number of this invalidation: 1, 2, 3, ... with no gaps. */
  seq: number;
  /** Sender's `Date.now()` at sending. */
  sentAt: number;
  keys: string[] | '*';
}

export interface HeartbeatMessage {
  type: typeof MessageType.Heartbeat;
  origin: string;
  /** The sender's last invalidation sequence number at sending. */
  seq: number;
  /** The sender's heartbeat counter, used only by the sender to match its own probes. */
  nonce: number;
  sentAt: number;
}

export type BusMessage = InvalidateMessage | HeartbeatMessage;

/** The pub/sub channel of a namespace. */
export function channelFor(namespace: string): string {
  return `synced-cache:${namespace}`;
}

/**
 * How every invalidation that `origin` sends on `namespace` begins, so that a sender can recognise its own
 * invalidations, which Redis echoes back, without parsing what can be a large batch.
 *
 * The rule is about the beginning only: everything that identifies the sender (version, namespace, type,
 * origin) comes first, and whatever follows (sequence, time, keys, and later a signature appended as a
 * suffix) may change without touching it. {@link encodeMessage} builds every invalidation from this
 * prefix, so the two cannot drift apart. A heartbeat never begins with it (its type differs): the sender
 * must decode its own heartbeats to match their nonces.
 */
export function ownMessagePrefix(namespace: string, origin: string): string {
  const head = JSON.stringify({ v: PROTOCOL_VERSION, ns: namespace, t: MessageType.Invalidate, o: origin });
  return `${head.slice(0, -1)},`;
}

/**
 * Encodes a message for `namespace`: compact JSON, its fields in a fixed order, and, with `signer`, its
 * signature appended. This is the only form {@link decodeMessage} accepts.
 */
export function encodeMessage(namespace: string, message: BusMessage, signer?: MessageSigner): string {
  const body = encodeBody(namespace, message);
  return signer === undefined ? body : signer.sign(body, channelFor(namespace), namespace);
}

function encodeBody(namespace: string, message: BusMessage): string {
  if (message.type === MessageType.Invalidate) {
    const keys = JSON.stringify(message.keys);
    return `${ownMessagePrefix(namespace, message.origin)}"q":${JSON.stringify(message.seq)},"ts":${JSON.stringify(message.sentAt)},"k":${keys}}`;
  }
  return JSON.stringify({
    v: PROTOCOL_VERSION,
    ns: namespace,
    t: message.type,
    o: message.origin,
    q: message.seq,
    n: message.nonce,
    ts: message.sentAt,
  });
}

/** Bytes `payload` takes in UTF-8, without encoding it when the answer is plain from its length. */
export function byteLength(payload: string, limit: number): number {
  return payload.length * 3 <= limit ? payload.length : Buffer.byteLength(payload);
}

function isSeq(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** Why a payload was refused; `signature` when its signature was the matter, with the sender it claims. */
export class Refusal {
  constructor(
    readonly reason: string,
    readonly signature = false,
    readonly sender: string | undefined = undefined,
  ) {}
}

/**
 * Decodes and validates a message for `namespace`. Returns the reason as a string when the payload is
 * to be ignored: not a string, larger than `maxBytes` (checked first, before anything is parsed or
 * hashed), unsigned or badly signed when `signer` is given, malformed (a time a `Date` cannot hold, a
 * sender id longer than {@link MAX_SENDER_ID_LENGTH} among them), foreign (another namespace or
 * protocol version), or not exactly what {@link encodeMessage} writes for the message it holds (extra,
 * missing, repeated or reordered fields, whitespace, other spellings of a number or string).
 *
 * A message is read only from the JSON object's own fields: a `__proto__`, `constructor` or `prototype`
 * field of a payload is an extra field (refused), and nothing is read from a prototype. The message
 * returned is a new plain object of validated fields.
 */
export function decodeMessage(namespace: string, payload: unknown, maxBytes: number, signer?: MessageSigner): BusMessage | string {
  const message = readMessage(namespace, payload, maxBytes, signer);
  return message instanceof Refusal ? message.reason : message;
}

/** {@link decodeMessage}, with the refusal as a {@link Refusal}: the bus reports signature failures apart. */
export function readMessage(namespace: string, payload: unknown, maxBytes: number, signer?: MessageSigner): BusMessage | Refusal {
  if (typeof payload !== 'string') return new Refusal('payload is not a string');
  if (byteLength(payload, maxBytes) > maxBytes) {
    return new Refusal(`payload of ${payload.length} characters exceeds maxMessageBytes (${maxBytes})`);
  }
  let body = payload;
  if (signer !== undefined) {
    const opened = signer.open(payload, channelFor(namespace), namespace);
    if ('refused' in opened) return new Refusal(opened.refused, true, claimedSender(namespace, payload));
    body = opened.body;
  }
  let raw: unknown;
  try {
    raw = JSON.parse(body);
  } catch {
    if (signer === undefined && looksSigned(payload)) {
      return new Refusal('a signed message, and this cache has no secret', true, claimedSender(namespace, payload));
    }
    return new Refusal('payload is not JSON');
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return new Refusal('payload is not an object');
  const message = fields(namespace, raw as Record<string, unknown>);
  if (typeof message === 'string') return new Refusal(message);
  if (encodeBody(namespace, message) !== body) {
    return new Refusal('not in the form encodeMessage writes (compact JSON, its fields in order, no others)');
  }
  return message;
}

/** The message in `m`, read from its own fields only, or why there is none. */
function fields(namespace: string, m: Record<string, unknown>): BusMessage | string {
  const own = (name: string): unknown => (Object.hasOwn(m, name) ? m[name] : undefined);
  const v = own('v');
  if (v !== PROTOCOL_VERSION) return `unknown protocol version ${describe(v)}`;
  const ns = own('ns');
  if (ns !== namespace) return `message for namespace ${describe(ns)} on the channel of ${quote(namespace)}`;
  const origin = own('o');
  if (!isSenderId(origin)) return senderIdRefusal(origin);
  const seq = own('q');
  if (!isSeq(seq)) return 'missing or invalid sequence number';
  const sentAt = own('ts');
  if (!isTime(sentAt)) return 'missing or invalid timestamp';
  const type = own('t');
  if (type === MessageType.Invalidate) {
    const keys = own('k');
    if (keys !== '*') {
      if (!Array.isArray(keys)) return 'invalidation without keys';
      for (let i = 0; i < keys.length; i++) {
        if (typeof keys[i] !== 'string') return 'invalidation with a non-string key';
      }
    }
    return { type, origin, seq, sentAt, keys: keys as string[] | '*' };
  }
  if (type === MessageType.Heartbeat) {
    const nonce = own('n');
    if (!isSeq(nonce)) return 'heartbeat without a valid nonce';
    return { type, origin, seq, nonce, sentAt };
  }
  return `unknown message type ${describe(type)}`;
}

// Longest sender id read from an unverified message, for reporting it.
const MAX_CLAIMED_SENDER = 200;

/**
 * The sender id an unverified payload names, read where {@link encodeMessage} writes it, without parsing
 * the rest; `undefined` when the payload does not begin like a message of `namespace`. Anyone who can
 * publish chooses it: it is good for grouping reports, never for trusting.
 */
export function claimedSender(namespace: string, payload: string): string | undefined {
  for (const type of [MessageType.Invalidate, MessageType.Heartbeat]) {
    const head = `${JSON.stringify({ v: PROTOCOL_VERSION, ns: namespace, t: type }).slice(0, -1)},"o":"`;
    if (!payload.startsWith(head)) continue;
    const end = Math.min(payload.length, head.length + MAX_CLAIMED_SENDER);
    for (let i = head.length; i < end; i++) {
      const c = payload[i];
      if (c === '\\') i++;
      else if (c === '"') {
        try {
          const origin: unknown = JSON.parse(payload.slice(head.length - 1, i + 1));
          return typeof origin === 'string' && origin.length > 0 ? origin : undefined;
        } catch {
          return undefined;
        }
      }
    }
    return undefined;
  }
  return undefined;
}
