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

/** Encodes a message for `namespace`. */
export function encodeMessage(namespace: string, message: BusMessage): string {
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

/**
 * Decodes and validates a message for `namespace`. Returns the reason as a string when the payload is
 * malformed, foreign (another namespace or protocol) or oversized; it is then to be ignored.
 */
export function decodeMessage(namespace: string, payload: unknown, maxBytes: number): BusMessage | string {
  if (typeof payload !== 'string') return 'payload is not a string';
  if (byteLength(payload, maxBytes) > maxBytes) return `payload of ${payload.length} characters exceeds maxMessageBytes (${maxBytes})`;
  let raw: unknown;
  try {
    raw = JSON.parse(payload);
  } catch {
    return 'payload is not JSON';
  }
  if (typeof raw !== 'object' || raw === null) return 'payload is not an object';
  const m = raw as Record<string, unknown>;
  if (m.v !== PROTOCOL_VERSION) return `unknown protocol version ${JSON.stringify(m.v)}`;
  if (m.ns !== namespace) return `message for namespace ${JSON.stringify(m.ns)} on the channel of ${JSON.stringify(namespace)}`;
  if (typeof m.o !== 'string' || m.o.length === 0) return 'missing sender id';
  if (!isSeq(m.q)) return 'missing or invalid sequence number';
  const sentAt = typeof m.ts === 'number' && Number.isFinite(m.ts) ? m.ts : 0;
  if (m.t === MessageType.Invalidate) {
    const keys = m.k;
    if (keys !== '*') {
      if (!Array.isArray(keys)) return 'invalidation without keys';
      for (let i = 0; i < keys.length; i++) {
        if (typeof keys[i] !== 'string') return 'invalidation with a non-string key';
      }
    }
    return { type: MessageType.Invalidate, origin: m.o, seq: m.q, sentAt, keys: keys as string[] | '*' };
  }
  if (m.t === MessageType.Heartbeat) {
    if (!isSeq(m.n)) return 'heartbeat without a valid nonce';
    return { type: MessageType.Heartbeat, origin: m.o, seq: m.q, nonce: m.n, sentAt };
  }
  return `unknown message type ${JSON.stringify(m.t)}`;
}
