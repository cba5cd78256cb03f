/**
 * @jit/postgres: the PostgreSQL pool every service uses (porsager `postgres`), with timed and
 * counted queries, slow-query logging by name, a transaction helper, pool statistics and the
 * migration runner.
 */
export { createDatabase, type Database, type PoolStats, type PostgresOptions, type TransactionOptions } from './database.js'
export { runMigrations, MIGRATION_LOCK_KEY, type MigrationSet, type AppliedMigration, type AppliedRepeatable, type RunMigrationsOptions } from './migrations.js'
export { isPostgresError } from './errors.js'
export { parseSafeInteger } from './pg-types.js'
