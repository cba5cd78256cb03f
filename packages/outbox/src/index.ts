/**
 * @jit/outbox: events written in the transaction of the change they describe and published
 * afterwards. The `outbox` table (its migration set), the writer, the relay that publishes the
 * rows with confirms, the relay as every service runs it, and the backlog reading.
 * @packageDocumentation
 */
export { outboxMigrations } from './migrations.js'
export { OUTBOX_CHANNEL, writeOutboxEvent, type OutboxEvent } from './writer.js'
export {
  createOutboxRelay,
  type OutboxRelay,
  type OutboxRelayOptions,
  type OutboxRelayStats
} from './relay.js'
export { createServiceOutboxRelay, type OutboxRelayConfig, type ServiceOutboxRelayDeps } from './service-relay.js'
export { readOutboxBacklog, type OutboxBacklog } from './backlog.js'
