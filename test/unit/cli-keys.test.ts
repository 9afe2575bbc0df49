// The CLI's key rules, on their own; test/integration/cli.test.ts runs them through the binary.
import { describe, expect, it } from 'vitest';
import { checkWritableKey, INTERNAL_KEY_PREFIX } from '../../src/cli/commands.js';
import { CliError, EXIT } from '../../src/cli/errors.js';
import { INTERNAL_KEY_PREFIX as CORE_PREFIX } from '../../src/store/keys.js';

describe('the keys a CLI write may take', () => {
  it("refuses the library's own keys as a usage error, by the core's own prefix", () => {
    expect(INTERNAL_KEY_PREFIX).toBe(CORE_PREFIX);
    expect(() => checkWritableKey('__synced-cache:salt', 'stash set')).toThrow(CliError);
    expect(() => checkWritableKey('__synced-cache:salt', 'stash set')).toThrow(
      expect.objectContaining({
        exitCode: EXIT.usage,
        message: 'stash set: keys beginning with "__synced-cache:" are the library\'s own; choose another key',
      }),
    );
    for (const key of ['salt', '_synced-cache:x', 'x__synced-cache:', '__synced-cache'])
      expect(() => checkWritableKey(key, 'set')).not.toThrow();
  });
});
