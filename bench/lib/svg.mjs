// Hand-written SVG: a latency-by-percentile chart (HdrHistogram style). x: percentile on a
// "nines" scale (50%, 90%, 99%, 99.9% evenly spaced), so the tail gets the room it deserves;
// y: latency on a log scale. One line per series, drawn from the measured samples.
import { percentileSorted } from './stats.mjs';

const W = 860;
const H = 480;
const M = { left: 78, right: 250, top: 48, bottom: 58 };
const PALETTE = ['#1b9e77', '#222222', '#d95f02', '#7570b3', '#e7298a', '#66a61e', '#e6ab02'];

function esc(s) {
  return String(s).replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

function fmtUs(us) {
  if (us >= 1000) return `${(us / 1000).toFixed(us >= 10_000 ? 0 : 1)} ms`;
  return `${us >= 100 ? Math.round(us) : us.toFixed(us >= 10 ? 0 : 1)} µs`;
}

/**
 * @param {{ title: string, subtitle?: string, series: { label: string, samples: number[], emphasis?: boolean }[] }} o
 *   samples in microseconds
 */
export function percentileChart({ title, subtitle, series }) {
  const prepared = series
    .filter((s) => s.samples.length > 0)
    .map((s, i) => ({ ...s, color: PALETTE[i % PALETTE.length], sorted: Float64Array.from(s.samples).sort() }));
  const maxN = Math.max(...prepared.map((s) => s.sorted.length));
  const xMax = Math.log10(maxN); // the last sample sits at 1 - 1/n
  const all = prepared.flatMap((s) => [s.sorted[0], s.sorted[s.sorted.length - 1]]);
  const yMin = 10 ** Math.floor(Math.log10(Math.max(1, Math.min(...all))));
  const yMax = 10 ** Math.ceil(Math.log10(Math.max(...all)));
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const xOf = (nines) => M.left + (Math.min(nines, xMax) / xMax) * pw;
  const yOf = (us) => M.top + ph - ((Math.log10(us) - Math.log10(yMin)) / (Math.log10(yMax) - Math.log10(yMin))) * ph;

  const parts = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
  );
  parts.push(`<title>${esc(title)}</title>`);
  parts.push(`<rect width="${W}" height="${H}" fill="#ffffff"/>`);
  parts.push(`<text x="${M.left}" y="22" font-size="15" font-weight="bold">${esc(title)}</text>`);
  if (subtitle) parts.push(`<text x="${M.left}" y="38" fill="#555">${esc(subtitle)}</text>`);

  // y grid: decades, and 2x/5x minor lines
  for (let d = yMin; d <= yMax; d *= 10) {
    for (const m of [1, 2, 5]) {
      const v = d * m;
      if (v > yMax) break;
      const y = yOf(v).toFixed(1);
      parts.push(`<line x1="${M.left}" x2="${M.left + pw}" y1="${y}" y2="${y}" stroke="${m === 1 ? '#ccc' : '#eee'}"/>`);
      parts.push(`<text x="${M.left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle" fill="#444">${fmtUs(v)}</text>`);
    }
  }
  // x grid: 0, 50, 90, 99, 99.9, 99.99 %
  const ticks = [
    [0, '0%'],
    [Math.log10(2), '50%'],
    [1, '90%'],
    [2, '99%'],
    [3, '99.9%'],
    [4, '99.99%'],
  ].filter(([n]) => n <= xMax + 1e-9);
  for (const [n, label] of ticks) {
    const x = xOf(n).toFixed(1);
    parts.push(`<line x1="${x}" x2="${x}" y1="${M.top}" y2="${M.top + ph}" stroke="#ddd"/>`);
    parts.push(`<text x="${x}" y="${M.top + ph + 16}" text-anchor="middle" fill="#444">${label}</text>`);
  }
  parts.push(`<rect x="${M.left}" y="${M.top}" width="${pw}" height="${ph}" fill="none" stroke="#888"/>`);
  parts.push(`<text x="${M.left + pw / 2}" y="${H - 14}" text-anchor="middle">percentile of samples</text>`);
  parts.push(`<text transform="translate(18 ${M.top + ph / 2}) rotate(-90)" text-anchor="middle">latency (log scale)</text>`);

  prepared.forEach((s, idx) => {
    const n = s.sorted.length;
    // evenly spaced on the nines scale, so the tail is drawn as finely as the median
    const pts = [];
    const nines = Math.log10(n);
    let last = -1;
    for (let step = 0; step <= 400; step++) {
      const i = Math.min(n - 1, Math.floor((1 - 10 ** (-(step / 400) * nines)) * n));
      if (i === last) continue;
      last = i;
      pts.push(`${xOf(-Math.log10(1 - i / n)).toFixed(1)},${yOf(Math.max(yMin, s.sorted[i])).toFixed(1)}`);
    }
    // the maximum, at the right end of this series' resolution
    pts.push(`${xOf(Math.log10(n)).toFixed(1)},${yOf(Math.max(yMin, s.sorted[n - 1])).toFixed(1)}`);
    parts.push(
      `<polyline fill="none" stroke="${s.color}" stroke-width="${s.emphasis ? 3 : 1.8}" stroke-linejoin="round" points="${pts.join(' ')}"/>`,
    );
    const ly = M.top + 10 + idx * 44;
    const lx = M.left + pw + 16;
    parts.push(`<line x1="${lx}" x2="${lx + 22}" y1="${ly}" y2="${ly}" stroke="${s.color}" stroke-width="${s.emphasis ? 3 : 2}"/>`);
    parts.push(
      `<text x="${lx + 28}" y="${ly}" dominant-baseline="middle"${s.emphasis ? ' font-weight="bold"' : ''}>${esc(s.label)}</text>`,
    );
    parts.push(
      `<text x="${lx + 28}" y="${ly + 16}" dominant-baseline="middle" fill="#555">p50 ${fmtUs(percentileSorted(s.sorted, 50))}, p99 ${fmtUs(percentileSorted(s.sorted, 99))}, n=${n}</text>`,
    );
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
