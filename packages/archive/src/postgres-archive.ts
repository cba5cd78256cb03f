import { performance } from 'node:perf_hooks'
import type postgres from 'postgres'
import {
  checkQuery, checkRetentionDays, createCloseGuard, prepareBatch, prepareDocument, retentionCutoff,
  type PreparedDocument
} from './common.js'
import type { ArchiveDocument, ArchiveKind, ArchiveQuery, DocumentArchive, StoredDocument } from './types.js'

/** Options of {@link createPostgresArchive}. */
export interface PostgresArchiveOptions {
  /** A porsager `postgres` pool, owned (and ended) by the caller. */
  sql: postgres.Sql<any> // any custom type map is fine: only text, timestamptz and jsonb are used
  /**
   * Days a document is kept, counted from its `occurred_at`, before {@link DocumentArchive.purgeExpired} deletes it.
   * @default 400
   */
  retentionDays?: number
}

/** Rows per INSERT: one JSON parameter each, so this only bounds statement size and memory. */
const INSERT_CHUNK = 500
/** Rows per DELETE of the purge: short statements, so the purge never holds long locks. */
const PURGE_CHUNK = 5000

/** A row of archive_documents. */
type Row = PreparedDocument & { archived_at: Date }

function toStored (row: Row): StoredDocument {
  return {
    token: row.token,
    kind: row.kind,
    family: row.family,
    type: row.type,
    user_token: row.user_token,
    card_token: row.card_token,
    occurred_at: row.occurred_at,
    archived_at: row.archived_at,
    body: row.body
  }
}

/**
 * The document archive in PostgreSQL (table `archive_documents`, created by
 * {@link archiveMigrations}); used when no MongoDB is configured.
 */
export function createPostgresArchive (opts: PostgresArchiveOptions): DocumentArchive {
  const { sql } = opts
  const retentionDays = checkRetentionDays(opts.retentionDays)
  const guard = createCloseGuard()

  async function insertChunk (docs: PreparedDocument[]): Promise<number> {
    // One jsonb parameter for the whole chunk, expanded server side: no per-row parameters.
    const rows = docs.map(doc => ({ ...doc, occurred_at: doc.occurred_at.toISOString() }))
    const result = await sql`
      INSERT INTO archive_documents (kind, token, family, type, user_token, card_token, occurred_at, body)
      SELECT kind, token, family, type, user_token, card_token, occurred_at, body
      FROM jsonb_to_recordset(${sql.json(rows as unknown as postgres.JSONValue)}::jsonb) AS r(
        kind text, token text, family text, type text, user_token text, card_token text,
        occurred_at timestamptz, body jsonb
      )
      ON CONFLICT (kind, token) DO NOTHING
    `
    return result.count
  }

  return {
    async init () {
      guard.assertOpen()
    },

    async store (doc: ArchiveDocument) {
      guard.assertOpen()
      const d = prepareDocument(doc)
      const result = await sql`
        INSERT INTO archive_documents (kind, token, family, type, user_token, card_token, occurred_at, body)
        VALUES (${d.kind}, ${d.token}, ${d.family}, ${d.type}, ${d.user_token}, ${d.card_token}, ${d.occurred_at},
          ${sql.json(d.body as postgres.JSONValue)})
        ON CONFLICT (kind, token) DO NOTHING
      `
      return { inserted: result.count === 1 }
    },

    async storeMany (docs: ArchiveDocument[]) {
      guard.assertOpen()
      const prepared = prepareBatch(docs)
      let inserted = 0
      for (let i = 0; i < prepared.length; i += INSERT_CHUNK) {
        inserted += await insertChunk(prepared.slice(i, i + INSERT_CHUNK))
      }
      return { inserted }
    },

    async findByToken (token: string, kind?: ArchiveKind) {
      guard.assertOpen()
      const rows = await sql<Row[]>`
        SELECT kind, token, family, type, user_token, card_token, occurred_at, archived_at, body
        FROM archive_documents
        WHERE token = ${token} ${kind !== undefined ? sql`AND kind = ${kind}` : sql``}
        ORDER BY occurred_at DESC, kind COLLATE "C"
        LIMIT 1
      `
      return rows[0] !== undefined ? toStored(rows[0]) : null
    },

    async query (q: ArchiveQuery) {
      guard.assertOpen()
      const c = checkQuery(q)
      const rows = await sql<Row[]>`
        SELECT kind, token, family, type, user_token, card_token, occurred_at, archived_at, body
        FROM archive_documents
        WHERE TRUE
          ${c.token !== undefined ? sql`AND token = ${c.token}` : sql``}
          ${c.kind !== undefined ? sql`AND kind = ${c.kind}` : sql``}
          ${c.user_token !== undefined ? sql`AND user_token = ${c.user_token}` : sql``}
          ${c.card_token !== undefined ? sql`AND card_token = ${c.card_token}` : sql``}
          ${c.from !== undefined ? sql`AND occurred_at >= ${c.from}` : sql``}
          ${c.to !== undefined ? sql`AND occurred_at < ${c.to}` : sql``}
        -- COLLATE "C": byte order, the same tie-break MongoDB applies.
        ORDER BY occurred_at DESC, token COLLATE "C" DESC, kind COLLATE "C"
        LIMIT ${c.limit}
      `
      return rows.map(toStored)
    },

    async purgeExpired (now: Date = new Date()) {
      guard.assertOpen()
      const cutoff = retentionCutoff(now, retentionDays)
      let deleted = 0
      for (;;) {
        const result = await sql`
          DELETE FROM archive_documents a
          USING (
            SELECT kind, token FROM archive_documents WHERE occurred_at < ${cutoff} LIMIT ${PURGE_CHUNK}
          ) doomed
          WHERE a.kind = doomed.kind AND a.token = doomed.token
        `
        deleted += result.count
        if (result.count < PURGE_CHUNK) return deleted
      }
    },

    async ping () {
      guard.assertOpen()
      const started = performance.now()
      await sql`SELECT 1`
      return performance.now() - started
    },

    async close () {
      guard.close()
    }
  }
}
