import { createHash } from 'node:crypto'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type postgres from 'postgres'
import { pino, type Logger } from 'pino'

/**
 * A named directory of numbered SQL files (`0001_create_accounts.sql`, ...), append-only once
 * released, plus optionally a directory of repeatable files (functions) re-applied whenever
 * their content changes.
 */
export interface MigrationSet {
  /** Recorded in `schema_migrations.set_name`; versions are numbered per set. */
  name: string
  /** Directory holding the set's `.sql` files. */
  dir: string
  /**
   * Directory of repeatable `.sql` files (`name.sql`, e.g. one PL/pgSQL function each). Each is
   * applied after the set's numbered files whenever its checksum differs from the one recorded
   * in `schema_repeatable_migrations`, so a function is changed by editing its file. They must
   * be idempotent (`CREATE OR REPLACE`); they run with `check_function_bodies` off, so their
   * order does not matter. A file removed from the directory leaves its objects in place: drop
   * them in a numbered migration.
   */
  repeatableDir?: string
}

/** One migration file applied by {@link runMigrations}. */
export interface AppliedMigration {
  set: string
  version: number
  /** The file name, e.g. `0001_create_accounts.sql`. */
  name: string
}

/** One repeatable file applied by {@link runMigrations} because it is new or changed. */
export interface AppliedRepeatable {
  set: string
  /** The file name, e.g. `jit_decide.sql`. */
  name: string
}

/** Options of {@link runMigrations}. */
export interface RunMigrationsOptions {
  logger?: Logger
}

interface RepeatableFile {
  set: string
  name: string
  text: string
  checksum: string
}

interface MigrationFile {
  set: string
  version: number
  name: string
  path: string
  text: string
  checksum: string
}

/**
 * Fixed key of the session advisory lock every runner takes, so processes starting at once
 * serialize and the later ones find everything applied. Any constant works as long as it never
 * changes; this is "jit-migr" read as ASCII hex, truncated to stay a safe integer.
 */
export const MIGRATION_LOCK_KEY = 0x6a69742d6d69

const FILE_NAME = /^(\d+)_[A-Za-z0-9_.-]+\.sql$/
const REPEATABLE_NAME = /^[A-Za-z][A-Za-z0-9_.-]*\.sql$/

// Line endings are normalized so a checkout with CRLF does not look like an edited file.
async function readSql (path: string): Promise<{ text: string, checksum: string }> {
  const text = (await readFile(path, 'utf8')).replace(/\r\n/g, '\n')
  return { text, checksum: createHash('sha256').update(text).digest('hex') }
}

async function readRepeatables (set: MigrationSet): Promise<RepeatableFile[]> {
  if (set.repeatableDir === undefined) return []
  const entries = await readdir(set.repeatableDir, { withFileTypes: true })
  const files: RepeatableFile[] = []
  for (const entry of entries) {
    if (!entry.isFile() || !entry.name.endsWith('.sql')) continue
    if (!REPEATABLE_NAME.test(entry.name)) throw new Error(`migration set ${set.name}: repeatable ${entry.name} is not named like rule_name.sql`)
    files.push({ set: set.name, name: entry.name, ...await readSql(join(set.repeatableDir, entry.name)) })
  }
  return files.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
}

async function readSet (set: MigrationSet): Promise<MigrationFile[]> {
  const entries = await readdir(set.dir, { withFileTypes: true })
  const files: MigrationFile[] = []
  const seen = new Map<number, string>()
  for (const entry of entries) {
    if (!entry.isFile() || !entry.name.endsWith('.sql')) continue
    const match = FILE_NAME.exec(entry.name)
    if (match === null) throw new Error(`migration set ${set.name}: ${entry.name} is not named like 0001_description.sql`)
    const version = Number(match[1])
    const previous = seen.get(version)
    if (previous !== undefined) throw new Error(`migration set ${set.name}: ${previous} and ${entry.name} share version ${version}`)
    seen.set(version, entry.name)
    const path = join(set.dir, entry.name)
    files.push({ set: set.name, version, name: entry.name, path, ...await readSql(path) })
  }
  return files.sort((a, b) => a.version - b.version)
}

/**
 * Applies pending migrations: each set in the given order, each file in numeric order, once.
 *
 * - Each file runs in its own transaction together with its `schema_migrations` row, so a failing
 *   file leaves nothing of itself; the run stops with an error naming the file, and files applied
 *   before it stay applied.
 * - A file whose content changed after it was applied (checksum mismatch), or a pending file
 *   numbered below an applied one, is an error and nothing is applied.
 * - The whole run holds a session advisory lock ({@link MIGRATION_LOCK_KEY}) on one reserved
 *   connection, so concurrent runners wait for each other and the later ones apply nothing.
 * - Then each set's repeatable files ({@link MigrationSet.repeatableDir}) whose checksum is new
 *   or changed, each in its own transaction with its `schema_repeatable_migrations` row, after
 *   all of that set's numbered files (so they may use the tables those create).
 * - Statements run without a statement timeout (building an index may take long). Files must not
 *   contain their own `BEGIN`/`COMMIT` or statements that cannot run in a transaction
 *   (`CREATE INDEX CONCURRENTLY`).
 *
 * @returns the numbered files applied by this call, in order, and the repeatable ones.
 */
