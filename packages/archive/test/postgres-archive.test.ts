import t, { type Test } from 'tap'
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import postgres from 'postgres'
import { createTestDatabase } from '@jit/test-support'
import { archiveMigrations, createPostgresArchive } from '../src/index.js'
import { archiveContract, type MakeArchive } from './contract.js'

const migrationSql = readFileSync(join(archiveMigrations.dir, '0001_archive.sql'), 'utf8')

/** A fresh database with the archive migration applied (runMigrations of @jit/postgres does this in services). */
async function migratedDatabase (t: Test): Promise<postgres.Sql> {
  const url = await createTestDatabase(t, 'archive')
  const sql = postgres(url, { max: 4, onnotice: () => {} })
  t.teardown(() => sql.end({ timeout: 5 }))
  await sql.unsafe(migrationSql)
  return sql
}

const makePostgresArchive: MakeArchive = async (t, opts = {}) => {
  const sql = await migratedDatabase(t)
  const archive = createPostgresArchive({ sql, ...opts })
  await archive.init()
  return {
    archive,
    readRaw: async (kind, token) =>
      (await sql`SELECT * FROM archive_documents WHERE kind = ${kind} AND token = ${token}`)[0]
  }
}

t.test('contract: PostgreSQL', async t => {
  archiveContract(t, makePostgresArchive)
})

t.test('archiveMigrations points at the shipped SQL', async t => {
  t.equal(archiveMigrations.name, 'archive')
  t.same(readdirSync(archiveMigrations.dir).filter(f => f.endsWith('.sql')), ['0001_archive.sql'])
})

t.test('the migration creates the key and indexes, and can be applied again', async t => {
  const sql = await migratedDatabase(t)
  await sql.unsafe(migrationSql)
  const indexes = await sql<{ indexdef: string }[]>`
    SELECT indexdef FROM pg_indexes WHERE tablename = 'archive_documents' ORDER BY indexname`
  const defs = indexes.map(i => i.indexdef).join('\n')
  t.match(defs, /UNIQUE INDEX archive_documents_pkey .*\(kind, token\)/)
  t.match(defs, /\(user_token, occurred_at DESC\)/)
  t.match(defs, /\(card_token, occurred_at DESC\)/)
  t.match(defs, /archive_documents_occurred_idx .*\(occurred_at\)/)
  const [column] = await sql<{ data_type: string }[]>`
    SELECT data_type FROM information_schema.columns WHERE table_name = 'archive_documents' AND column_name = 'body'`
  t.equal(column?.data_type, 'jsonb')
})

t.test('retention options are checked', async t => {
  const sql = await migratedDatabase(t)
  t.throws(() => createPostgresArchive({ sql, retentionDays: 0 }), RangeError)
  t.throws(() => createPostgresArchive({ sql, retentionDays: -1 }), RangeError)
  t.throws(() => createPostgresArchive({ sql, retentionDays: Number.NaN }), RangeError)
})

t.test('a database error surfaces as a rejection', async t => {
  const url = await createTestDatabase(t, 'nomig')
  const sql = postgres(url, { max: 2, onnotice: () => {} })
  t.teardown(() => sql.end({ timeout: 5 }))
  const archive = createPostgresArchive({ sql })
  const doc = { token: 't', kind: 'webhook', occurred_at: new Date(), body: {} }
  await t.rejects(archive.store(doc), { code: '42P01' }, 'no table: the error is not swallowed')
  await t.rejects(archive.storeMany([doc]), { code: '42P01' })
  await sql.end({ timeout: 5 })
  await t.rejects(archive.ping(), 'an ended pool fails the ping')
})
