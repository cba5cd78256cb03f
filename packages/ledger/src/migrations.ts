import type { MigrationSet } from '@jit/postgres'
import { fileURLToPath } from 'node:url'

/**
 * The ledger's migration set: append-only DDL in `migrations/` (numbered, immutable once
 * released) and the money rules as PL/pgSQL in `sql/functions/` (one rule per file, re-applied
 * whenever a file changes). Apply after the outbox set.
 */
export const ledgerMigrations: MigrationSet = {
  name: 'ledger',
  // src/ and dist/ both sit one level below the package root
  dir: fileURLToPath(new URL('../migrations', import.meta.url)),
  repeatableDir: fileURLToPath(new URL('../sql/functions', import.meta.url))
}
