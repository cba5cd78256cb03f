import type { DocumentArchive } from '@jit/archive'
import type { Database } from '@jit/postgres'

/**
 * The shortest retention of effect keys and processed command ids, in days. Effect keys are
 * what makes a late redelivery harmless: the processor retries a webhook 10 times with x4
 * backoff (4 s ... about 12 days for the last gap, about 16 days in all), so a key purged sooner
 * could let a late duplicate move money twice. 21 days leaves margin for the park horizon.
 */
export const MIN_EFFECT_RETENTION_DAYS = 21

/** Options of {@link purgeHistory}; an absent field purges nothing of that kind. */
export interface PurgeOptions {
  /** Delete outbox rows published more than this many days ago. */
  outboxDays?: number
  /** Delete effect keys and processed command ids older than this many days (>= {@link MIN_EFFECT_RETENTION_DAYS}). */
  effectsDays?: number
  /** Delete archived documents past the archive's retention. */
  archive?: boolean
  /** @default now */
  now?: Date
}

/** Rows deleted per kind; null where that kind was not asked for. */
export interface PurgeResult {
  outbox: number | null
  effects: number | null
  commands: number | null
  archive: number | null
}

/** Rows per DELETE: short statements, so a purge never holds long locks against the live path. */
const CHUNK = 5000

function checkDays (name: string, days: number, minimum: number): void {
  if (!Number.isSafeInteger(days) || days < minimum) {
    throw new RangeError(`${name} must be a whole number of days >= ${minimum}, got ${days}`)
  }
}

async function deleteInChunks (run: () => Promise<number>): Promise<number> {
  let total = 0
  for (;;) {
    const n = await run()
    total += n
    if (n < CHUNK) return total
  }
}

/**
 * Deletes history nobody needs any more: published outbox rows, old effect keys and processed
 * command ids, and archived documents past retention. Outbox rows of
 * `ledger.account.overdrawn` are kept: the ledger's invariant check proves each overdraft was
 * evented from them.
 * @throws RangeError before deleting anything when a number of days is invalid or too short.
 */
export async function purgeHistory (deps: { db: Database, archive?: DocumentArchive }, opts: PurgeOptions): Promise<PurgeResult> {
  const { db } = deps
  const now = opts.now ?? new Date()
  if (opts.outboxDays !== undefined) checkDays('outbox days', opts.outboxDays, 1)
  if (opts.effectsDays !== undefined) checkDays('effects days', opts.effectsDays, MIN_EFFECT_RETENTION_DAYS)
  if (opts.archive === true && deps.archive === undefined) throw new TypeError('archive purge needs the archive')
  const result: PurgeResult = { outbox: null, effects: null, commands: null, archive: null }

  if (opts.outboxDays !== undefined) {
    const cutoff = new Date(now.getTime() - opts.outboxDays * 86_400_000)
    result.outbox = await deleteInChunks(async () => (await db.query('purge.outbox', sql => sql`
      delete from outbox where id in (
        select id from outbox
        where published_at is not null and published_at < ${cutoff} and routing_key <> 'ledger.account.overdrawn'
        limit ${CHUNK})`)).count)
  }
  if (opts.effectsDays !== undefined) {
    const cutoff = new Date(now.getTime() - opts.effectsDays * 86_400_000)
    result.effects = await deleteInChunks(async () => (await db.query('purge.effects', sql => sql`
      delete from effects where (kind, key) in (
        select kind, key from effects where applied_at < ${cutoff} limit ${CHUNK})`)).count)
    result.commands = await deleteInChunks(async () => (await db.query('purge.commands', sql => sql`
      delete from worker_commands where message_id in (
        select message_id from worker_commands where processed_at < ${cutoff} and answered_at is not null limit ${CHUNK})`)).count)
  }
  if (opts.archive === true && deps.archive !== undefined) {
    result.archive = await deps.archive.purgeExpired(now)
  }
  return result
}