export async function runMigrations (sql: postgres.Sql, sets: MigrationSet[], opts: RunMigrationsOptions = {}): Promise<{ applied: AppliedMigration[], repeatable: AppliedRepeatable[] }> {
  const logger = opts.logger ?? pino({ level: 'silent' })
  const names = new Set<string>()
  for (const set of sets) {
    if (names.has(set.name)) throw new Error(`migration set ${set.name} is listed twice`)
    names.add(set.name)
  }
  // Files are read and validated before touching the database: a bad name fails fast.
  const bySet: MigrationFile[][] = []
  const repeatableBySet: RepeatableFile[][] = []
  for (const set of sets) {
    bySet.push(await readSet(set))
    repeatableBySet.push(await readRepeatables(set))
  }

  // A session lock must be taken and released on the same connection, hence reserve().
  // porsager's reserved connections have no begin(), so transactions are explicit statements.
  const conn = await sql.reserve()
  const applied: AppliedMigration[] = []
  const repeatable: AppliedRepeatable[] = []
  let locked = false
  try {
    // Waiting for another runner, and a long migration, must not hit the pool's statement timeout.
    await conn`select set_config('statement_timeout', '0', false)`
    await conn`select pg_advisory_lock(${MIGRATION_LOCK_KEY}::bigint)`
    locked = true
    await conn`
      create table if not exists schema_migrations (
        set_name text not null,
        version int not null,
        name text not null,
        checksum text not null,
        applied_at timestamptz not null default now(),
        primary key (set_name, version)
      )`

    await conn`
      create table if not exists schema_repeatable_migrations (
        set_name text not null,
        name text not null,
        checksum text not null,
        applied_at timestamptz not null default now(),
        primary key (set_name, name)
      )`

    const pendingBySet: MigrationFile[][] = []
    for (const files of bySet) pendingBySet.push(await pendingFiles(conn, files))

    for (const [i, pending] of pendingBySet.entries()) {
      for (const file of pending) {
        const started = performance.now()
        await applyFile(conn, file)
        applied.push({ set: file.set, version: file.version, name: file.name })
        logger.info({ set: file.set, version: file.version, file: file.name, durationMs: Math.round(performance.now() - started) }, 'migration applied')
      }
      for (const file of await changedRepeatables(conn, repeatableBySet[i] ?? [])) {
        const started = performance.now()
        await applyRepeatable(conn, file)
        repeatable.push({ set: file.set, name: file.name })
        logger.info({ set: file.set, file: file.name, checksum: file.checksum, durationMs: Math.round(performance.now() - started) }, 'repeatable migration applied')
      }
    }
    return { applied, repeatable }
  } finally {
    try {
      if (locked) await conn`select pg_advisory_unlock(${MIGRATION_LOCK_KEY}::bigint)`
      await conn`reset statement_timeout`
    } catch (err) {
      // The connection is broken; the server drops its session lock with it.
      logger.warn({ err: { message: (err as Error).message } }, 'migration lock release failed')
    }
    conn.release()
  }
}

/** Checks applied files against the directory and returns the pending ones. */
async function pendingFiles (conn: postgres.ReservedSql, files: MigrationFile[]): Promise<MigrationFile[]> {
  const setName = files[0]?.set
  if (setName === undefined) return []
  const rows = await conn<Array<{ version: number, name: string, checksum: string }>>`
    select version, name, checksum from schema_migrations where set_name = ${setName} order by version`
  const applied = new Map(rows.map(row => [row.version, row]))
  const highestApplied = rows.at(-1)?.version ?? 0
  const pending: MigrationFile[] = []
  for (const file of files) {
    const row = applied.get(file.version)
    if (row === undefined) {
      if (file.version < highestApplied) {
        throw new Error(`migration ${file.set}/${file.name} is pending but version ${highestApplied} is already applied; renumber it after ${highestApplied}`)
      }
      pending.push(file)
    } else if (row.checksum !== file.checksum) {
      throw new Error(`migration ${file.set}/${file.name} changed after it was applied (checksum mismatch); add a new migration instead of editing it`)
    }
  }
  return pending
}

async function changedRepeatables (conn: postgres.ReservedSql, files: RepeatableFile[]): Promise<RepeatableFile[]> {
  const setName = files[0]?.set
  if (setName === undefined) return []
  const rows = await conn<Array<{ name: string, checksum: string }>>`
    select name, checksum from schema_repeatable_migrations where set_name = ${setName}`
  const recorded = new Map(rows.map(row => [row.name, row.checksum]))
  return files.filter(file => recorded.get(file.name) !== file.checksum)
}

async function applyRepeatable (conn: postgres.ReservedSql, file: RepeatableFile): Promise<void> {
  await conn`begin`
  try {
    // Bodies are checked when called, not when created (as pg_dump restores them): a SQL
    // function naming another one defined in a later file still applies.
    await conn`select set_config('check_function_bodies', 'off', true)`
    await conn.unsafe(file.text)
    await conn`
      insert into schema_repeatable_migrations (set_name, name, checksum)
      values (${file.set}, ${file.name}, ${file.checksum})
      on conflict (set_name, name) do update set checksum = excluded.checksum, applied_at = now()`
    await conn`commit`
  } catch (err) {
    await conn`rollback`.catch(() => {})
    throw new Error(`repeatable migration ${file.set}/${file.name} failed: ${(err as Error).message}`, { cause: err })
  }
}

async function applyFile (conn: postgres.ReservedSql, file: MigrationFile): Promise<void> {
  await conn`begin`
  try {
    // The one place SQL is not a tagged template: a migration file is trusted, versioned SQL
    // with several statements and `$$` function bodies, which only the simple protocol runs.
    await conn.unsafe(file.text)
    await conn`
      insert into schema_migrations (set_name, version, name, checksum)
      values (${file.set}, ${file.version}, ${file.name}, ${file.checksum})`
    await conn`commit`
  } catch (err) {
    await conn`rollback`.catch(() => {})
    throw new Error(`migration ${file.set}/${file.name} failed: ${(err as Error).message}`, { cause: err })
  }
}
