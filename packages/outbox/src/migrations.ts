import { fileURLToPath } from 'node:url'
import type { MigrationSet } from '@jit/postgres'

/**
 * The outbox table. The set keeps the name `outbox` and its released file `0001_outbox.sql`
 * byte for byte (it moved here from @jit/amqp): the runner records both, so existing databases
 * see nothing new. `../migrations` is the same directory from `src/` (tests, `@jit/source`) and
 * from `dist/` (built services), since both sit one level below the package root.
 */
export const outboxMigrations: MigrationSet = {
  name: 'outbox',
  dir: fileURLToPath(new URL('../migrations', import.meta.url))
}
