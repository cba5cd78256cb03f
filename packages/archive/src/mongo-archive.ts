import { performance } from 'node:perf_hooks'
import { MongoBulkWriteError, MongoServerError, type Db, type Filter, type Document } from 'mongodb'
import {
  checkQuery, checkRetentionDays, createCloseGuard, prepareBatch, prepareDocument, retentionCutoff,
  type PreparedDocument
} from './common.js'
import type { ArchiveDocument, ArchiveKind, ArchiveQuery, DocumentArchive, StoredDocument } from './types.js'

/** Options of {@link createMongoArchive}. */
export interface MongoArchiveOptions {
  /** A database handle (`createMongo(...).db()`); its client is owned and closed by the caller. */
  db: Db
  /** @default 'archive' */
  collection?: string
  /**
   * Days a document is kept, counted from its `occurred_at`, before {@link DocumentArchive.purgeExpired} deletes it.
   * @default 400
   */
  retentionDays?: number
  /**
   * Also let MongoDB expire documents itself: `init()` makes the `occurred_at` index a TTL
   * index of `retentionDays`. Changing `retentionDays` (or this flag) later needs a `collMod`
   * of the existing index (MongoDB refuses to redefine it); `purgeExpired` works either way.
   * @default false
   */
  ttlIndex?: boolean
}

const DUPLICATE_KEY = 11000

interface ArchiveRecord extends PreparedDocument {
  archived_at: Date
}

const PROJECTION = { _id: 0 } as const

function toStored (doc: Document): StoredDocument {
  return {
    token: doc.token,
    kind: doc.kind,
    family: doc.family ?? null,
    type: doc.type ?? null,
    user_token: doc.user_token ?? null,
    card_token: doc.card_token ?? null,
    occurred_at: doc.occurred_at,
    archived_at: doc.archived_at,
    body: doc.body
  }
}

/** True when every failure of an unordered insertMany is a duplicate key (already archived). */
function onlyDuplicates (err: MongoBulkWriteError): boolean {
  if (err.err !== undefined) return false
  const errors = Array.isArray(err.writeErrors) ? err.writeErrors : [err.writeErrors]
  return errors.length > 0 && errors.every(e => e.code === DUPLICATE_KEY)
}

/**
 * The document archive in MongoDB (used when `MONGO_URL` is configured). Call `init()` once at
 * start: it creates the unique (kind, token) index that makes stores idempotent.
 */
export function createMongoArchive (opts: MongoArchiveOptions): DocumentArchive {
  const retentionDays = checkRetentionDays(opts.retentionDays)
  const collection = opts.db.collection<ArchiveRecord>(opts.collection ?? 'archive')
  const guard = createCloseGuard()

  return {
    async init () {
      guard.assertOpen()
      await collection.createIndexes([
        { key: { kind: 1, token: 1 }, name: 'kind_token_unique', unique: true },
        { key: { token: 1 }, name: 'token' },
        { key: { user_token: 1, occurred_at: -1 }, name: 'user_occurred' },
        { key: { card_token: 1, occurred_at: -1 }, name: 'card_occurred' },
        opts.ttlIndex === true
          ? { key: { occurred_at: 1 }, name: 'occurred_at', expireAfterSeconds: Math.round(retentionDays * 86400) }
          : { key: { occurred_at: 1 }, name: 'occurred_at' }
      ])
    },

    async store (doc: ArchiveDocument) {
      guard.assertOpen()
      const record: ArchiveRecord = { ...prepareDocument(doc), archived_at: new Date() }
      try {
        await collection.insertOne(record)
        return { inserted: true }
      } catch (err) {
        if (err instanceof MongoServerError && err.code === DUPLICATE_KEY) return { inserted: false }
        throw err
      }
    },

    async storeMany (docs: ArchiveDocument[]) {
      guard.assertOpen()
      const archivedAt = new Date()
      const records: ArchiveRecord[] = prepareBatch(docs).map(d => ({ ...d, archived_at: archivedAt }))
      if (records.length === 0) return { inserted: 0 }
      try {
        // Unordered: a duplicate does not stop the rest of the batch.
        const result = await collection.insertMany(records, { ordered: false })
        return { inserted: result.insertedCount }
      } catch (err) {
        if (err instanceof MongoBulkWriteError && onlyDuplicates(err)) return { inserted: err.insertedCount }
        throw err
      }
    },

    async findByToken (token: string, kind?: ArchiveKind) {
      guard.assertOpen()
      const filter: Filter<ArchiveRecord> = kind !== undefined ? { token, kind } : { token }
      const doc = await collection.find(filter, { projection: PROJECTION })
        .sort({ occurred_at: -1, kind: 1 })
        .limit(1)
        .next()
      return doc !== null ? toStored(doc) : null
    },

    async query (q: ArchiveQuery) {
      guard.assertOpen()
      const c = checkQuery(q)
      const filter: Document = {}
      if (c.token !== undefined) filter.token = c.token
      if (c.kind !== undefined) filter.kind = c.kind
      if (c.user_token !== undefined) filter.user_token = c.user_token
      if (c.card_token !== undefined) filter.card_token = c.card_token
      if (c.from !== undefined || c.to !== undefined) {
        filter.occurred_at = {
          ...(c.from !== undefined ? { $gte: c.from } : {}),
          ...(c.to !== undefined ? { $lt: c.to } : {})
        }
      }
      const docs = await collection.find(filter as Filter<ArchiveRecord>, { projection: PROJECTION })
        .sort({ occurred_at: -1, token: -1, kind: 1 })
        .limit(c.limit)
        .toArray()
      return docs.map(toStored)
    },

    async purgeExpired (now: Date = new Date()) {
      guard.assertOpen()
      const cutoff = retentionCutoff(now, retentionDays)
      const result = await collection.deleteMany({ occurred_at: { $lt: cutoff } })
      return result.deletedCount
    },

    async ping () {
      guard.assertOpen()
      const started = performance.now()
      await opts.db.command({ ping: 1 })
      return performance.now() - started
    },

    async close () {
      guard.close()
    }
  }
}
