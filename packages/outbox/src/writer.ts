import type postgres from 'postgres'
import { EVENTS_EXCHANGE } from '@jit/amqp'

/**
 * The channel a writer notifies in its own transaction (PostgreSQL delivers it at commit) and
 * the relay listens on, so a row is published at once instead of at the next poll. The ledger's
 * `ledger_emit` notifies the same channel.
 */
export const OUTBOX_CHANNEL = 'outbox'

/** An event to publish once the transaction that writes it commits. */
export interface OutboxEvent {
  /** Also the message's `type`. */
  routingKey: string
  payload: postgres.JSONValue
  /**
   * The message id consumers deduplicate on; writing the same id twice keeps the first row, so
   * a repeated write publishes once.
   * @default a random UUID
   */
  messageId?: string
  /** The `message_id` of the message this one answers. */
  correlationId?: string
  /** @default 'cards.events' */
  exchange?: string
}

/**
 * Writes an event to the outbox in the caller's transaction: published by the relay after the
 * commit, never for a change that rolled back.
 * @returns false when a row with this message id was already written
 * @example
 * ```ts
 * await sql.begin(async tx => {
 *   // ... the change ...
 *   await writeOutboxEvent(tx, { routingKey: 'command.applied', payload: answer, correlationId })
 * })
 * ```
 */
export async function writeOutboxEvent (tx: postgres.TransactionSql, event: OutboxEvent): Promise<boolean> {
  const rows = await tx`
    INSERT INTO outbox (message_id, exchange, routing_key, correlation_id, payload)
    VALUES (coalesce(${event.messageId ?? null}::uuid, gen_random_uuid()), ${event.exchange ?? EVENTS_EXCHANGE},
      ${event.routingKey}, ${event.correlationId ?? null}, ${tx.json(event.payload)})
    ON CONFLICT (message_id) DO NOTHING
    RETURNING id`
  if (rows.length === 0) return false
  await tx`SELECT pg_notify(${OUTBOX_CHANNEL}, '')`
  return true
}
