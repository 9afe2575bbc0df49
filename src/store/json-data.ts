// Which values survive a trip through a JSON serializer unchanged, so that what the writer keeps in
// memory is exactly what every other process reads back.

/** Why a value cannot be stored faithfully, in words for an error message; or what it needs. */
export type JsonVerdict =
  /** Plain JSON data: `JSON.stringify` then `JSON.parse` gives an equal value back. */
  | { kind: 'json'; colonStrings: boolean }
  /** JSON data with Buffers in it: Keyv's serializer round-trips those, native JSON does not. */
  | { kind: 'buffers' }
  | { kind: 'refused'; reason: string };

const MAX_DEPTH = 512;

/** `value` at the top reads "the value"; nested paths read as written (`value.a[0]`). */
function label(path: string): string {
  return path === 'value' ? 'the value' : path;
}

function typeName(value: object): string {
  const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
  return typeof name === 'string' && name !== '' ? name : 'object without a prototype';
}

const HINTS: Record<string, string> = {
  Date: 'store date.toISOString() or date.getTime()',
  Map: 'store Object.fromEntries(map) or [...map]',
  Set: 'store [...set]',
  Error: 'store { name, message }',
  RegExp: 'store regexp.source',
};

/**
 * Walks `value` and says whether a JSON serializer gives it back unchanged. Refused: `undefined` at the
 * top, functions, symbols, bigints, numbers that are not finite, holes in arrays, cycles, and objects
 * other than plain objects, arrays and Buffers (a Date comes back as a string, a Map or a Set as `{}`,
 * a class instance loses its class). `undefined` properties are dropped by every JSON serializer, the
 * same way for every process, and are allowed.
 */
export function judgeJson(value: unknown): JsonVerdict {
  const state = { colonStrings: false, buffers: false };
  const seen = new Set<object>();
  const reason = walk(value, 'value', 0, state, seen, true);
  if (reason !== undefined) return { kind: 'refused', reason };
  return state.buffers ? { kind: 'buffers' } : { kind: 'json', colonStrings: state.colonStrings };
}

function walk(
  value: unknown,
  path: string,
  depth: number,
  state: { colonStrings: boolean; buffers: boolean },
  seen: Set<object>,
  top: boolean,
): string | undefined {
  switch (typeof value) {
    case 'string':
      if (value.charCodeAt(0) === 58 /* ':' */) state.colonStrings = true;
      return undefined;
    case 'boolean':
      return undefined;
    case 'number':
      return Number.isFinite(value) ? undefined : `${label(path)} is ${String(value)}, which JSON stores as null`;
    case 'undefined':
      return top ? 'undefined is not a value (use delete() to remove a key)' : `${label(path)} is undefined, which JSON stores as null`;
    case 'function':
      return `${label(path)} is a function, which cannot be stored`;
    case 'symbol':
      return `${label(path)} is a symbol, which cannot be stored`;
    case 'bigint':
      return `${label(path)} is a bigint, which JSON cannot store (store it as a string)`;
  }
  if (value === null) return undefined;
  const object = value as object;
  if (depth >= MAX_DEPTH) return `${label(path)} is nested more than ${MAX_DEPTH} levels deep`;
  if (seen.has(object)) return `${label(path)} is circular (it contains itself)`;
  if (Array.isArray(object)) {
    seen.add(object);
    for (let i = 0; i < object.length; i++) {
      if (!(i in object)) return `${label(path)} has a hole at index ${i}, which JSON stores as null`;
      const inner = walk(object[i], `${path}[${i}]`, depth + 1, state, seen, false);
      if (inner !== undefined) return inner;
    }
    seen.delete(object);
    return undefined;
  }
  const proto = Object.getPrototypeOf(object);
  if (proto !== Object.prototype && proto !== null) {
    if (Buffer.isBuffer(object)) {
      state.buffers = true;
      return undefined;
    }
    const name = typeName(object);
    const hint = HINTS[name];
    return `${label(path)} is a ${name}, which the store's serializer does not give back as a ${name}${hint === undefined ? ' (store plain objects, arrays and primitives)' : `; ${hint}`}`;
  }
  seen.add(object);
  for (const key in object) {
    if (!Object.hasOwn(object, key)) continue;
    const item = (object as Record<string, unknown>)[key];
    if (item === undefined) continue;
    const inner = walk(item, `${path}.${key}`, depth + 1, state, seen, false);
    if (inner !== undefined) return inner;
  }
  seen.delete(object);
  return undefined;
}
