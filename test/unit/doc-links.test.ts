import { existsSync, statSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { describe, expect, it } from 'vitest';
import { anchors, docFiles, links, ROOT, where } from '../helpers/markdown.js';

// Every link of README.md and docs/*.md: relative ones must reach a file of the repository (and a heading,
// for `#anchor`); external ones are listed by name below and checked for form only: no network here.
const all = docFiles().flatMap(links);
const external = all.filter((link) => /^[a-z][a-z0-9+.-]*:/i.test(link.target));
const relativeLinks = all.filter((link) => !external.includes(link));

function resolve(link: { file: string; target: string }): { path: string; anchor: string | undefined } {
  const hash = link.target.indexOf('#');
  const path = hash === -1 ? link.target : link.target.slice(0, hash);
  const anchor = hash === -1 ? undefined : decodeURIComponent(link.target.slice(hash + 1));
  return { path: path === '' ? link.file : normalize(join(dirname(link.file), decodeURIComponent(path))), anchor };
}

describe('links in the docs', () => {
  it('the docs have links to check (the reader works)', () => {
    expect(relativeLinks.length).toBeGreaterThan(20);
    expect(docFiles()).toContain('docs/express.md');
  });

  it('every relative link points to a file of the repository, and every #anchor to a heading of its page', () => {
    const broken: string[] = [];
    for (const link of relativeLinks) {
      const { path, anchor } = resolve(link);
      const at = `${where(link.file, link.line)}: ${link.target}`;
      if (path.startsWith('..') || !existsSync(join(ROOT, path))) {
        broken.push(`${at} (no file ${path})`);
        continue;
      }
      if (anchor === undefined) continue;
      if (!path.endsWith('.md') || statSync(join(ROOT, path)).isDirectory()) {
        broken.push(`${at} (an anchor into ${path}, which is not a markdown page)`);
      } else if (!anchors(path).has(anchor)) {
        broken.push(`${at} (no heading #${anchor} in ${path})`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('the anchor rule is GitHub’s (checked on headings of these docs)', () => {
    const readme = anchors('README.md');
    expect(readme).toContain('guarantees-and-their-limits');
    expect(readme).toContain('what-this-library-does-not-do');
    expect(anchors('docs/observability.md')).toContain('diagnostics_channel');
  });

  it.each([...new Set(external.map((link) => link.target))])('external link %s is an https URL (listed, not fetched)', (url) => {
    expect(new URL(url).protocol).toBe('https:');
  });
});
