import diagnostics from 'node:diagnostics_channel';

/**
 * `node:diagnostics_channel` channels for APM tools. A message is built and published only while the
 * channel has subscribers, so they cost nothing otherwise.
 *
 * | channel | message |
 * |---|---|
 * | `synced-cache:write` | `{ namespace, operation: 'set' \| 'delete' \| 'clear', keys, durationMs, error? }` |
 * | `synced-cache:publish` | `{ namespace, instanceId, keys }` (keys: string[] or '*') |
 * | `synced-cache:invalidate` | `{ namespace, instanceId, origin, keys }` |
 * | `synced-cache:flush` | `{ namespace, instanceId, cause: 'reconnect' \| 'gap' \| 'clear' }` |
 * | `synced-cache:bus` | `{ namespace, instanceId, status, previous, reason? }` |
 * | `synced-cache:breaker` | `{ namespace, instanceId, state: 'open' \| 'half-open' \| 'closed' }` |
 * | `synced-cache:stale` | `{ namespace, instanceId, key, reason }` |
 */
export const channels = {
  write: diagnostics.channel('synced-cache:write'),
  publish: diagnostics.channel('synced-cache:publish'),
  invalidate: diagnostics.channel('synced-cache:invalidate'),
  flush: diagnostics.channel('synced-cache:flush'),
  bus: diagnostics.channel('synced-cache:bus'),
  breaker: diagnostics.channel('synced-cache:breaker'),
  stale: diagnostics.channel('synced-cache:stale'),
} as const;

/** Names of the diagnostics channels, for `diagnostics_channel.subscribe(name, ...)`. */
export const DIAGNOSTICS_CHANNELS = {
  write: 'synced-cache:write',
  publish: 'synced-cache:publish',
  invalidate: 'synced-cache:invalidate',
  flush: 'synced-cache:flush',
  bus: 'synced-cache:bus',
  breaker: 'synced-cache:breaker',
  stale: 'synced-cache:stale',
} as const;
