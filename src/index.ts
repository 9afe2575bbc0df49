export { BroadcastChannelTransport } from './bus/broadcast-transport.js';
export type { BusStatus } from './bus/bus.js';
export type { EventsMessage, StreamedEventRecord } from './bus/event-messages.js';
export { decodeEvents, eventsChannelFor } from './bus/event-messages.js';
export type { BusMessage, HeartbeatMessage, InvalidateMessage } from './bus/messages.js';
export { channelFor, decodeMessage, encodeMessage, MessageType, PROTOCOL_VERSION } from './bus/messages.js';
export type { Secret } from './bus/signing.js';
export { MessageSigner } from './bus/signing.js';
export type { BusTransport, TransportConnection, TransportHandlers, TransportOpenOptions } from './bus/transport.js';
export type { Clock } from './clock.js';
export { systemClock } from './clock.js';
export {
  BusError,
  CacheClosedError,
  DecryptionError,
  ErrorCodes,
  InvalidMessageError,
  KeyExistsError,
  LoaderTimeoutError,
  StoreError,
  StoreTimeoutError,
  StoreUnavailableError,
  SyncedCacheError,
} from './errors.js';
export type { KeyvAdapterCache, SyncedKeyvStoreOptions } from './keyv/keyv-store.js';
export { SyncedKeyvStore } from './keyv/keyv-store.js';
export { DIAGNOSTICS_CHANNELS } from './observe/diagnostics.js';
export type { EventSource, LogEventsOptions } from './observe/event-lines.js';
export { formatEvent, logEvents } from './observe/event-lines.js';
export type { StreamedEvent } from './observe/events.js';
export type {
  BuiltInEncryption,
  CircuitBreakerOptions,
  CustomEncryption,
  Encrypter,
  EncryptionContext,
  EncryptionKey,
  EncryptionOption,
  EventsOptions,
  HeartbeatOptions,
  LockOptions,
  MemoryOptions,
  ReadyOptions,
  RedisOption,
  StoreOption,
  SyncedCacheOptions,
} from './options.js';
export { DEFAULTS } from './options.js';
export type { RedisTransportTarget } from './redis/clients.js';
export { RedisTransport } from './redis/transport.js';
export { SyncedCache } from './synced-cache.js';
export type {
  BreakerEvent,
  BreakerState,
  BusDownEvent,
  BusState,
  EventStamp,
  GetOrSetOptions,
  HitEvent,
  InvalidateEvent,
  KeyEvent,
  LoaderContext,
  SetManyEntry,
  SetOptions,
  StaleEvent,
  StaleReason,
  StampEvent,
  StashEvent,
  SyncedCacheEvents,
  SyncedCacheStats,
  Tier,
} from './types.js';
