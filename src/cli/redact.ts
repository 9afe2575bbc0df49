// Credentials out of everything the CLI prints. A leaf: errors.ts and options.ts both use it.
//
// A URL is masked as a string, not rebuilt from a parse, so that one the URL parser rejects (a port
// above 65535, a space or a stray bracket in the host) is masked too, and what is shown is otherwise
// exactly what the user typed.

/** Query parameters that carry a secret (ioredis reads `?password=`, libpq `?password=` and `?sslpassword=`). */
const SECRET_PARAM = /pass|pwd|secret|token|auth|credential/i;

/** A URL inside free text: up to the first character that cannot be part of one as typed in a shell. */
const URL_IN_TEXT = /[a-z][a-z0-9+.-]*:\/\/[^\s"'`<>]*/gi;

const MASK = '***';

/** Secrets seen in the URLs of this run, masked wherever a dependency's message repeats them. */
const remembered = new Set<string>();

interface Userinfo {
  /** Index just after `scheme://`. */
  start: number;
  /** Index of the `@` that ends the userinfo. */
  end: number;
  /** The parser agrees that only the userinfo holds an `@`, so its user name can be shown. */
  clean: boolean;
}

function userinfoOf(raw: string): Userinfo | undefined {
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(raw);
  if (scheme === null) return undefined;
  const start = scheme[0].length;
  // The last `@`: a password may hold an `@`, `/`, `?` or `#` of its own when it was not percent-encoded.
  const end = raw.lastIndexOf('@');
  if (end < start) return undefined;
  let clean = false;
  try {
    const url = new URL(raw);
    clean = (url.username !== '' || url.password !== '') && !`${url.pathname}${url.search}${url.hash}`.includes('@');
  } catch {
    // Unparseable: nothing between `//` and the last `@` can be trusted to be a user name.
  }
  return { start, end, clean };
}

function decoded(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    return text;
  }
}

