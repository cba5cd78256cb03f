/** PostgreSQL type oid of int8 (`bigint`). */
const INT8_OID = 20

/**
 * Reads an int8 value as a JS number, refusing any value a double cannot hold exactly.
 * Money is integer minor units in `bigint` columns; a silently rounded amount is worse than an
 * error, and a JS `bigint` would leak into every caller's arithmetic and JSON.
 */
export function parseSafeInteger (text: string): number {
  const value = Number(text)
  if (!Number.isSafeInteger(value)) {
    throw new RangeError(`int8 value ${text} is outside the safe integer range`)
  }
  return value
}

/** Serializes a number or bigint parameter sent as int8, with the same range check. */
export function serializeSafeInteger (value: unknown): string {
  if (typeof value === 'bigint') return value.toString()
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value)
  if (typeof value === 'string' && /^-?\d+$/.test(value)) return value
  throw new RangeError('int8 parameter must be a safe integer')
}

/**
 * porsager `types` for every client this package creates: int8 (and, through porsager's array
 * type fetching, int8[]) parse to checked safe integers. `numeric` is untouched and stays a
 * string, so exact decimals never pass through floating point.
 */
export const pgTypes = {
  bigint: {
    to: INT8_OID,
    from: [INT8_OID],
    parse: parseSafeInteger,
    serialize: serializeSafeInteger
  }
}
