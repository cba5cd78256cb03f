import { fileURLToPath } from 'node:url'
import type { MigrationSet } from '@jit/postgres'

/**
 * The worker's own tables (`worker_commands`: processed command ids and their answers), applied
 * after the ledger's sets. `../migrations` is the same directory from `src/` and `dist/`.
 */
export const txnWorkerMigrations: MigrationSet = {
  name: 'txn-worker',
  dir: fileURLToPath(new URL('../migrations', import.meta.url))
}
