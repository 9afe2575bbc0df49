// Exit codes, the error that ends a command, and how failures become one-line messages.
import { RedisConnectError } from '../redis/connect.js';
import { redactUrl, scrub } from './redact.js';

/** Exit codes: 0 ok, 1 not found or runtime error, 2 usage. */
export const EXIT = { ok: 0, error: 1, usage: 2 } as const;

/** An error that ends the command with a one-line message and a given exit code. */
export class CliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode: number = EXIT.error) {
    super(message);
    this.exitCode = exitCode;
  }
}

export const usage = (message: string) => new CliError(message, EXIT.usage);

/** A step of a command that ran out of the `--timeout` budget. */
export class TimeoutError extends Error {}

// ---------------------------------------------------------------------------------------------------
// Errors as one line

export function causes(error: unknown): Record<string, unknown>[] {
  const chain: Record<string, unknown>[] = [];
  let current: unknown = error;
  for (let i = 0; i < 8 && typeof current === 'object' && current !== null; i++) {
    chain.push(current as Record<string, unknown>);
    const agg = (current as { errors?: unknown }).errors;
    if (Array.isArray(agg) && agg.length > 0) chain.push(...causes(agg[0]));
    current = (current as { cause?: unknown }).cause;
  }
  return chain;
}

export function firstLine(text: string): string {
  return text.split('\n')[0] ?? text;
}

/** The first line of a message from elsewhere, with any URL or password in it masked. */
export function foreignLine(error: unknown): string {
  return scrub(firstLine(error instanceof Error ? error.message : String(error)));
}

/**
 * Turns a failure reaching `kind` at `target` into a one-line message a person can act on. `target` is
 * shown redacted, and a dependency's own message only scrubbed (drivers may quote the URL).
 */
export function explain(error: unknown, kind: string, target: string, timeout: number, extra?: Error): string {
  const chain = [...causes(error), ...causes(extra)];
  const codes = chain.map((e) => e.code).filter((c): c is string => typeof c === 'string');
  const messages = chain.map((e) => (typeof e.message === 'string' ? e.message : '')).join(' | ');
  const where = redactUrl(target);
  if (codes.includes('ECONNREFUSED')) return `cannot reach ${kind} at ${where} (connection refused)`;
  if (codes.includes('ENOTFOUND') || codes.includes('EAI_AGAIN')) return `cannot reach ${kind} at ${where} (unknown host)`;
  if (
    codes.includes('ETIMEDOUT') ||
    codes.includes('ETIMEOUT') ||
    codes.includes('ERR_SYNCED_CACHE_STORE_TIMEOUT') ||
    chain.some((e) => e instanceof TimeoutError)
  ) {
    return `cannot reach ${kind} at ${where} (no answer within ${timeout} ms)`;
  }
  // The Redis checks name the problem by code; the store's own client (node-redis) only by its reply.
  if (codes.includes('ERR_REDIS_PASSWORD_NOT_NEEDED') || /without any password configured|no password is set/i.test(messages)) {
    return `${kind} at ${where} needs no password, but one was given: remove it from the URL`;
  }
  if (codes.includes('ERR_REDIS_PASSWORD_REQUIRED') || /\bNOAUTH\b/.test(messages)) {
    return `${kind} at ${where} requires a password: give it in the URL (redis://:password@host:port)`;
  }
  if (
    codes.includes('ERR_REDIS_WRONG_CREDENTIALS') ||
    codes.includes('28P01') ||
    codes.includes('28000') ||
    /WRONGPASS|invalid password|authentication failed/i.test(messages)
  ) {
    return `${kind} at ${where} refused the credentials`;
  }
  const noperm = chain.find((e) => typeof e.message === 'string' && /^NOPERM\b/.test(e.message));
  if (noperm !== undefined) return `${kind} at ${where} refused a command: ${foreignLine(noperm.message)}`;
  if (codes.includes('3D000')) return `${kind} at ${where}: ${foreignLine(chain.find((e) => e.code === '3D000')?.message)}`;
  const redisError = chain.find((e) => e instanceof RedisConnectError);
  return `${kind} at ${where}: ${foreignLine(redisError ?? error)}`;
}
