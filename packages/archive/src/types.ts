/** What a document records. `webhook` and `decision` are the ones the services write. */
export type ArchiveKind = 'webhook' | 'decision' | (string & {})

/** One archived event or decision, as handed to {@link DocumentArchive.store}. */
export interface ArchiveDocument {
  /** The event's or decision's token; unique per kind (the idempotency key). */
  token: string
  kind: ArchiveKind
  /** Webhook family (`transactions`, `cardtransitions`...), null for decisions. */
  family?: string | null
  /** Event type (`authorization.clearing`) or decision outcome. */
  type?: string | null
  user_token?: string | null
  card_token?: string | null
  /** When it happened at the processor (not when it was archived); retention counts from it. */
  occurred_at: Date
  /** The document itself, JSON-compatible. Card numbers are masked before storage. */
  body: Record<string, unknown>
}

/** A document as read back: optional fields are null when absent, plus the archiving time. */
export interface StoredDocument {
  token: string
  kind: ArchiveKind
  family: string | null
  type: string | null
  user_token: string | null
  card_token: string | null
  occurred_at: Date
  /** When the archive first stored it (a repeat store does not change it). */
  archived_at: Date
  body: Record<string, unknown>
}

/** Filters of {@link DocumentArchive.query}; every given field must match. */
export interface ArchiveQuery {
  token?: string
  kind?: ArchiveKind
  user_token?: string
  card_token?: string
  /** Inclusive lower bound of `occurred_at`. */
  from?: Date
  /** Exclusive upper bound of `occurred_at`. */
  to?: Date
  /**
   * Maximum number of documents returned, at most {@link MAX_QUERY_LIMIT}.
   * @default 100
   */
  limit?: number
}

/**
 * Events and decisions stored as documents, for support and audit. Not the system of record:
 * the ledger in PostgreSQL is. Two implementations with the same behaviour: MongoDB
 * ({@link createMongoArchive}) and PostgreSQL JSONB ({@link createPostgresArchive}).
 */
export interface DocumentArchive {
  /** Creates the indexes (MongoDB); nothing for PostgreSQL, whose migrations create the table. */
  init: () => Promise<void>
  /**
   * Stores one document, card numbers masked. Idempotent by (kind, token): storing a token again
   * is a no-op returning `inserted: false` (the first version is kept).
   */
  store: (doc: ArchiveDocument) => Promise<{ inserted: boolean }>
  /** Stores many at once; duplicates inside the batch or already stored are skipped, not errors. */
  storeMany: (docs: ArchiveDocument[]) => Promise<{ inserted: number }>
  /** The document with this token; with no kind, the most recent one of any kind. */
  findByToken: (token: string, kind?: ArchiveKind) => Promise<StoredDocument | null>
  /** Matching documents, newest `occurred_at` first (ties by token). */
  query: (q: ArchiveQuery) => Promise<StoredDocument[]>
  /** Deletes documents whose `occurred_at` is more than `retentionDays` before `now`; returns how many. */
  purgeExpired: (now?: Date) => Promise<number>
  /** Round trip to the store in milliseconds; rejects when it is unreachable. */
  ping: () => Promise<number>
  /**
   * Stops accepting calls. The connection (postgres `sql`, Mongo `Db`) belongs to whoever
   * created it and is not closed here: close it yourself after the archive.
   */
  close: () => Promise<void>
}