/** The secret query parameters of `raw` as [start, end) ranges of their values. */
function secretValues(raw: string): [number, number][] {
  const query = raw.indexOf('?');
  if (query === -1) return [];
  const ranges: [number, number][] = [];
  const param = /([^=&;#]*)=([^&;#]*)/gy;
  let at = query + 1;
  while (at < raw.length && raw[at] !== '#') {
    param.lastIndex = at;
    const match = param.exec(raw);
    if (match === null) {
      // A parameter without `=`: skip to the next separator.
      const next = raw.slice(at).search(/[&;#]/);
      if (next === -1) break;
      at += next;
    } else {
      const [, name = '', value = ''] = match;
      if (value !== '' && SECRET_PARAM.test(decoded(name))) ranges.push([match.index + name.length + 1, param.lastIndex]);
      at = param.lastIndex;
    }
    if (raw[at] === '&' || raw[at] === ';') at++;
  }
  return ranges;
}

function maskQuery(raw: string): string {
  let out = raw;
  for (const [start, end] of secretValues(raw).reverse()) out = `${out.slice(0, start)}${MASK}${out.slice(end)}`;
  return out;
}

/**
 * `raw` with its credentials shown as `***`: the password of the userinfo (all of the userinfo, from
 * `//` to the last `@`, when the URL does not parse cleanly) and the values of password-like query
 * parameters. Anything else is left as typed, so `redact` of a URL without secrets is that URL.
 */
export function redactUrl(raw: string): string {
  const info = userinfoOf(raw);
  let out = raw;
  if (info !== undefined) {
    const userinfo = raw.slice(info.start, info.end);
    const colon = userinfo.indexOf(':');
    const shown = !info.clean ? MASK : colon === -1 ? userinfo : `${userinfo.slice(0, colon)}:${MASK}`;
    out = `${raw.slice(0, info.start)}${shown}${raw.slice(info.end)}`;
  }
  return maskQuery(out);
}

/**
 * Notes the secrets of `raw` (a URL the user gave) so that {@link scrub} masks them wherever they show
 * up, even outside a URL (a dependency's message quoting a password, or a URL cut short by a space).
 */
export function rememberSecrets(raw: string): void {
  const add = (secret: string) => {
    if (secret === '') return;
    remembered.add(secret);
    remembered.add(decoded(secret));
  };
  const info = userinfoOf(raw);
  if (info !== undefined) {
    const userinfo = raw.slice(info.start, info.end);
    const colon = userinfo.indexOf(':');
    if (colon !== -1) add(userinfo.slice(colon + 1));
    if (colon !== -1 || !info.clean) add(userinfo);
  }
  for (const [start, end] of secretValues(raw)) add(raw.slice(start, end));
}

/** Notes a secret given as it is (`watch --secret`), so that {@link scrub} masks it wherever it shows up. */
export function rememberSecret(secret: string): void {
  if (secret !== '') remembered.add(secret);
}

/** Option names that say their value is a secret, even mistyped (`--secret-key=...`, `--password=...`). */
const SECRET_OPTION = /secret|key|pass|token|auth|cred/i;

/** Leading characters that read as dashes: ASCII hyphens and the Unicode dash punctuation. */
const LEADING_DASHES = /^[-\p{Pd}]+/u;

/** A `name=value` or `name:value` argument (no `//` after the colon: not a URL). */
const NAME_AND_VALUE = /^([^=:]+)(?:=|:(?!\/\/))([\s\S]*)$/;

/** Options whose value, given as the next argument, is a secret. */
const SECRET_OPTIONS_WITH_VALUE: ReadonlySet<string> = new Set(['--secret', '--encryption-key']);

/**
 * Notes, before anything parses the command line, every secret it may hold, so that nothing printed
 * shows one (Commander's errors quote what was typed): the secrets of the environment, the argument
 * after `--secret` and `--encryption-key`, and the value of any `--name=value` whose name looks secret.
 */
export function rememberArgumentSecrets(argv: readonly string[], env: NodeJS.ProcessEnv): void {
  for (const name of ['SYNCED_CACHE_SECRET', 'SYNCED_CACHE_ENCRYPTION_KEY']) rememberSecret(env[name] ?? '');
  argv.forEach((arg, i) => {
    const next = argv[i + 1];
    // Dashes as typed or as pasted from rendered docs (an em or en dash).
    if (SECRET_OPTIONS_WITH_VALUE.has(arg.replace(LEADING_DASHES, '--')) && next !== undefined) rememberSecret(next);
    // `--secret=...`, `--secret:...`, `SYNCED_CACHE_SECRET=...` given as an argument, whatever the dashes.
    const option = NAME_AND_VALUE.exec(arg);
    if (option !== null && SECRET_OPTION.test(option[1] ?? '')) rememberSecret(option[2] ?? '');
  });
}

/**
 * `text` (Commander's message) with the value of every `--name=value` argument it quotes whole shown as
 * `***`. Commander quotes one whole only as an unknown option, and the value of an option mistyped
 * beyond recognition (`--secert=...`) may be a secret as much as any.
 */
export function maskOptionValues(text: string, argv: readonly string[]): string {
  let out = text;
  for (const arg of argv) {
    const option = /^([^=:]+)([=:](?!\/\/))([\s\S]+)$/.exec(arg);
    if (option !== null) out = out.split(`'${arg}'`).join(`'${option[1]}${option[2]}${MASK}'`);
  }
  return out;
}

/**
 * Text from elsewhere (a dependency's error message, Commander's): every URL in it redacted, and every
 * remembered secret masked. Our own messages need no scrubbing: they show URLs only through `redactUrl`.
 */
export function scrub(text: string): string {
  let out = text.replace(URL_IN_TEXT, (url) => redactUrl(url));
  // Longest first, so that a secret containing a shorter one is masked whole.
  for (const secret of [...remembered].sort((a, b) => b.length - a.length)) out = out.split(secret).join(MASK);
  return out;
}
