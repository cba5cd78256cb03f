import type { MigrationSet } from '@jit/postgres'
import { fileURLToPath } from 'node:url'

/** The ledger's migration set (plain numbered SQL files); apply after the outbox set. */
export const ledgerMigrations: MigrationSet = {
  name: 'ledger',
  // src/ and dist/ both sit one level below the package root
  dir: fileURLToPath(new URL('../migrations', import.meta.url))
}
