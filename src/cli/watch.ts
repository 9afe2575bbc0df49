import { channelFor, decodeMessage, MessageType } from 'synced-cache';
import { connectRedis, resolveTargets } from './context.js';
import { CliError, EXIT, explain, usage, withTimeout } from './errors.js';
import { type GlobalOptions, redact } from './options.js';
import { note, print } from './output.js';

export async function watchCommand(local: { heartbeats?: boolean }, options: GlobalOptions): Promise<number> {
  const { redis } = resolveTargets(options);
  if (redis === undefined) throw usage('watch needs the bus: pass --redis <url> (or a redis:// --store)');
  const channel = channelFor(options.namespace);
  const client = await connectRedis(redis, options.timeout, 'synced-cache:watch');
  client.on('message', (ch: string, payload: string) => {
    if (ch !== channel) return;
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
    const shown = keys === undefined ? '' : ` keys=${keys === '*' ? '*' : JSON.stringify(keys)}`;
    print(`${time} ${type} origin=${message.origin} seq=${message.seq}${lag === undefined ? '' : ` lag=${lag}ms`}${shown}`, {
      time,
      type,
      origin: message.origin,
      seq: message.seq,
      sentAt: sentAt === undefined ? null : new Date(sentAt).toISOString(),
      lagMs: lag ?? null,
      ...(keys === undefined ? {} : { keys }),
    });
  });
  let subscribedOnce = false;
  client.on('close', () => {
    if (subscribedOnce) note(`${new Date().toISOString()} connection to Redis lost, reconnecting (messages sent meanwhile are missed)`);
  });
  client.on('ready', () => {
    if (subscribedOnce) note(`${new Date().toISOString()} reconnected to Redis`);
  });
  try {
    await withTimeout(client.subscribe(channel), options.timeout, 'SUBSCRIBE');
  } catch (error) {
    client.disconnect();
    throw new CliError(explain(error, 'Redis', redis, options.timeout));
  }
  subscribedOnce = true;
  note(`watching ${channel} on ${redact(redis)} (Ctrl-C to stop)`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  client.disconnect();
  return EXIT.ok;
}
