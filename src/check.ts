// Input rules shared by the core and the integrations. Every rule throws a TypeError (wrong kind of
// value) or a RangeError (right kind, wrong size) that names the option or argument and the rule, in
// terms the caller knows, before anything is touched. Stateless, so an integration may bundle it.

/** A short, safe description of a value for an error message (never a whole value: it may be secret or huge). */
export function describe(value: unknown): string {
  if (typeof value === 'string') return value.length > 40 ? `${JSON.stringify(value.slice(0, 40))}...` : JSON.stringify(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'symbol') return 'a symbol';
  if (value === null || typeof value !== 'object') return String(value);
  if (Array.isArray(value)) return 'an array';
  const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
  return typeof name === 'string' && name !== 'Object' && name !== '' ? `a ${name}` : 'an object';
}

/** A key as it appears in an error message: quoted, and cut when long. */
export function quote(key: string): string {
  return key.length > 80 ? `${JSON.stringify(key.slice(0, 80))}...` : JSON.stringify(key);
}

/** Throws `${scope}: option "${option}" ${rule}, got ${value}`. */
export function fail(scope: string, option: string, rule: string, value: unknown, Err: typeof TypeError = RangeError): never {
  throw new Err(`${scope}: option "${option}" ${rule}, got ${describe(value)}`);
}

/** True for a non-null object (arrays included). */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/** Levenshtein distance, small inputs only (option names). */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j] as number;
      row[j] = Math.min(above + 1, (row[j - 1] as number) + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length] as number;
}

/** The allowed name closest to `name`, when one is close enough to be a likely typo. */
export function closest(name: string, allowed: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  const lower = name.toLowerCase();
  for (const candidate of allowed) {
    const d = candidate.toLowerCase() === lower ? 0 : distance(lower, candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best !== undefined && bestDistance <= Math.max(1, Math.floor(best.length / 3)) ? best : undefined;
}

/**
 * Refuses keys of `object` that are not in `allowed`: a misspelt option would otherwise be ignored in
 * silence (JavaScript callers have no type checker). `path` is the option's own name (`memory`) or `''`
 * for the top level.
 */
export function checkKnownKeys(scope: string, path: string, object: Record<string, unknown>, allowed: readonly string[]): void {
  for (const key of Object.keys(object)) {
    if (allowed.includes(key)) continue;
    const name = path === '' ? key : `${path}.${key}`;
    const hint = closest(key, allowed);
    throw new TypeError(
      `${scope}: unknown option "${name}"${hint === undefined ? '' : ` (did you mean "${path === '' ? hint : `${path}.${hint}`}"?)`}; ` +
        `known options${path === '' ? '' : ` of "${path}"`}: ${allowed.join(', ')}`,
    );
  }
}

export interface DurationRule {
  /** Smallest value allowed. @default 0 */
  min?: number;
  /** What 0 means, for the message (e.g. `'no expiry'`). */
  zero?: string;
  /** Whole milliseconds only. Fractions are refused, since some stores (Redis) refuse them later. @default false */
  integer?: boolean;
}

/** A duration in milliseconds: a finite number >= `min`, or undefined when absent. */
export function checkDuration(scope: string, option: string, value: unknown, rule: DurationRule = {}): number | undefined {
  if (value === undefined) return undefined;
  const min = rule.min ?? 0;
  if (typeof value !== 'number' || Number.isNaN(value)) fail(scope, option, 'must be a number of milliseconds', value, TypeError);
  if (!(value >= min) || !Number.isFinite(value)) {
    fail(
      scope,
      option,
      `must be a finite number of milliseconds >= ${min}${rule.zero === undefined ? '' : ` (0 means ${rule.zero})`}`,
      value,
    );
  }
  if (rule.integer === true && !Number.isInteger(value)) {
    fail(scope, option, 'must be a whole number of milliseconds (round it: some stores refuse fractions)', value);
  }
  return value;
}

/** A positive number (a count, a size, an interval): finite and > 0; whole when `integer`. */
export function checkPositive(scope: string, option: string, value: unknown, integer = false): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || Number.isNaN(value)) fail(scope, option, 'must be a number', value, TypeError);
  if (!(value > 0) || !Number.isFinite(value)) fail(scope, option, 'must be a finite number > 0', value);
  if (integer && !Number.isInteger(value)) fail(scope, option, 'must be a whole number', value);
  return value;
}

/** The default of `maxKeyLength`: the most UTF-8 bytes in a key. */
export const MAX_KEY_LENGTH = 65_536;

/**
 * The UTF-8 length of `text` when it may exceed `max`, else 0: a UTF-16 code unit is 1 to 3 UTF-8 bytes,
 * so only a string between `max / 3` and `max` code units long needs to be measured.
 */
export function bytesOver(text: string, max: number): number {
  if (text.length * 3 <= max) return 0;
  const bytes = Buffer.byteLength(text, 'utf8');
  return bytes > max ? bytes : 0;
}

/** A cache key: a non-empty string of at most `maxBytes` UTF-8 bytes (`maxKeyLength`). */
export function checkKey(key: unknown, operation: string, maxBytes: number = MAX_KEY_LENGTH): asserts key is string {
  if (typeof key !== 'string') {
    throw new TypeError(`synced-cache: ${operation}: key must be a string, got ${key === null ? 'null' : typeof key}`);
  }
  if (key.length === 0) throw new TypeError(`synced-cache: ${operation}: key must not be empty`);
  const bytes = bytesOver(key, maxBytes);
  if (bytes > 0) {
    throw new RangeError(`synced-cache: ${operation}: key ${quote(key)} is ${bytes} bytes (UTF-8), more than maxKeyLength (${maxBytes})`);
  }
}

/** An array of cache keys, each at most `maxBytes` UTF-8 bytes. */
export function checkKeys(keys: unknown, operation: string, maxBytes: number = MAX_KEY_LENGTH): asserts keys is readonly string[] {
  if (!Array.isArray(keys)) throw new TypeError(`synced-cache: ${operation}: keys must be an array of strings`);
  for (const key of keys) checkKey(key, operation, maxBytes);
}
