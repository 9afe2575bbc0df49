// Redis connections for one-shot operator tools (the CLI): they fail fast, name what went wrong, and
// never print. The core's bus has its own clients; this is for a person waiting at a prompt.
import { Redis } from 'ioredis';
import { withTimeout } from '../clock.js';

/**
 * Why a Redis could not be used. The network codes are Node's; the others are ours:
 * `ERR_REDIS_PASSWORD_NOT_NEEDED` a password was given but the server's user needs none,
 * `ERR_REDIS_PASSWORD_REQUIRED` none was given but the server wants one,
 * `ERR_REDIS_WRONG_CREDENTIALS` the user name or password is wrong,
 * `ERR_REDIS_REPLY` any other error reply (the message is the server's first line).
 */
export type RedisConnectCode =
  | 'ECONNREFUSED'
  | 'ENOTFOUND'
  | 'ETIMEDOUT'
  | 'ERR_REDIS_PASSWORD_NOT_NEEDED'
  | 'ERR_REDIS_PASSWORD_REQUIRED'
  | 'ERR_REDIS_WRONG_CREDENTIALS'
  | 'ERR_REDIS_REPLY'
  | 'ERR_REDIS_CONNECT';

/**
 * A failure to connect to a Redis. Its message never holds the URL or the password, and it keeps no
 * `cause`: ioredis's errors carry the AUTH command's arguments, the password among them.
 */
export class RedisConnectError extends Error {
  override readonly name = 'RedisConnectError';
  readonly code: RedisConnectCode;
  constructor(code: RedisConnectCode, message: string) {
    super(message);
    this.code = code;
  }
}

/** What an operator does with a Redis: count the subscribers of a channel, or listen to it. */
export interface RedisConnection {
  /** How many clients are subscribed to `channel` (`PUBSUB NUMSUB`). */
  subscriberCount(channel: string): Promise<number>;
  /**
   * Subscribes to `channel` and calls `onMessage` with each payload. Resolves once Redis has confirmed
   * the subscription; after a reconnect the subscription is renewed.
   */
  subscribe(channel: string, onMessage: (payload: string) => void): Promise<void>;
  /** Called with `'lost'` when the connection drops and `'back'` when it is usable again. */
  onConnectionChange(listener: (change: 'lost' | 'back') => void): void;
  /** Closes at once: no QUIT, which a frozen Redis would never answer. */
  disconnect(): void;
}

export interface ConnectOptions {
  /** Milliseconds for everything: the TCP connection, authentication and the first answer. */
  timeout: number;
  /** The connection name (`CLIENT SETNAME`) that `CLIENT LIST` shows. */
  name: string;
}

function firstLine(text: string): string {
  return text.split('\n')[0] ?? text;
}

const NETWORK_CODES: Record<string, RedisConnectCode> = {
  ECONNREFUSED: 'ECONNREFUSED',
  ENOTFOUND: 'ENOTFOUND',
  EAI_AGAIN: 'ENOTFOUND',
  ETIMEDOUT: 'ETIMEDOUT',
};

/** A failure of ioredis, or an error reply, as a {@link RedisConnectError}. */
function classify(error: unknown, lastEvent: Error | undefined): RedisConnectError {
  if (error instanceof RedisConnectError) return error;
  for (const candidate of [error, lastEvent]) {
    const code = (candidate as { code?: unknown } | undefined)?.code;
    const network = typeof code === 'string' ? NETWORK_CODES[code] : undefined;
    if (network !== undefined) return new RedisConnectError(network, `${code} (${firstLine((candidate as Error).message)})`);
  }
  const message = firstLine(error instanceof Error ? error.message : String(error));
  // Redis 6+ and Redis before 6 word these differently.
  if (/without any password configured|no password is set/i.test(message)) {
    return new RedisConnectError('ERR_REDIS_PASSWORD_NOT_NEEDED', message);
  }
  if (/^WRONGPASS|invalid password|invalid username-password/i.test(message)) {
    return new RedisConnectError('ERR_REDIS_WRONG_CREDENTIALS', message);
  }
  if (/^NOAUTH/i.test(message)) return new RedisConnectError('ERR_REDIS_PASSWORD_REQUIRED', message);
  if (/wrong number of arguments for 'auth'/i.test(message)) {
    return new RedisConnectError('ERR_REDIS_REPLY', 'this Redis (before 6) takes a password but no user name: use redis://:password@host');
  }
  const isReply = (error as { name?: unknown } | undefined)?.name === 'ReplyError';
  return new RedisConnectError(isReply ? 'ERR_REDIS_REPLY' : 'ERR_REDIS_CONNECT', message);
}

