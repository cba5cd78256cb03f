import { createHash } from 'node:crypto'

/**
 * The `message_id` of a webhook event: a UUID-shaped SHA-256 of the family and the event token.
 *
 * The processor retries a batch until it gets a 200, and a batch we answered 503 may already have
 * had some of its events confirmed. Deriving the id from what identifies the event (rather than
 * a random UUID) makes every redelivery carry the same id, so consumers deduplicate on it.
 * The version nibble is 8 (RFC 9562 "custom") and the variant bits are RFC 4122's, so the id
 * passes any UUID check without pretending to be a v4 or v5 UUID.
 *
 * @example webhookMessageId('transactions', 'txn-1') // always the same 'xxxxxxxx-xxxx-8xxx-...'
 */
export function webhookMessageId (family: string, token: string): string {
  // NUL separators: no family/token pair can collide with another by moving characters across.
  const hash = createHash('sha256').update(`webhook\u0000${family}\u0000${token}`, 'utf8').digest()
  hash[6] = ((hash[6] ?? 0) & 0x0f) | 0x80
  hash[8] = ((hash[8] ?? 0) & 0x3f) | 0x80
  const hex = hash.subarray(0, 16).toString('hex')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`
}
