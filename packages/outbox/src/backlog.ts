import type postgres from 'postgres'

/** Rows of the outbox not yet published, and how long the oldest has waited. */
export interface OutboxBacklog {
  pending: number
  /** Seconds since the oldest unpublished row was written (database clock); 0 when none. */
  oldestAgeSeconds: number
}

/**
 * Reads the outbox backlog through the partial index of unpublished rows (cheap while the relay
 * keeps up; a growing backlog is exactly what this is for).
 */
export async function readOutboxBacklog (sql: postgres.Sql): Promise<OutboxBacklog> {
  const [row] = await sql<Array<{ pending: number, oldest: number }>>`
    SELECT count(*)::int AS pending,
           coalesce(extract(epoch FROM clock_timestamp() - min(created_at)), 0)::float8 AS oldest
    FROM outbox
    WHERE published_at IS NULL`
  return { pending: row?.pending ?? 0, oldestAgeSeconds: Math.max(0, row?.oldest ?? 0) }
}
