import { maskCardNumbers } from './mask.js'
import type { ArchiveDocument, ArchiveQuery, StoredDocument } from './types.js'

export const DEFAULT_RETENTION_DAYS = 400
export const DEFAULT_QUERY_LIMIT = 100
export const MAX_QUERY_LIMIT = 1000
const DAY_MS = 24 * 60 * 60 * 1000

/** A document checked and masked, optional fields as null: what both stores write (a stored document before it has its archiving time). */
export type PreparedDocument = Omit<StoredDocument, 'kind' | 'archived_at'> & { kind: string }

function optionalString (doc: ArchiveDocument, field: 'family' | 'type' | 'user_token' | 'card_token'): string | null {
  const value = doc[field]
  if (value === undefined || value === null) return null
  if (typeof value !== 'string') throw new TypeError(`archive document ${field} must be a string or null`)
  return value
}

function isValidDate (value: unknown): value is Date {
  return value instanceof Date && !Number.isNaN(value.getTime())
}

/** Validates a document and masks card numbers everywhere in it (tokens included). */
export function prepareDocument (doc: ArchiveDocument): PreparedDocument {
  if (typeof doc !== 'object' || doc === null) throw new TypeError('archive document must be an object')
  if (typeof doc.token !== 'string' || doc.token === '') throw new TypeError('archive document token must be a non-empty string')
  if (typeof doc.kind !== 'string' || doc.kind === '') throw new TypeError('archive document kind must be a non-empty string')
  if (!isValidDate(doc.occurred_at)) throw new TypeError('archive document occurred_at must be a valid Date')
  if (typeof doc.body !== 'object' || doc.body === null || Array.isArray(doc.body)) {
    throw new TypeError('archive document body must be an object')
  }
  return maskCardNumbers({
    kind: doc.kind,
    token: doc.token,
    family: optionalString(doc, 'family'),
    type: optionalString(doc, 'type'),
    user_token: optionalString(doc, 'user_token'),
    card_token: optionalString(doc, 'card_token'),
    occurred_at: doc.occurred_at,
    body: doc.body
  })
}

/** Prepares a batch and keeps the first of each (kind, token), as a store of each in turn would. */
export function prepareBatch (docs: ArchiveDocument[]): PreparedDocument[] {
  if (!Array.isArray(docs)) throw new TypeError('storeMany takes an array of documents')
  const seen = new Set<string>()
  const out: PreparedDocument[] = []
  for (const doc of docs) {
    const prepared = prepareDocument(doc)
    const key = JSON.stringify([prepared.kind, prepared.token])
    if (seen.has(key)) continue
    seen.add(key)
    out.push(prepared)
  }
  return out
}

export interface CheckedQuery {
  token?: string
  kind?: string
  user_token?: string
  card_token?: string
  from?: Date
  to?: Date
  limit: number
}

/** Validates a query and resolves the limit (absent: 100; above 1000: 1000). */
export function checkQuery (q: ArchiveQuery): CheckedQuery {
  const limit = q.limit ?? DEFAULT_QUERY_LIMIT
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`query limit must be a positive integer, got ${limit}`)
  for (const field of ['token', 'kind', 'user_token', 'card_token'] as const) {
    if (q[field] !== undefined && typeof q[field] !== 'string') throw new TypeError(`query ${field} must be a string`)
  }
  for (const field of ['from', 'to'] as const) {
    if (q[field] !== undefined && !isValidDate(q[field])) throw new TypeError(`query ${field} must be a valid Date`)
  }
  return { ...q, limit: Math.min(limit, MAX_QUERY_LIMIT) }
}

export function checkRetentionDays (days: number | undefined): number {
  const value = days ?? DEFAULT_RETENTION_DAYS
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new RangeError(`retentionDays must be a positive number, got ${value}`)
  }
  return value
}

/** Documents that occurred before this instant are expired. */
export function retentionCutoff (now: Date, retentionDays: number): Date {
  if (!isValidDate(now)) throw new TypeError('purgeExpired now must be a valid Date')
  return new Date(now.getTime() - retentionDays * DAY_MS)
}

/** Guards every call of a closed archive: a use after shutdown is a bug worth a clear error. */
export function createCloseGuard (): { assertOpen: () => void, close: () => void } {
  let closed = false
  return {
    assertOpen () {
      if (closed) throw new Error('document archive is closed')
    },
    close () { closed = true }
  }
}
