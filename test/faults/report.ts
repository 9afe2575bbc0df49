import { outcomeLabel } from './checker.js';
import type { RunResult } from './harness.js';
import type { FaultWindow, OpRecord, ProcessEvent } from './history.js';

// The summary table the fault suite prints: outcomes, stale answers, violations, the longest call, and
// how long each fault took to recover from.

export interface FaultRecovery {
  fault: FaultWindow;
  calls: number;
  errors: number;
  hangs: number;
  /** Processes whose bus went down during the fault or right after it. */
  busDown: number;
  /** From the fault's end until the bus is up in every process (0: it never went down). */
  busBackMs: number | undefined;
  /** From the fault's end until every process has had a write (set/delete) succeed. */
  storeBackMs: number | undefined;
}

function busUpAt(events: readonly ProcessEvent[], p: string, from: number): number | undefined {
  let up = false;
  for (const e of events) {
    if (e.p !== p || e.type !== 'bus') continue;
    if (e.t <= from) up = e.detail === 'up';
    else if (e.detail === 'up') return up ? from : e.t;
    else if (up) return from;
  }
  return up ? from : undefined;
}

export function recoveries(run: RunResult): FaultRecovery[] {
  const processes = run.processes.map((p) => p.p);
  const hangs = run.result.violations.filter((v) => v.kind === 'hang');
  return run.faults.map((fault, i) => {
    const next = run.faults[i + 1]?.start ?? Number.POSITIVE_INFINITY;
    const during = run.ops.filter((r) => r.op !== 'load' && r.start >= fault.start && r.start < fault.end);
    const busDown = new Set(
      run.events
        .filter((e) => e.type === 'bus' && e.detail === 'down' && e.t >= fault.start && e.t < Math.min(next, fault.end + 2_000))
        .map((e) => e.p),
    ).size;
    const busBack = processes.map((p) => busUpAt(run.events, p, fault.end));
    const storeBack = processes.map((p) => {
      const first = run.ops.find(
        (r: OpRecord) => r.p === p && (r.op === 'set' || r.op === 'delete') && r.outcome === 'ok' && (r.end ?? 0) >= fault.end,
      );
      return first?.end;
    });
    const worst = (times: (number | undefined)[]) =>
      times.some((t) => t === undefined) ? undefined : Math.max(0, ...times.map((t) => (t as number) - fault.end));
    return {
      fault,
      calls: during.length,
      errors: during.filter((r) => r.outcome === 'error').length,
      hangs: hangs.filter((v) => v.at !== undefined && v.at >= fault.start && v.at < fault.end).length,
      busDown,
      busBackMs: busDown === 0 ? 0 : worst(busBack),
      storeBackMs: worst(storeBack),
    };
  });
}

const pad = (text: string | number, width: number) => String(text).padEnd(width);
const num = (n: number) => n.toLocaleString('en-US');
const ms = (n: number | undefined) => (n === undefined ? 'never' : `${Math.round(n)} ms`);

export function formatReport(run: RunResult, examples = 3): string {
  const { result } = run;
  const lines: string[] = [];
  const seconds = (t: number) => `+${((t - run.origin) / 1000).toFixed(1)}s`;
  const faultSpan = run.faults.length === 0 ? 0 : (run.faults.at(-1) as FaultWindow).end - (run.faults[0] as FaultWindow).start;
  lines.push(
    `== fault suite, ${run.kind} store: ${num(run.ops.length)} calls by ${run.processes.length} processes, ${(faultSpan / 1000).toFixed(1)} s of faults, ` +
      `${num(result.readsChecked)} reads judged (${result.mode === 'landing' ? "against the store's own log" : 'from the calls alone'}), ` +
      `${num(result.sharedLoads)} getOrSet answers from a load they joined, wall ${(run.wallMs / 1000).toFixed(1)} s`,
  );
  lines.push('calls by outcome:');
  for (const [label, n] of [...result.outcomes].sort((a, b) => b[1] - a[1])) lines.push(`  ${pad(label, 64)} ${num(n)}`);
  lines.push(`stale answers by reason: ${result.stale.size === 0 ? 'none' : ''}`);
  for (const [reason, n] of result.stale) lines.push(`  ${pad(reason, 64)} ${num(n)}`);
  const byKind = new Map<string, typeof result.violations>();
  for (const v of result.violations) byKind.set(v.kind, [...(byKind.get(v.kind) ?? []), v]);
  lines.push(`violations by kind: ${result.violations.length === 0 ? 'none' : num(result.violations.length)}`);
  for (const [kind, list] of byKind) {
    lines.push(`  ${pad(kind, 20)} ${num(list.length)}`);
    for (const v of list.slice(0, examples)) lines.push(`      ${v.message}`);
  }
  if (result.convergenceSkipped.length > 0) {
    lines.push(
      `convergence not judged for ${result.convergenceSkipped.length} key(s) with a write still unsettled: ${result.convergenceSkipped.join(' ')}`,
    );
  }
  const longest = result.longest;
  if (longest !== undefined) {
    const took = longest.end === undefined ? 'never settled' : `${Math.round(longest.end - longest.start)} ms`;
    lines.push(`longest call: ${longest.p} ${longest.op}(${longest.key}) at ${seconds(longest.start)}: ${took}, ${outcomeLabel(longest)}`);
  }
  lines.push('recovery (bus back: until the bus is up in every process; store back: until a write succeeds in every process):');
  lines.push(
    `  ${pad('fault', 16)}${pad('at', 8)}${pad('lasted', 10)}${pad('calls', 8)}${pad('errors', 8)}${pad('hangs', 7)}${pad('bus down in', 13)}${pad('bus back', 11)}store back`,
  );
  for (const r of recoveries(run)) {
    lines.push(
      `  ${pad(r.fault.name, 16)}${pad(seconds(r.fault.start), 8)}${pad(ms(r.fault.end - r.fault.start), 10)}${pad(num(r.calls), 8)}${pad(num(r.errors), 8)}${pad(num(r.hangs), 7)}` +
        `${pad(`${r.busDown}/${run.processes.length}`, 13)}${pad(r.busDown === 0 ? '-' : ms(r.busBackMs), 11)}${ms(r.storeBackMs)}`,
    );
  }
  const heaps = run.processes
    .filter((p) => p.heapBefore !== undefined && p.heapAfter !== undefined)
    .map((p) => `${p.p} ${((p.heapBefore as number) / 1048576).toFixed(1)} -> ${((p.heapAfter as number) / 1048576).toFixed(1)} MB`);
  if (heaps.length > 0) lines.push(`heap after a GC, before -> after the faults: ${heaps.join(', ')}`);
  const errors = Object.entries(run.errorsByProcess)
    .map(
      ([p, counts]) =>
        `${p} ${
          Object.entries(counts)
            .map(([name, n]) => `${name} x${n}`)
            .join(', ') || 'none'
        }`,
    )
    .join('; ');
  lines.push(`'error' events: ${errors}`);
  if (run.poolErrorsByProcess !== undefined) {
    const caught = Object.entries(run.poolErrorsByProcess)
      .map(([p, n]) => `${p} ${n}`)
      .join(', ');
    lines.push(
      `pg Pool 'error' events, caught by each worker's own listener (@keyv/postgres attaches none; without it they crash the worker): ${caught}`,
    );
  }
  if (run.logUnknown.length > 0) lines.push(`store log lines not understood: ${run.logUnknown.length}, e.g. ${run.logUnknown[0]}`);
  return lines.join('\n');
}
