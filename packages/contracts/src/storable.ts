/**
 * Text PostgreSQL cannot store: the NUL character (refused by `text` and `jsonb`) and lone UTF-16
 * surrogates (not encodable as UTF-8). Processor messages are stored and sent to SQL as they
 * come, so one such character must not turn a money event into a message that fails forever.
 */
// eslint-disable-next-line no-control-regex
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/

/** True when `value` is a string PostgreSQL could not store. */
export function isUnstorableText (value: unknown): boolean {
  return typeof value === 'string' && UNSTORABLE.test(value)
}

/**
 * A deep copy of a JSON value in which every unstorable character of every string (keys
 * included) is replaced by U+FFFD, the Unicode replacement character. Values that have none are
 * returned as they are (same reference), so the common case costs one scan.
 */
export function toStorableJson<T> (value: T): T {
  return (containsUnstorable(value) ? replaceDeep(value) : value) as T
}

const UNSTORABLE_ALL = new RegExp(UNSTORABLE.source, 'g')

function containsUnstorable (value: unknown): boolean {
  if (typeof value === 'string') return UNSTORABLE.test(value)
  if (Array.isArray(value)) return value.some(containsUnstorable)
  if (typeof value === 'object' && value !== null) {
    for (const [k, v] of Object.entries(value)) if (UNSTORABLE.test(k) || containsUnstorable(v)) return true
  }
  return false
}

function replaceDeep (value: unknown): unknown {
  if (typeof value === 'string') return value.replace(UNSTORABLE_ALL, '\ufffd')
  if (Array.isArray(value)) return value.map(replaceDeep)
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) out[k.replace(UNSTORABLE_ALL, '\ufffd')] = replaceDeep(v)
    return out
  }
  return value
}
