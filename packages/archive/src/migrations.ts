import { fileURLToPath } from 'node:url'
import type { MigrationSet } from '@jit/postgres'

/**
 * The PostgreSQL migrations of the archive (`archive_documents`), for `runMigrations` of
 * @jit/postgres. Resolved from this module's location: `src/` and `dist/` are both one level
 * below the package root, where `migrations/` lives.
 */
export const archiveMigrations: MigrationSet = {
  name: 'archive',
  dir: fileURLToPath(new URL('../migrations', import.meta.url))
}
