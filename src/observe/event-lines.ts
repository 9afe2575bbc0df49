// One line per event, the same in `logEvents` (in-process) and `synced-cache watch --events` (every
// process, from the events channel).
//
// Keys, sender ids and reasons come from callers, and on the events channel from whoever can publish
// there: a raw newline would forge a line and an escape sequence rewrite the screen. A field is shown
// as it is when it is plain printable ASCII, else as a JSON string with every unprinting character
// escaped, the rule of the CLI's `showToken` (src/cli/printable.ts, which the CLI cannot share with the
// core: test/unit/event-lines.test.ts holds the two to one output).

/** C0 and C1 controls, DEL, format characters (bidi, zero-width, tags), line and paragraph separators, lone surrogates. */
const UNPRINTABLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/gu;

function unicodeEscape(char: string): string {
  let out = '';
  for (let i = 0; i < char.length; i++) out += `\\u${char.charCodeAt(i).toString(16).padStart(4, '0')}`;
  return out;
}

/** `value` as JSON with no unprinting character left raw (JSON.stringify leaves DEL, C1, bidi and U+2028 raw). */
function toJson(value: unknown): string {
  return (JSON.stringify(value) ?? 'null').replace(UNPRINTABLE, unicodeEscape);
}

/** A `name=value` field's value: as it is when plain ASCII without spaces, else a JSON string. */
function token(text: string): string {
  return /^[!-~]+$/.test(text) && !text.startsWith('"') ? text : toJson(text);
}

function field(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string') return token(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (value instanceof Error) return toJson(`${value.name}: ${value.message}`);
  return toJson(value);
}

function time(at: unknown): string {
  if (typeof at !== 'number' || !Number.isFinite(at)) return '-';
  const date = new Date(at);
  return Number.isNaN(date.getTime()) ? '-' : date.toISOString();
}

/**
 * One event as one line: `<ISO time> <event> key=<key> <field>=<value> ... instance=<id>`, e.g.
 * `2025-06-01T12:00:00.123Z set key=user:1 instance=6f0c...`. `payload` is the event's payload object
 * (`at` and `instance` included); other fields follow the key in their order, `undefined` ones left
 * out, an `Error` shown as `"Name: message"`. Nothing in the line can break it in two or reach the
 * terminal raw (see above), whoever chose the key.
 */
export function formatEvent(event: string, payload: Readonly<Record<string, unknown>>): string {
  let line = `${time(payload.at)} ${token(event)}`;
  const key = field(payload.key);
  if (key !== undefined) line += ` key=${key}`;
  for (const name of Object.keys(payload)) {
    if (name === 'at' || name === 'instance' || name === 'key' || !/^[A-Za-z]\w*$/.test(name)) continue;
    const value = field(payload[name]);
    if (value !== undefined) line += ` ${name}=${value}`;
  }
  const instance = field(payload.instance);
  return instance === undefined ? line : `${line} instance=${instance}`;
}

/** Every event {@link logEvents} prints: those of `SyncedCacheEvents`, and the stash's. */
export const LOGGED_EVENTS = [
  'hit',
  'miss',
  'set',
  'delete',
  'expire',
  'clear',
  'invalidate',
  'stale',
  'breaker',
  'bus:up',
  'bus:down',
  'error',
  'push',
  'pop',
] as const;

/** What {@link logEvents} needs of a cache: its events and its instance id (a `SyncedCache`, `stash.cache`). */
export interface EventSource {
  readonly instanceId: string;
  on(event: string, listener: (payload: never) => void): unknown;
  off(event: string, listener: (payload: never) => void): unknown;
}

/** Options of {@link logEvents}. */
export interface LogEventsOptions {
  /**
   * Where the lines go: anything with a `write(text)`.
   * @default process.stderr
   */
  stream?: { write(text: string): unknown };
}

/**
 * Prints every event of `cache` as it happens, one line each ({@link formatEvent}), reads included:
 * the in-process twin of `synced-cache watch --events`. Returns a function that stops it.
 *
 * It listens to every event, so each one is built while it runs: a memory hit costs an event (and an
 * `'error'` listener means errors are printed here rather than warned about). For debugging sessions,
 * not for production traffic.
 */
export function logEvents(cache: EventSource, options: LogEventsOptions = {}): () => void {
  if (typeof cache !== 'object' || cache === null || typeof cache.on !== 'function' || typeof cache.off !== 'function') {
    throw new TypeError('synced-cache: logEvents: cache must be a SyncedCache (or stash.cache)');
  }
  if (typeof options !== 'object' || options === null) throw new TypeError('synced-cache: logEvents: options must be an object { stream }');
  const stream = options.stream ?? process.stderr;
  if (typeof stream !== 'object' || stream === null || typeof stream.write !== 'function') {
    throw new TypeError('synced-cache: logEvents: option "stream" must have a write(text) method, e.g. process.stdout');
  }
  const listeners = LOGGED_EVENTS.map((event) => {
    const listener = (payload: unknown) => {
      const fields =
        payload instanceof Error || typeof payload !== 'object' || payload === null
          ? { at: Date.now(), message: payload, instance: cache.instanceId }
          : (payload as Record<string, unknown>);
      stream.write(`${formatEvent(event, fields)}\n`);
    };
    cache.on(event, listener as (payload: never) => void);
    return [event, listener] as const;
  });
  let stopped = false;
  return () => {
    if (stopped) return;
    stopped = true;
    for (const [event, listener] of listeners) cache.off(event, listener as (payload: never) => void);
  };
}
