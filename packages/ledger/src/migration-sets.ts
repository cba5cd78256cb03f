import { outboxMigrations } from '@jit/outbox'
import { ledgerMigrations } from './migrations.js'

/** The migration sets the ledger needs, in order: the outbox it writes to, then its own. */
export const ledgerMigrationSets = [outboxMigrations, ledgerMigrations]
