/**
 * @jit/amqp: the contract's RabbitMQ topology, a confirm-mode publisher, consumers with a
 * per-queue retry path and dead-letter queue, and queue statistics. The outbox
 * (its table, writer and relay) is @jit/outbox.
 * @packageDocumentation
 */
export { createAmqp, type Amqp, type AmqpOptions, type QueueStats } from './amqp.js'
export {
  PermanentError,
  TransientError,
  HEADER_FAILURE_REASON,
  HEADER_RETRY_COUNT,
  HEADER_FIRST_FAILED_AT,
  HEADER_ORIGINAL_ROUTING_KEY,
  HEADER_ORIGINAL_QUEUE,
  type ConsumedMessage,
  type MessageHandler,
  type ConsumeOptions,
  type ConsumerHandle,
  type ConsumerStats
} from './consumer.js'
export type { AckCounters } from './channel-consumer.js'
export { batchingHandler, type BatchHandler, type BatchingOptions } from './batcher.js'
export { RawJson, UnroutableError, type Publisher, type PublishOptions } from './publisher.js'
export {
  EVENTS_EXCHANGE,
  COMMANDS_EXCHANGE,
  DLX_EXCHANGE,
  QUEUE_JIT_FUNDING,
  QUEUE_TRANSACTIONS,
  QUEUE_WEBHOOKS,
  QUEUE_COMMANDS,
  DEFAULT_QUEUES,
  DEFAULT_RETRY_DELAYS_MS,
  resolveTopology,
  retryQueueName,
  retryQueueArguments,
  RetryQueueMigrationError,
  type DeclareOptions,
  deadQueueName,
  filterExchangeNames,
  type QueueBinding,
  type QueueDefinition,
  type TopologyOptions,
  type ResolvedTopology
} from './topology.js'
