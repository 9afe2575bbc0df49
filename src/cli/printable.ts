// Text that is safe to write to a terminal and that a line-reading program cannot misread.
//
// Keys, sender ids and values come from whoever can write to the store or publish on the channel: a raw
// newline forges a line, an escape sequence rewrites the screen. What is not printable is written as a
// JSON escape (\n, \t, \u001b, ...), and a value that needed one is shown as a JSON string, so that
// `JSON.parse` gives it back exactly.

/**
 * Characters written escaped: C0 and C1 controls and DEL (Cc), format characters such as bidi overrides,
 * zero-width characters and tag characters (Cf), line and paragraph separators (Zl, Zp), lone surrogates (Cs).
 */
const UNPRINTABLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/u;
const UNPRINTABLE_ALL = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/gu;

const SHORT: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t', '\b': '\\b', '\f': '\\f' };

function unicodeEscape(char: string): string {
  let out = '';
  // Per UTF-16 unit, as JSON does: an astral tag character becomes its surrogate pair.
  for (let i = 0; i < char.length; i++) out += `\\u${char.charCodeAt(i).toString(16).padStart(4, '0')}`;
  return out;
}

function escapeChar(char: string): string {
  return SHORT[char] ?? unicodeEscape(char);
}

/** `text` with every unprinting character escaped (see above); everything else, quotes included, as it is. */
export function escapeText(text: string): string {
  return UNPRINTABLE.test(text) ? text.replace(UNPRINTABLE_ALL, escapeChar) : text;
}

/**
 * `value` as JSON with no unprinting character left raw. `JSON.stringify` escapes C0 controls and lone
 * surrogates but leaves DEL, C1 controls (U+009B is a CSI to many terminals), bidi overrides and U+2028
 * raw; they can only occur inside strings, where a `\u` escape means the same to every JSON reader.
 */
export function toJson(value: unknown): string {
  const json = JSON.stringify(value) ?? 'null';
  return UNPRINTABLE.test(json) ? json.replace(UNPRINTABLE_ALL, unicodeEscape) : json;
}

/** True when `text` can be shown as it is: nothing unprinting, no surrounding space, not starting with `"`. */
function isPlain(text: string): boolean {
  return text !== '' && !UNPRINTABLE.test(text) && !/^\s|\s$/.test(text) && !text.startsWith('"');
}

/**
 * A key for a listing, one per line: as it is when plain, else as a JSON string. A line that starts
 * with `"` is always JSON, so `line.startsWith('"') ? JSON.parse(line) : line` gives every key back.
 */
export function showKey(key: string): string {
  return isPlain(key) ? key : toJson(key);
}

/** A value inside a `name=value` line (watch): as it is when plain ASCII without spaces, else a JSON string. */
export function showToken(text: string): string {
  return /^[!-~]+$/.test(text) && !text.startsWith('"') ? text : toJson(text);
}

/**
 * `ms` (since the epoch) as an ISO time, or null when no `Date` can hold it (`toISOString` would throw):
 * the times `watch` shows come from whoever can publish.
 */
export function isoTime(ms: number): string | null {
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}
