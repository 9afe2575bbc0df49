// Global options and the parsing of option values.
import { InvalidArgumentError } from 'commander';
import { usage } from './errors.js';
import { redactUrl } from './redact.js';

export interface GlobalOptions {
  redis?: string;
  store?: string;
  namespace: string;
  json?: boolean;
  timeout: number;
  /** The caches' `secret`: signs what a command announces, and lets `watch` read signed channels. */
  secret?: string;
  /** The caches' `encryption` key (64 hex characters) or passphrase: values are encrypted and decrypted with it. */
  encryptionKey?: string;
}

// ---------------------------------------------------------------------------------------------------
// Argument parsing helpers

export const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/;
export const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export function parseDuration(value: string): number {
  const match = DURATION.exec(value.trim());
  const ms = match === null ? Number.NaN : Math.round(Number(match[1]) * (UNIT_MS[match[2] ?? 'ms'] ?? 1));
  if (!Number.isSafeInteger(ms)) {
    throw new InvalidArgumentError(`expected milliseconds, or a number with a unit (ms, s, m, h, d), e.g. 5000 or 30s`);
  }
  return ms;
}

export function parsePositiveDuration(value: string): number {
  const ms = parseDuration(value);
  if (ms <= 0) throw new InvalidArgumentError('must be more than 0');
  return ms;
}

export function parseNamespace(value: string): string {
  if (value.length === 0) throw new InvalidArgumentError('must not be empty');
  return value;
}

export function parseUrl(raw: string, option: string, schemes: readonly string[]): URL {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(raw)?.[1]?.toLowerCase();
  if (scheme === undefined || !schemes.includes(scheme)) {
    throw usage(
      `invalid ${option} ${JSON.stringify(redactUrl(raw))}: expected a URL starting with ${schemes.map((s) => `${s}://`).join(', ')}`,
    );
  }
  try {
    return new URL(raw);
  } catch {
    throw usage(`invalid ${option} ${JSON.stringify(redactUrl(raw))}: not a valid URL`);
  }
}
