import type { RedisOptions } from 'ioredis';
import { isClient, isCluster, type RedisOption } from './clients.js';

/** What stands in for a secret. */
export const MASK = '***';

// userinfo of a URL: scheme://user:password@ -> scheme://user:***@
const URL_PASSWORD = /([a-z][a-z0-9+.-]*:\/\/[^\s:@/]*:)[^\s@/]*@/gi;

/** `url` with its password, if any, shown as `***`. */
export function maskUrl(url: string): string {
  return url.replace(URL_PASSWORD, `$1${MASK}@`);
}

function fromOptions(options: RedisOptions | undefined, into: Set<string>): void {
  for (const secret of [options?.password, options?.sentinelPassword]) if (typeof secret === 'string') into.add(secret);
}

/** The credentials a target carries (URL password, options and client passwords), to mask wherever they appear. */
export function secretsOf(target: RedisOption): string[] {
  const secrets = new Set<string>();
  if (typeof target === 'string') {
    try {
      const { password } = new URL(target);
      if (password !== '') {
        secrets.add(password);
        secrets.add(decodeURIComponent(password));
      }
    } catch {
      // Not a URL ioredis can use either: it will fail on its own, and maskUrl still applies.
    }
  } else if (isCluster(target)) {
    fromOptions(target.options?.redisOptions, secrets);
  } else if (isClient(target)) {
    fromOptions(target.options, secrets);
  } else {
    fromOptions(target, secrets);
  }
  secrets.delete('');
  return [...secrets];
}

interface CommandLike {
  name?: unknown;
  args?: unknown;
}

/**
 * Copies of errors fit to hand out: the same class, message, code and stack, with every credential
 * masked in them and down their `cause` chain (and `errors`, and any other error they hold).
 *
 * ioredis attaches the failed command to a `ReplyError`; for AUTH and HELLO its arguments are the
 * credentials, so a logger that serializes `cause` deeply would record the password. Arguments of AUTH
 * (the password; a username is kept) and of HELLO's AUTH clause are masked whatever they are; any
 * other string equal to or containing a known secret, or a URL's password, is masked too. The original
 * errors are left as they are: they may be the application's (its own client's) to see.
 */
export class Scrubber {
  readonly #secrets: readonly string[];

  constructor(secrets: readonly string[]) {
    // Longest first, so that a secret containing another is masked whole.
    this.#secrets = [...secrets].sort((a, b) => b.length - a.length);
  }

  /** A copy of `error` (an `Error`, or anything thrown) without credentials. */
  error(error: unknown): Error {
    const copy = this.#value(error instanceof Error ? error : new Error(String(error)), new Map(), 0);
    return copy as Error;
  }

  /** `text` with every known secret and URL password masked. */
  text(text: string): string {
    let out = maskUrl(text);
    for (const secret of this.#secrets) if (out.includes(secret)) out = out.split(secret).join(MASK);
    return out;
  }

  #value(value: unknown, seen: Map<object, unknown>, depth: number): unknown {
    if (typeof value === 'string') return this.text(value);
    if (value === null || typeof value !== 'object') return value;
    if (Buffer.isBuffer(value)) {
      const text = value.toString('utf8');
      return this.text(text) === text ? value : Buffer.from(this.text(text));
    }
    const known = seen.get(value);
    if (known !== undefined) return known;
    // Deeper than any error chain ioredis builds: cut rather than walk a foreign structure for ever.
    if (depth > 8) return '[scrubbed: too deep]';
    if (Array.isArray(value)) {
      const copy: unknown[] = [];
      seen.set(value, copy);
      for (const item of value) copy.push(this.#value(item, seen, depth + 1));
      return copy;
    }
    const proto = Object.getPrototypeOf(value) as object | null;
    if (!(value instanceof Error) && proto !== Object.prototype && proto !== null) {
      // An instance of some class (a socket, a client): not ours to copy, and no place for a secret
      // that a log should show. Named, not kept.
      return `[${(value as { constructor?: { name?: string } }).constructor?.name ?? 'object'}]`;
    }
    const copy = Object.create(proto) as Record<string | symbol, unknown>;
    seen.set(value, copy);
    for (const key of Reflect.ownKeys(value)) {
      const descriptor = Object.getOwnPropertyDescriptor(value, key);
      if (descriptor === undefined) continue;
      if ('value' in descriptor) {
        descriptor.value =
          key === 'command' ? this.#command(descriptor.value as CommandLike, seen, depth) : this.#value(descriptor.value, seen, depth + 1);
      } else {
        // An accessor might compute anything: keep only what it reads as now, scrubbed.
        const read = (value as Record<string | symbol, unknown>)[key];
        Object.defineProperty(copy, key, {
          value: this.#value(read, seen, depth + 1),
          enumerable: descriptor.enumerable ?? false,
          writable: true,
          configurable: true,
        });
        continue;
      }
      Object.defineProperty(copy, key, descriptor);
    }
    return copy;
  }

  #command(command: CommandLike, seen: Map<object, unknown>, depth: number): unknown {
    if (command === null || typeof command !== 'object') return this.#value(command, seen, depth + 1);
    const name = typeof command.name === 'string' ? command.name.toLowerCase() : '';
    const args = Array.isArray(command.args) ? [...command.args] : [];
    if (name === 'auth' && args.length > 0) args[args.length - 1] = MASK;
    if (name === 'hello') {
      const at = args.findIndex((arg) => String(arg).toUpperCase() === 'AUTH');
      if (at !== -1 && at + 2 < args.length) args[at + 2] = MASK;
    }
    return { name: command.name, args: this.#value(args, seen, depth + 1) };
  }
}
