// The layout's rules (../shared/ARCHITECTURE.md), checked on the source itself: no import circles, the
// core never imports an integration or the CLI, integrations reach the core only through its public
// name, and the tiers and the bus stay out of each other's rooms.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const src = fileURLToPath(new URL('../../src', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sources(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : [],
  );
}

/** Every import and re-export specifier of a file, type-only ones included. */
function specifiers(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/^\s*(?:import|export)\b[^'";]*?(?:from\s*)?['"]([^'"]+)['"]/gm)].map((m) => m[1] as string);
}

/** The graph of the source files: file -> local files it imports (paths relative to src/). */
function graph(): Map<string, string[]> {
  const edges = new Map<string, string[]>();
  for (const file of sources(src)) {
    const local = specifiers(file)
      .filter((s) => s.startsWith('.'))
      .map((s) => relative(src, resolve(dirname(file), s.replace(/\.js$/, '.ts'))));
    edges.set(relative(src, file), local);
  }
  return edges;
}

function cycles(edges: Map<string, string[]>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (node: string) => {
    state.set(node, 'open');
    stack.push(node);
    for (const next of edges.get(node) ?? []) {
      if (state.get(next) === 'open') found.push([...stack.slice(stack.indexOf(next)), next]);
      else if (state.get(next) === undefined) visit(next);
    }
    stack.pop();
    state.set(node, 'done');
  };
  for (const node of edges.keys()) if (state.get(node) === undefined) visit(node);
  return found;
}

const room = (file: string) => (file.includes('/') ? (file.split('/')[0] as string) : file.replace(/\.ts$/, ''));

describe('the import graph of src/', () => {
  const edges = graph();

  it('has no circles', () => {
    expect(edges.size).toBeGreaterThan(20);
    expect(cycles(edges).map((c) => c.join(' -> '))).toEqual([]);
  });

  it('finds a circle when there is one (the check itself works)', () => {
    const planted = new Map(edges);
    planted.set('a.ts', ['b.ts']);
    planted.set('b.ts', ['a.ts']);
    expect(cycles(planted)).toContainEqual(['a.ts', 'b.ts', 'a.ts']);
  });

  // The stash is a subpath export built like an integration: on the public surface only.
  const outside = new Set(['integrations', 'cli', 'stash']);

  it('the core never imports an integration, the stash or the CLI', () => {
    const offending = [...edges].flatMap(([file, targets]) =>
      outside.has(room(file)) ? [] : targets.filter((t) => outside.has(room(t))).map((t) => `${file} -> ${t}`),
    );
    expect(offending).toEqual([]);
  });

  it('integrations and the stash reach the core only through its public name (stateless leaves aside)', () => {
    const allowed = new Set(['check.ts', 'clock.ts']);
    const offending = [...edges].flatMap(([file, targets]) =>
      room(file) === 'integrations' || room(file) === 'stash'
        ? targets.filter((t) => room(t) !== room(file) && !allowed.has(t)).map((t) => `${file} -> ${t}`)
        : [],
    );
    expect(edges.has('stash/stash.ts')).toBe(true);
    expect(offending).toEqual([]);
  });

  it('the tiers never import the bus or coherence, and the bus never imports a tier', () => {
    const rule = (from: string, to: string) =>
      [...edges].flatMap(([file, targets]) =>
        room(file) === from ? targets.filter((t) => room(t) === to).map((t) => `${file} -> ${t}`) : [],
      );
    const offending = [
      ...rule('memory', 'bus'),
      ...rule('memory', 'coherence'),
      ...rule('store', 'bus'),
      ...rule('store', 'coherence'),
      ...rule('bus', 'memory'),
      ...rule('bus', 'store'),
    ];
    expect(offending).toEqual([]);
  });

  it('no module keeps a reference to SyncedCache itself: parts are built with what they use', () => {
    const offending = [...edges].flatMap(([file, targets]) =>
      file !== 'index.ts' && room(file) !== 'integrations' && room(file) !== 'cli' && targets.includes('synced-cache.ts') ? [file] : [],
    );
    expect(offending).toEqual([]);
  });
});
