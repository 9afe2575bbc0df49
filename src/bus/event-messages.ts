import { describe } from '../check.js';
import { STREAMED_EVENTS, type StreamedEvent } from '../observe/events.js';
import { byteLength, isSenderId, isTime, PROTOCOL_VERSION, senderIdRefusal } from './messages.js';
import { looksSigned, type MessageSigner } from './signing.js';

/**
 * The events channel of a namespace (`events: { bus: true }`), beside its invalidation channel. A
 * namespace named `<ns>:events` has this channel as its invalidation channel: its caches count the
 * event messages of `<ns>` as ignored (they are of another namespace), and nothing else happens.
 */
export function eventsChannelFor(namespace: string): string {
  return `synced-cache:${namespace}:events`;
}

/** The message type of an event batch (the invalidation channel's are `i` and `h`). */
const EVENTS_TYPE = 'e';

/** One event as it travels: what happened, to which key (none for `clear`), and when (ms since the epoch). */
export interface StreamedEventRecord {
  event: StreamedEvent;
  /** The key as the caller gave it; `undefined` for `clear`. */
  key: string | undefined;
  at: number;
}

/** A batch of events from one cache, as read from the events channel. Values never travel. */
export interface EventsMessage {
  /** Instance id of the sender. */
  origin: string;
  /** The sender's sequence number of this message: 1, 2, 3, ...; a gap is a message lost in transit. */
  seq: number;
  /** Events the sender dropped since its previous message reached Redis (channel down or slow, queue full). */
  dropped: number;
  events: StreamedEventRecord[];
}

/** One event, as the batch holds it: `["set",1718000000000,"user:1"]`, `["clear",1718000000000]`. */
export function encodeEventRecord(event: StreamedEvent, key: string | undefined, at: number): string {
  return key === undefined
    ? `[${JSON.stringify(event)},${JSON.stringify(at)}]`
    : `[${JSON.stringify(event)},${JSON.stringify(at)},${JSON.stringify(key)}]`;
}

/** How every batch of `origin` begins, up to its events: the sender, the sequence and the drop count. */
export function eventsHead(namespace: string, origin: string, seq: number, dropped: number): string {
  return `${JSON.stringify({ v: PROTOCOL_VERSION, ns: namespace, t: EVENTS_TYPE, o: origin, q: seq, d: dropped }).slice(0, -1)},"e":[`;
}

/** The tail {@link eventsHead} needs after the records. */
export const EVENTS_TAIL = ']}';

/**
 * A batch message: `head` from {@link eventsHead}, the records from {@link encodeEventRecord}, and with
 * `signer` the signature for the events channel of `namespace` (a signature of one channel never
 * verifies on another).
 */
export function encodeEvents(namespace: string, head: string, records: readonly string[], signer?: MessageSigner): string {
  const body = `${head}${records.join(',')}${EVENTS_TAIL}`;
  return signer === undefined ? body : signer.sign(body, eventsChannelFor(namespace), namespace);
}

const KNOWN: ReadonlySet<unknown> = new Set(STREAMED_EVENTS);

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/**
 * Decodes and validates a batch from the events channel of `namespace`. Returns the reason as a string
 * when the payload is to be ignored: not a string, larger than `maxBytes` (checked before anything is
 * parsed or hashed), unsigned or badly signed when `signer` is given, signed when it is not, malformed
 * (an event time a `Date` cannot hold, a sender id longer than 128 characters among them),
 * foreign (another namespace, protocol version or message type), or not exactly what the encoder writes.
 * Read from the JSON's own fields only; the result is a new plain object of validated fields.
 */
export function decodeEvents(namespace: string, payload: unknown, maxBytes: number, signer?: MessageSigner): EventsMessage | string {
  if (typeof payload !== 'string') return 'payload is not a string';
  if (byteLength(payload, maxBytes) > maxBytes) return `payload of ${payload.length} characters exceeds maxMessageBytes (${maxBytes})`;
  let body = payload;
  if (signer !== undefined) {
    const opened = signer.open(payload, eventsChannelFor(namespace), namespace);
    if ('refused' in opened) return opened.refused;
    body = opened.body;
  }
  let raw: unknown;
  try {
    raw = JSON.parse(body);
  } catch {
    return signer === undefined && looksSigned(payload) ? 'a signed message, and no secret to check it with' : 'payload is not JSON';
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return 'payload is not an object';
  const m = raw as Record<string, unknown>;
  const own = (name: string): unknown => (Object.hasOwn(m, name) ? m[name] : undefined);
  if (own('v') !== PROTOCOL_VERSION) return `unknown protocol version ${describe(own('v'))}`;
  if (own('ns') !== namespace) return `message for namespace ${describe(own('ns'))} on the events channel of ${JSON.stringify(namespace)}`;
  if (own('t') !== EVENTS_TYPE) return `not an event batch (type ${describe(own('t'))})`;
  const origin = own('o');
  if (!isSenderId(origin)) return senderIdRefusal(origin);
  const seq = own('q');
  const dropped = own('d');
  if (!isCount(seq)) return 'missing or invalid sequence number';
  if (!isCount(dropped)) return 'missing or invalid drop count';
  const list = own('e');
  if (!Array.isArray(list)) return 'event batch without events';
  const events: StreamedEventRecord[] = [];
  for (const item of list) {
    if (!Array.isArray(item)) return 'an event that is not a list';
    const [event, at, key] = item as unknown[];
    if (!KNOWN.has(event)) return `unknown event ${describe(event)}`;
    if (!isTime(at)) return 'an event without a valid time';
    if (event === 'clear' ? item.length !== 2 : item.length !== 3 || typeof key !== 'string') {
      return `an event ${describe(event)} with the wrong fields`;
    }
    events.push({ event: event as StreamedEvent, key: key as string | undefined, at });
  }
  const records = events.map((e) => encodeEventRecord(e.event, e.key, e.at));
  if (`${eventsHead(namespace, origin, seq, dropped)}${records.join(',')}${EVENTS_TAIL}` !== body) {
    return 'not in the form the encoder writes (compact JSON, its fields in order, no others)';
  }
  return { origin, seq, dropped, events };
}
