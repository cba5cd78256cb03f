import { fileURLToPath } from 'node:url'
import type { MigrationSet } from '@jit/postgres'
import { ledgerMigrationSets } from '@jit/ledger'

/**
 * The worker's own tables (`worker_commands`: processed command ids and their answers), applied
 * after the ledger's sets. `../migrations` is the same directory from `src/` and `dist/`.
 */
export const txnWorkerMigrations: MigrationSet = {
  name: 'txn-worker',
  dir: fileURLToPath(new URL('../migrations', import.meta.url))
}

/** Every set the worker needs, in order: the ledger's (outbox, ledger), then its own. */
export const txnWorkerMigrationSets: readonly MigrationSet[] = Object.freeze([...ledgerMigrationSets, txnWorkerMigrations])
