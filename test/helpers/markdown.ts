// Reads the project's markdown the way GitHub renders it, for the tests that keep the docs honest:
// fenced code blocks (with the `<!-- snippet: ... -->` marker above them), headings and their anchors,
// and links. Deliberately small: it knows the subset of CommonMark these docs use.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

export const ROOT = join(import.meta.dirname, '..', '..');

/** README.md and every docs/*.md, as paths relative to the repository. */
export function docFiles(): string[] {
  const docs = readdirSync(join(ROOT, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .sort()
    .map((name) => `docs/${name}`);
  return ['README.md', ...docs];
}

export interface CodeBlock {
  /** The file, relative to the repository. */
  file: string;
  /** 1-based line of the first line of code (the line after the opening fence). */
  line: number;
  /** The info string's first word, lower-cased ('' when there is none). */
  lang: string;
  /** The code, with the fence's own indentation removed. */
  code: string;
  /** What the `<!-- snippet: ... -->` comment right above the fence says, if there is one. */
  marker: string | undefined;
}

const FENCE = /^(\s*)(`{3,}|~{3,})\s*([^\s`]*)/;
const MARKER = /^\s*<!--\s*snippet:\s*(.*?)\s*-->\s*$/;

/** The fenced code blocks of a markdown file. */
export function codeBlocks(file: string): CodeBlock[] {
  const lines = readFileSync(join(ROOT, file), 'utf8').split('\n');
  const blocks: CodeBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i] as string);
    if (open === null) continue;
    const [, indent = '', fence = '', info = ''] = open;
    let marker: string | undefined;
    for (let j = i - 1; j >= 0; j--) {
      const above = lines[j] as string;
      if (above.trim() === '') continue;
      marker = MARKER.exec(above)?.[1];
      break;
    }
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length; j++) {
      const line = lines[j] as string;
      const trimmed = line.trimStart();
      if (trimmed.startsWith(fence) && trimmed.slice(fence.length).trim() === '' && /^[`~]*$/.test(trimmed)) break;
      body.push(line.startsWith(indent) ? line.slice(indent.length) : line.trimStart());
    }
    blocks.push({ file, line: i + 2, lang: info.toLowerCase(), code: `${body.join('\n')}\n`, marker });
    i = j;
  }
  return blocks;
}

/** The lines of a markdown file outside fenced code blocks, with their 1-based numbers. */
function prose(file: string): { text: string; line: number }[] {
  const lines = readFileSync(join(ROOT, file), 'utf8').split('\n');
  const out: { text: string; line: number }[] = [];
  let fence: string | undefined;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    const open = FENCE.exec(line);
    if (fence === undefined && open !== null) {
      fence = open[2];
      continue;
    }
    if (fence !== undefined) {
      const trimmed = line.trimStart();
      if (trimmed.startsWith(fence) && /^[`~]*$/.test(trimmed.trim())) fence = undefined;
      continue;
    }
    out.push({ text: line, line: i + 1 });
  }
  return out;
}

/** GitHub's anchor for a heading: lower case, punctuation dropped (but `-` and `_`), spaces as `-`. */
export function slug(heading: string): string {
  return heading
    .replace(/<[^>]+>/g, '')
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

/** The anchors of a markdown file's headings, duplicates numbered as GitHub numbers them (`-1`, `-2`). */
export function anchors(file: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const { text } of prose(file)) {
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(text);
    if (heading === null) continue;
    const base = slug(heading[1] as string);
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    out.add(count === 0 ? base : `${base}-${count}`);
  }
  return out;
}

export interface Link {
  file: string;
  line: number;
  target: string;
}

/** Every link and image target of a markdown file, outside code (fenced blocks and inline code spans). */
export function links(file: string): Link[] {
  const out: Link[] = [];
  for (const { text, line } of prose(file)) {
    const bare = text.replace(/`[^`]*`/g, '');
    for (const match of bare.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) out.push({ file, line, target: match[1] as string });
    const definition = /^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$/.exec(bare);
    if (definition !== null) out.push({ file, line, target: definition[1] as string });
    for (const match of bare.matchAll(/<(?:a|img)\s[^>]*(?:href|src)="([^"]+)"/g)) out.push({ file, line, target: match[1] as string });
  }
  return out;
}

/** `file:line` as an editor opens it. */
export function where(file: string, line: number): string {
  return `${relative(ROOT, join(ROOT, file))}:${line}`;
}