/** An ioredis client that tries once before its first success (the user is waiting) and keeps trying after. */
function client(url: string, timeout: number, name: string | undefined): { redis: Redis; lastError: () => Error | undefined } {
  let connected = false;
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: Math.max(1, Math.round(timeout)),
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    ...(name === undefined ? {} : { connectionName: name }),
    retryStrategy: (times) => (connected ? Math.min(100 * 2 ** Math.min(times, 4), 2_000) : null),
  });
  let last: Error | undefined;
  // Unheard, ioredis would print "[ioredis] Unhandled error event" itself.
  redis.on('error', (error: Error) => {
    last = error;
  });
  redis.once('ready', () => {
    connected = true;
  });
  return { redis, lastError: () => last };
}

const timedOut = (timeout: number) => () => new RedisConnectError('ETIMEDOUT', `no answer within ${Math.round(timeout)} ms`);

/**
 * Connects to `url`, authenticates as ioredis would, selects its database, and disconnects: resolves
 * when a client with this URL would work, else rejects with a {@link RedisConnectError}.
 *
 * It sends AUTH itself rather than letting ioredis do it: ioredis answers a password the server does
 * not need with a `console.warn` (once per connection) and goes on, and a tool should say it once, as
 * its own error.
 */
export async function checkRedis(url: string, timeout: number): Promise<void> {
  // withTimeout takes 0 as "no limit": a spent budget must still end the wait.
  const ms = Math.max(1, timeout);
  const { redis, lastError } = client(url, ms, undefined);
  // The URL may carry them as userinfo or as ?password= / ?username=: ioredis has parsed both.
  const { username, password, db } = redis.options;
  redis.options.username = undefined;
  redis.options.password = undefined;
  redis.options.db = 0;
  redis.options.enableReadyCheck = false;
  redis.options.disableClientInfo = true;
  try {
    await withTimeout(
      (async () => {
        await redis.connect();
        // The condition ioredis itself authenticates on.
        if (username) await redis.call('AUTH', username, password ?? '');
        else if (password) await redis.call('AUTH', password);
        else await redis.ping();
        if (db) await redis.select(db);
      })(),
      ms,
      timedOut(timeout),
    );
  } catch (error) {
    throw classify(error, lastError());
  } finally {
    redis.disconnect();
  }
}

/**
 * A connection for an operator: checked first with {@link checkRedis} (so a credentials problem is one
 * error, not ioredis warnings), then opened; `timeout` bounds both. Rejects with a {@link RedisConnectError}.
 */
export async function connectRedis(url: string, options: ConnectOptions): Promise<RedisConnection> {
  const end = performance.now() + options.timeout;
  await checkRedis(url, options.timeout);
  const left = Math.max(1, end - performance.now());
  const { redis, lastError } = client(url, left, options.name);
  try {
    await withTimeout(redis.connect(), left, timedOut(options.timeout));
  } catch (error) {
    redis.disconnect();
    throw classify(error, lastError());
  }
  return {
    async subscriberCount(channel) {
      const reply = (await redis.pubsub('NUMSUB', channel)) as [string, number];
      return Number(reply[1]);
    },
    async subscribe(channel, onMessage) {
      redis.on('message', (from: string, payload: string) => {
        if (from === channel) onMessage(payload);
      });
      await redis.subscribe(channel);
    },
    onConnectionChange(listener) {
      redis.on('close', () => listener('lost'));
      redis.on('ready', () => listener('back'));
    },
    disconnect() {
      redis.disconnect();
    },
  };
}
