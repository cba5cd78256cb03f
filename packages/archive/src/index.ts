/**
 * The document archive: processor webhooks and JIT decisions stored as documents, card numbers
 * masked, in MongoDB when configured and in PostgreSQL JSONB otherwise.
 * @packageDocumentation
 */
export type {
  ArchiveKind, ArchiveDocument, StoredDocument, ArchiveQuery, DocumentArchive
} from './types.js'
export { maskCardNumbers } from './mask.js'
export { createPostgresArchive, type PostgresArchiveOptions } from './postgres-archive.js'
export { createMongoArchive, type MongoArchiveOptions } from './mongo-archive.js'
export { archiveMigrations } from './migrations.js'
export { DEFAULT_RETENTION_DAYS, DEFAULT_QUERY_LIMIT, MAX_QUERY_LIMIT } from './common.js'
