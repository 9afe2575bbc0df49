// The CLI's place in the house (ARCHITECTURE.md): it reaches the library through its public entry and a
// few leaves, imports no driver itself, has no import circle, and lists keys through one door.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const cliFiles = readdirSync(join(root, 'src/cli'))
  .filter((f) => f.endsWith('.ts'))
  .map((f) => `src/cli/${f}`);
const source = (file: string) => readFileSync(join(root, file), 'utf8');

/** The modules `file` imports (type-only imports included: a circle of types is still a circle). */
function importsOf(file: string): string[] {
  return [...source(file).matchAll(/^\s*(?:import|export)\s[^;]*?from\s+'([^']+)'/gms)].map((m) => {
    const spec = m[1] as string;
    return spec.startsWith('.') ? normalize(join(dirname(file), spec.replace(/\.js$/, '.ts'))) : spec;
  });
}

describe('the CLI layout', () => {
  it('imports the library only through its public entry, src/clock.ts and src/redis/, and never ioredis itself', () => {
    for (const file of cliFiles) {
      for (const spec of importsOf(file)) {
        if (spec.startsWith('src/cli/')) continue;
        expect({
          file,
          spec,
          allowed: spec === 'synced-cache' || spec === 'src/clock.ts' || spec.startsWith('src/redis/') || !spec.startsWith('src/'),
        }).toEqual({ file, spec, allowed: true });
        expect({ file, spec }).not.toEqual({ file, spec: 'ioredis' });
      }
    }
  });

  it('has no import circle', () => {
    const cycles: string[] = [];
    const done = new Set<string>();
    const visit = (file: string, path: string[]) => {
      if (path.includes(file)) {
        cycles.push([...path.slice(path.indexOf(file)), file].join(' -> '));
        return;
      }
      if (done.has(file)) return;
      for (const next of importsOf(file).filter((spec) => spec.startsWith('src/cli/'))) visit(next, [...path, file]);
      done.add(file);
    };
    for (const file of cliFiles) visit(file, []);
    expect(cycles).toEqual([]);
  });

  it('has no withTimeout of its own (src/clock.ts has the one), and lists keys only in src/cli/keys.ts', () => {
    for (const file of cliFiles) {
      expect({ file, own: /function withTimeout\b/.test(source(file)) }).toEqual({ file, own: false });
      const lists = /\.keyv\b|\.iterator\b|\.keys\(\)/.test(source(file));
      expect({ file, lists }).toEqual({ file, lists: file === 'src/cli/keys.ts' });
    }
  });
});
