// Summarizes a V8 .cpuprofile (from `node --cpu-prof`, or `node bench/run.mjs --cpu-prof`):
// self and inclusive time per function, with frames of our bundle mapped back to src/ through
// its source map.   node bench/profile-summary.mjs <file.cpuprofile> [--top N] [--filter text]
import { existsSync, readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const file = args.find((a) => !a.startsWith('--') && !/^\d+$/.test(a));
const top = Number(args[args.indexOf('--top') + 1]) || 25;
const filter = args.includes('--filter') ? args[args.indexOf('--filter') + 1] : undefined;
if (!file) {
  console.error('usage: node bench/profile-summary.mjs <file.cpuprofile> [--top N] [--filter text]');
  process.exit(2);
}

const profile = JSON.parse(readFileSync(file, 'utf8'));
const maps = new Map();

function sourceMapFor(url) {
  if (maps.has(url)) return maps.get(url);
  let map;
  try {
    const path = url.startsWith('file:') ? fileURLToPath(url) : url;
    if (existsSync(`${path}.map`)) map = new SourceMap(JSON.parse(readFileSync(`${path}.map`, 'utf8')));
  } catch {
    map = undefined;
  }
  maps.set(url, map);
  return map;
}

function describe(frame) {
  const name = frame.functionName || '(anonymous)';
  if (!frame.url) return name;
  const map = /dist[^/]*\/[^/]+\.js$/.test(frame.url) ? sourceMapFor(frame.url) : undefined;
  if (map) {
    const e = map.findEntry(frame.lineNumber, frame.columnNumber);
    if (e?.originalSource) return `${name}  ${e.originalSource.replace(/^.*?(src\/)/, '$1')}:${e.originalLine + 1}`;
  }
  const short = frame.url
    .replace(/^file:\/\//, '')
    .replace(/^.*node_modules\//, '')
    .replace(/^.*\/work\/main\//, '');
  return `${name}  ${short}:${frame.lineNumber + 1}`;
}

const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

const selfUs = new Map();
let total = 0;
for (let i = 0; i < profile.samples.length; i++) {
  const dt = profile.timeDeltas[i] ?? 0;
  total += dt;
  selfUs.set(profile.samples[i], (selfUs.get(profile.samples[i]) ?? 0) + dt);
}

const self = new Map();
const incl = new Map();
for (const [id, us] of selfUs) {
  const node = byId.get(id);
  const key = describe(node.callFrame);
  self.set(key, (self.get(key) ?? 0) + us);
  // inclusive: once per distinct function on the stack
  const seen = new Set();
  for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
    const k = describe(byId.get(cur).callFrame);
    if (seen.has(k)) continue;
    seen.add(k);
    incl.set(k, (incl.get(k) ?? 0) + us);
  }
}

function print(title, m) {
  console.log(`\n${title} (of ${(total / 1000).toFixed(0)} ms sampled)`);
  const rows = [...m.entries()]
    .filter(([k]) => !filter || k.includes(filter))
    .sort((a, b) => b[1] - a[1])
    .slice(0, top);
  for (const [k, us] of rows)
    console.log(`${((100 * us) / total).toFixed(1).padStart(6)}%  ${(us / 1000).toFixed(1).padStart(8)} ms  ${k}`);
}

print('self time', self);
print('inclusive time', incl);
