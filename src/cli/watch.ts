// watch: every message on the namespace's channel, one line each, until interrupted.
import { channelFor, decodeMessage, MessageType } from 'synced-cache';
import { connectRedis, type RedisConnection } from '../redis/connect.js';
import { resolveTargets } from './context.js';
import { Deadline } from './deadline.js';
import { CliError, EXIT, explain, usage } from './errors.js';
import type { GlobalOptions } from './options.js';
import { note, print } from './output.js';
import { showToken, toJson } from './printable.js';
import { redactUrl } from './redact.js';

export async function watchCommand(local: { heartbeats?: boolean }, options: GlobalOptions): Promise<number> {
  // Only connecting and subscribing draw on --timeout; watching itself lasts until interrupted.
  const deadline = new Deadline(options.timeout);
  const { redis } = resolveTargets(options);
  if (redis === undefined) throw usage('watch needs the bus: pass --redis <url> (or a redis:// --store)');
  const channel = channelFor(options.namespace);
  let connection: RedisConnection;
  try {
    connection = await connectRedis(redis, { timeout: deadline.remaining(), name: 'synced-cache:watch' });
  } catch (error) {
    throw new CliError(explain(error, 'Redis', redis, options.timeout));
  }
  const onMessage = (payload: string) => {
    const now = Date.now();
    const time = new Date(now).toISOString();
    // No size limit here: an operator watching wants to see even a message the caches would refuse.
    const message = decodeMessage(options.namespace, payload, Number.MAX_SAFE_INTEGER);
    if (typeof message === 'string') {
      note(`${time} ignored a message: ${message}`);
      return;
    }
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
      sentAt: sentAt === undefined ? null : new Date(sentAt).toISOString(),
      lagMs: lag ?? null,
      ...(keys === undefined ? {} : { keys }),
    });
  };
  let subscribedOnce = false;
  connection.onConnectionChange((change) => {
    if (!subscribedOnce) return;
    if (change === 'lost') note(`${new Date().toISOString()} connection to Redis lost, reconnecting (messages sent meanwhile are missed)`);
    else note(`${new Date().toISOString()} reconnected to Redis`);
  });
  try {
    await deadline.race(connection.subscribe(channel, onMessage), 'SUBSCRIBE');
  } catch (error) {
    connection.disconnect();
    throw new CliError(explain(error, 'Redis', redis, options.timeout));
  }
  subscribedOnce = true;
  note(`watching ${channel} on ${redactUrl(redis)} (Ctrl-C to stop)`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  connection.disconnect();
  return EXIT.ok;
}
