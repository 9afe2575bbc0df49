// watch: every message on the namespace's channel, one line each, until interrupted; with --events, also
// every operation the caches stream on its events channel.
import {
  type BusMessage,
  channelFor,
  decodeEvents,
  decodeMessage,
  type EventsMessage,
  eventsChannelFor,
  formatEvent,
  MessageSigner,
  MessageType,
} from 'synced-cache';
import { connectRedis, type RedisConnection } from '../redis/connect.js';
import { checkSecret, resolveTargets } from './context.js';
import { Deadline } from './deadline.js';
import { CliError, EXIT, explain, foreignLine, usage } from './errors.js';
import type { GlobalOptions } from './options.js';
import { note, print } from './output.js';
import { isoTime, showToken, toJson } from './printable.js';
import { redactUrl } from './redact.js';

export interface WatchOptions {
  heartbeats?: boolean;
  events?: boolean;
}

/** Senders whose last events sequence number is kept, for telling lost messages; past it, all are forgotten. */
const MAX_TRACKED = 10_000;

/**
 * `handler` for the messages of channel `on`, made unable to end the process (a throw inside ioredis's
 * message event would): whoever can publish chooses what it is given, so a message it cannot show is
 * noted on stderr, in one line, and watching goes on.
 */
export function guarded(on: string, handler: (payload: string) => void): (payload: string) => void {
  return (payload) => {
    try {
      handler(payload);
    } catch (error) {
      note(`${new Date().toISOString()} could not show a message on ${on}: ${foreignLine(error)}`);
    }
  };
}

function signerOf(secret: string | undefined): MessageSigner | undefined {
  if (secret === undefined) return undefined;
  checkSecret(secret);
  return new MessageSigner(secret);
}

