import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, posix, relative, sep } from 'node:path';
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
  it('every module is reached from an entry point of the build (tsup.config.ts): none is left behind by a move', () => {
    const config = readFileSync(join(SRC, '..', 'tsup.config.ts'), 'utf8');
    const entries = [...config.matchAll(/'src\/([^']+)\.ts'/g)].map((m) => `${m[1]}.ts`);
    expect(entries).toContain('index.ts');
    const byName = new Map(files.map((f) => [f.name, f.text]));
    const reached = new Set<string>();
    const queue = [...entries];
    for (let name = queue.pop(); name !== undefined; name = queue.pop()) {
      const text = byName.get(name);
      if (reached.has(name) || text === undefined) continue;
      reached.add(name);
      for (const m of text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*)'(\.{1,2}\/[^']+)\.js'/g)) {
        queue.push(posix.normalize(posix.join(dirname(name), `${m[1]}.ts`)));
      }
    }
    expect(files.map((f) => f.name).filter((name) => !reached.has(name))).toEqual([]);
  });
});
