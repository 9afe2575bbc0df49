// The one door through which the CLI lists the keys of a namespace (ls, stats).
import type { Context } from './context.js';
import { CliError } from './errors.js';

/** The store of the command cannot list its keys: `ls` fails with it, `stats` shows the count as unknown. */
export class CannotListKeysError extends CliError {}

/** Every key of the namespace, in the order the store gives them, within the command's budget. */
export async function listKeys(ctx: Context): Promise<string[]> {
  if (!ctx.cache.canList) {
    throw new CannotListKeysError(`the ${ctx.store.kind} store cannot list its keys (its Keyv adapter has no iterator)`);
  }
  return ctx.run('listing the keys', async () => {
    const keys: string[] = [];
    for await (const key of ctx.cache.keys()) keys.push(key);
    return keys;
  });
}
