// watch's message handlers, on their own; test/integration/cli.test.ts and event-stream.test.ts run the
// binary against hostile publishers.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { guarded } from '../../src/cli/watch.js';

afterEach(() => {
  vi.restoreAllMocks();
});

describe('watch', () => {
  it('one message a handler cannot show never ends the watch: the throw is one escaped line on stderr, and the next message is handled', () => {
    const written: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    });
    const handled: string[] = [];
    const handler = guarded('synced-cache:ns:events', (payload) => {
      if (payload === 'hostile') throw new RangeError('Invalid \u001b[2J time value\nforged line');
      handled.push(payload);
    });
    expect(() => handler('hostile')).not.toThrow();
    handler('good');
    expect(handled).toEqual(['good']);
    expect(written).toHaveLength(1);
    expect(written[0]).toMatch(/^synced-cache: \S+Z could not show a message on synced-cache:ns:events: Invalid \\u001b\[2J time value\n$/);
  });
});