export async function watchCommand(local: WatchOptions, options: GlobalOptions): Promise<number> {
  // Only connecting and subscribing draw on --timeout; watching itself lasts until interrupted.
  const deadline = new Deadline(options.timeout);
  const { redis } = resolveTargets(options);
  if (redis === undefined) throw usage('watch needs the bus: pass --redis <url> (or a redis:// --store)');
  const signer = signerOf(options.secret);
  const namespace = options.namespace;
  const channel = channelFor(namespace);
  const eventsChannel = eventsChannelFor(namespace);
  let connection: RedisConnection;
  try {
    connection = await connectRedis(redis, { timeout: deadline.remaining(), name: 'synced-cache:watch' });
  } catch (error) {
    throw new CliError(explain(error, 'Redis', redis, options.timeout));
  }
  const signedNoted = new Set<string>();
  /** A message that was not shown. Signed ones without --secret are said once per channel: every message would be. */
  const ignored = (time: string, on: string, reason: string) => {
    if (signer === undefined && reason.startsWith('a signed message')) {
      if (!signedNoted.has(on)) {
        signedNoted.add(on);
        note(`${time} the messages on ${on} are signed: pass --secret (or SYNCED_CACHE_SECRET) to read them; they are ignored`);
      }
      return;
    }
    // The invalidation channel's notes read as they always have; the events channel's name themselves.
    note(`${time} ignored a message${on === channel ? '' : ` on ${on}`}: ${reason}`);
  };
  const lastInvalidation = new Map<string, number>();
  /**
   * Whether an invalidation is new: its sequence number above the last one its sender sent (heartbeats
   * carry that number too). An older or equal one is a replay or a duplicate, which the caches drop: it
   * is noted instead of shown. Heartbeats always pass, and tell where a sender is.
   */
  const freshInvalidation = (message: BusMessage, time: string): boolean => {
    const last = lastInvalidation.get(message.origin);
    if (message.type === MessageType.Invalidate && last !== undefined && message.seq <= last) {
      note(
        `${time} ignored a replayed or duplicate invalidation from origin=${showToken(message.origin)} seq=${message.seq} (last seen: seq=${last})`,
      );
      return false;
    }
    if (last === undefined || message.seq > last) {
      if (lastInvalidation.size >= MAX_TRACKED) lastInvalidation.clear();
      lastInvalidation.set(message.origin, message.seq);
    }
    return true;
  };
  const onMessage = (payload: string) => {
    const now = Date.now();
    const time = new Date(now).toISOString();
    // No size limit here: an operator watching wants to see even a message the caches would refuse.
    const message = decodeMessage(namespace, payload, Number.MAX_SAFE_INTEGER, signer);
    if (typeof message === 'string') {
      ignored(time, channel, message);
      return;
    }
    if (!freshInvalidation(message, time)) return;
    if (message.type === MessageType.Heartbeat && local.heartbeats !== true) return;
    const type = message.type === MessageType.Invalidate ? 'invalidate' : 'heartbeat';
    const sentAt = message.sentAt > 0 ? message.sentAt : undefined;
    const lag = sentAt === undefined ? undefined : Math.max(0, now - sentAt);
    const keys = message.type === MessageType.Invalidate ? message.keys : undefined;
    // Anyone who can publish chooses the origin and the keys: shown escaped, they cannot forge a line.
    const shown = keys === undefined ? '' : ` keys=${keys === '*' ? '*' : toJson(keys)}`;
    const origin = showToken(message.origin);
    print(`${time} ${type} origin=${origin} seq=${message.seq}${lag === undefined ? '' : ` lag=${lag}ms`}${shown}`, {
      time,
      type,
      origin: message.origin,
      seq: message.seq,
      sentAt: sentAt === undefined ? null : isoTime(sentAt),
      lagMs: lag ?? null,
      ...(keys === undefined ? {} : { keys }),
    });
  };
  const lastSeq = new Map<string, number>();
  /**
   * Whether `batch` is new: its sequence number above the last one seen from its sender. An older or
   * equal one is a replay (a recorded batch published again, which its signature does not tell) or a
   * duplicate, and is not shown. Also notes the batches lost in transit and the events dropped.
   */
  const fresh = (batch: EventsMessage, time: string): boolean => {
    const last = lastSeq.get(batch.origin);
    const from = `instance=${showToken(batch.origin)}`;
    if (last !== undefined && batch.seq <= last) {
      note(`${time} ignored a replayed or duplicate batch from ${from} seq=${batch.seq} (last seen: seq=${last})`);
      return false;
    }
    if (lastSeq.size >= MAX_TRACKED) lastSeq.clear();
    lastSeq.set(batch.origin, batch.seq);
    if (last !== undefined && batch.seq > last + 1) note(`${time} ${batch.seq - last - 1} event message(s) from ${from} lost in transit`);
    if (batch.dropped > 0)
      note(`${time} ${batch.dropped} event(s) dropped by ${from} (its events channel was down or slow, or its queue full)`);
    return true;
  };
  const onEvents = (payload: string) => {
    const time = new Date().toISOString();
    const batch = decodeEvents(namespace, payload, Number.MAX_SAFE_INTEGER, signer);
    if (typeof batch === 'string') {
      ignored(time, eventsChannel, batch);
      return;
    }
    if (!fresh(batch, time)) return;
    for (const { event, key, at } of batch.events) {
      // The same line as logEvents() prints in-process; keys and ids are escaped there.
      print(formatEvent(event, { key, at, instance: batch.origin }), {
        time: isoTime(at),
        type: 'event',
        event,
        key: key ?? null,
        instance: batch.origin,
      });
    }
  };
  let subscribedOnce = false;
  connection.onConnectionChange((change) => {
    if (!subscribedOnce) return;
    if (change === 'lost') note(`${new Date().toISOString()} connection to Redis lost, reconnecting (messages sent meanwhile are missed)`);
    else note(`${new Date().toISOString()} reconnected to Redis`);
  });
  try {
    await deadline.race(connection.subscribe(channel, guarded(channel, onMessage)), 'SUBSCRIBE');
    if (local.events === true) await deadline.race(connection.subscribe(eventsChannel, guarded(eventsChannel, onEvents)), 'SUBSCRIBE');
  } catch (error) {
    connection.disconnect();
    throw new CliError(explain(error, 'Redis', redis, options.timeout));
  }
  subscribedOnce = true;
  const watched = local.events === true ? `${channel} and ${eventsChannel}` : channel;
  note(`watching ${watched} on ${redactUrl(redis)}${signer === undefined ? '' : ', checking signatures'} (Ctrl-C to stop)`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  connection.disconnect();
  return EXIT.ok;
}
