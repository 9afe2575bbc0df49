// Exit codes, the error that ends a command, and how failures become one-line messages.
import { redact } from './options.js';

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

/** Turns a failure reaching `kind` at `target` into a one-line message a person can act on. */
export function explain(error: unknown, kind: string, target: string, timeout: number, extra?: Error): string {
  const chain = [...causes(error), ...causes(extra)];
  const codes = chain.map((e) => e.code).filter((c): c is string => typeof c === 'string');
  const messages = chain.map((e) => (typeof e.message === 'string' ? e.message : '')).join(' | ');
  const where = redact(target);
  if (codes.includes('ECONNREFUSED')) return `cannot reach ${kind} at ${where} (connection refused)`;
  if (codes.includes('ENOTFOUND') || codes.includes('EAI_AGAIN')) return `cannot reach ${kind} at ${where} (unknown host)`;
  if (codes.includes('ETIMEDOUT') || codes.includes('ETIMEOUT') || error instanceof TimeoutError) {
    return `cannot reach ${kind} at ${where} (no answer within ${timeout} ms)`;
  }
  if (codes.includes('28P01') || codes.includes('28000') || /WRONGPASS|NOAUTH|invalid password|authentication failed/i.test(messages)) {
    return `${kind} at ${where} refused the credentials`;
  }
  if (codes.includes('3D000')) return `${kind} at ${where}: ${firstLine(String(chain.find((e) => e.code === '3D000')?.message))}`;
  const message = error instanceof Error ? error.message : String(error);
  return `${kind} at ${where}: ${firstLine(message)}`;
}

export class TimeoutError extends Error {}

export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new TimeoutError(`${what} timed out after ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
