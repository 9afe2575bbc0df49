import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('../../src', import.meta.url));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return /\.(c|m)?(t|j)sx?$/.test(entry.name) ? [path] : [];
  });
}

/** Every form that loads a module: import/export ... from, import type, side-effect import, import(), require(). */
const LOADS_IOREDIS = /(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*|\bimport\s+)(['"`])ioredis(?:\/[^'"`]*)?\1/;

describe('the layout', () => {
  const files = sourceFiles(SRC).map((path) => ({ name: relative(SRC, path).split(sep).join('/'), text: readFileSync(path, 'utf8') }));

  it('the pattern recognises every way of loading ioredis', () => {
    for (const line of [
      "import { Redis } from 'ioredis';",
      'import type { RedisOptions } from "ioredis";',
      "import 'ioredis';",
      "export { Cluster } from 'ioredis';",
      "const { Redis } = await import('ioredis');",
      "const Redis = require('ioredis');",
      "import x from 'ioredis/built/utils';",
      "import type {\n  Redis,\n} from 'ioredis';",
    ]) {
      expect({ line, found: LOADS_IOREDIS.test(line) }).toEqual({ line, found: true });
    }
    expect(LOADS_IOREDIS.test("import { x } from './ioredis-like.js';")).toBe(false);
    expect(LOADS_IOREDIS.test("import KeyvRedis from '@keyv/redis';")).toBe(false);
  });

  it('no file outside src/redis/ imports ioredis, not even its types', () => {
    expect(files.length).toBeGreaterThan(10);
    const offenders = files.filter((f) => !f.name.startsWith('redis/') && LOADS_IOREDIS.test(f.text));
    expect(offenders.map((f) => f.name)).toEqual([]);
    // The room is where the imports are.
    expect(files.some((f) => f.name.startsWith('redis/') && LOADS_IOREDIS.test(f.text))).toBe(true);
  });
});
