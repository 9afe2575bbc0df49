// Entry point of every forked benchmark process: `node bench/lib/child.mjs <module>`.
// It imports <module> and runs its exported functions when the parent asks (see procs.mjs),
// so a scenario can keep its parent side and its child side in one file, and every system
// under test gets a process of its own (its own JIT state, heap and event loop).
import { pathToFileURL } from 'node:url';

const target = process.argv[2];
if (!target || typeof process.send !== 'function') {
  console.error('usage: forked by bench/lib/procs.mjs with a module path');
  process.exit(2);
}

const mod = await import(pathToFileURL(target).href);

function serializeError(err) {
  return { message: String(err?.message ?? err), stack: String(err?.stack ?? ''), name: err?.name };
}

process.on('message', async (msg) => {
  if (msg?.type === 'exit') {
    process.exit(0);
  }
  if (msg?.type === 'post') {
    // fire and forget: no reply, so the parent stays asleep while the child works
    try {
      await mod[msg.fn](...msg.args);
    } catch (err) {
      process.send({ type: 'event', event: 'error', data: serializeError(err) });
    }
    return;
  }
  if (msg?.type !== 'call') return;
  const fn = mod[msg.fn];
  if (typeof fn !== 'function') {
    process.send({ type: 'reply', id: msg.id, ok: false, error: { message: `${target} exports no function ${msg.fn}` } });
    return;
  }
  try {
    const value = await fn(...msg.args);
    process.send({ type: 'reply', id: msg.id, ok: true, value });
  } catch (err) {
    process.send({ type: 'reply', id: msg.id, ok: false, error: serializeError(err) });
  }
});

// The parent going away must not leave us running (and holding redis connections).
process.on('disconnect', () => process.exit(0));
process.send({ type: 'ready' });
