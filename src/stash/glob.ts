// `ls(pattern)`: `*` matches any run of characters (none included), `?` exactly one character (a code
// point), `\` makes the next character literal (`\*`, `\?`, `\\`); anything else matches itself. Matched
// without regular expressions, by the classic two-pointer walk that backtracks to the last `*` only:
// at most (key length x pattern length) steps, so no pattern can make a listing hang on long keys.

type Token = { kind: 'star' } | { kind: 'one' } | { kind: 'char'; char: string };

const STAR: Token = { kind: 'star' };
const ONE: Token = { kind: 'one' };

function compile(pattern: string): Token[] {
  const tokens: Token[] = [];
  const chars = Array.from(pattern);
  for (let i = 0; i < chars.length; i++) {
    const char = chars[i] as string;
    if (char === '*') {
      if (tokens[tokens.length - 1] !== STAR) tokens.push(STAR);
    } else if (char === '?') tokens.push(ONE);
    else if (char === '\\' && i + 1 < chars.length) tokens.push({ kind: 'char', char: chars[++i] as string });
    else tokens.push({ kind: 'char', char });
  }
  return tokens;
}

/** A matcher for `pattern`: true for the keys it matches as a whole. */
export function globMatcher(pattern: string): (key: string) => boolean {
  const tokens = compile(pattern);
  if (tokens.length === 1 && tokens[0] === STAR) return () => true;
  return (key) => {
    const chars = Array.from(key);
    let p = 0;
    let s = 0;
    let star = -1;
    let resume = 0;
    while (s < chars.length) {
      const token = tokens[p];
      if (token !== undefined && (token.kind === 'one' || (token.kind === 'char' && token.char === chars[s]))) {
        p++;
        s++;
      } else if (token?.kind === 'star') {
        star = p++;
        resume = s;
      } else if (star >= 0) {
        p = star + 1;
        s = ++resume;
      } else return false;
    }
    while (tokens[p]?.kind === 'star') p++;
    return p === tokens.length;
  };
}
