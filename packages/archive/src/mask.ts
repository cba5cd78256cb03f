/**
 * Card number (PAN) masking applied to everything before it is archived (PCI DSS: a stored PAN
 * shows at most the first 6 and last 4 digits).
 */

/** Field names whose value is a card number whatever it looks like (compared without `_`/`-`, case-insensitively). */
const PAN_FIELDS = new Set(['pan', 'cardnumber', 'primaryaccountnumber'])

/**
 * Digit groups joined by spaces or dashes (`4111 1111-1111 1111`, `4111 - 1111 ...`). Candidates are formed
 * from whole groups only, so a PAN written next to another number is still found.
 */
const DIGIT_SEQUENCE = /\d+(?:[ -]{1,3}\d+)*/g
/** Capturing, so a split keeps the separators: groups at even indexes, separators at odd ones. */
const GROUP_SEPARATOR = /([ -]{1,3})/

/** UUIDs are tokens, never card numbers, even when every hex digit happens to be a decimal one. */
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi

function luhnValid (digits: string): boolean {
  let sum = 0
  let double = false
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48
    if (double) {
      d *= 2
      if (d > 9) d -= 9
    }
    sum += d
    double = !double
  }
  return sum % 10 === 0
}

function maskDigits (digits: string): string {
  return digits.slice(0, 6) + '*'.repeat(digits.length - 10) + digits.slice(-4)
}

/** Masks every Luhn-valid 13-19 digit run of one separator-joined digit sequence. */
function maskSequence (sequence: string): string {
  const parts = sequence.split(GROUP_SEPARATOR)
  const groups = parts.filter((_, index) => index % 2 === 0)
  const separators = parts.filter((_, index) => index % 2 === 1)
  const out: string[] = []
  let i = 0
  while (i < groups.length) {
    // Longest Luhn-valid run of whole groups starting at group i.
    let matchEnd = -1
    let digits = ''
    for (let j = i; j < groups.length; j++) {
      digits += groups[j] as string
      if (digits.length > 19) break
      if (digits.length >= 13 && luhnValid(digits)) matchEnd = j
    }
    if (matchEnd >= 0) {
      out.push(maskDigits(groups.slice(i, matchEnd + 1).join('')))
      if (matchEnd + 1 < groups.length) out.push(separators[matchEnd] as string)
      i = matchEnd + 1
    } else {
      out.push(groups[i] as string)
      if (i + 1 < groups.length) out.push(separators[i] as string)
      i++
    }
  }
  return out.join('')
}

function maskFreeText (text: string): string {
  return text.replace(DIGIT_SEQUENCE, sequence => sequence.length < 13 ? sequence : maskSequence(sequence))
}

/**
 * Whether `value` holds a digit sequence of {@link DIGIT_SEQUENCE}'s shape (groups joined by 1-3
 * spaces or dashes) with at least 13 digits: the only place a card number can be. One pass over
 * the characters, no regular expression: most strings of an event (dates, tokens, names,
 * amounts) have no such run and are returned untouched.
 */
function mayHoldCardNumber (value: string): boolean {
  let digits = 0
  let separators = 0
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i)
    if (c >= 48 && c <= 57) {
      if (++digits >= 13) return true
      separators = 0
    } else if ((c === 32 || c === 45) && digits > 0 && separators < 3) {
      separators++
    } else {
      digits = 0
      separators = 0
    }
  }
  return false
}

/** Masks card numbers inside any string, leaving UUIDs alone. */
function maskString (value: string): string {
  if (!mayHoldCardNumber(value)) return value
  let out = ''
  let last = 0
  for (const match of value.matchAll(UUID)) {
    const start = match.index
    out += maskFreeText(value.slice(last, start)) + match[0]
    last = start + match[0].length
  }
  return out + maskFreeText(value.slice(last))
}

/**
 * The value of a field named like a PAN: first 6 and last 4 characters kept, the rest starred,
 * whatever the digits (a test PAN fails Luhn on purpose sometimes). Already masked values keep
 * their shape, so masking twice changes nothing.
 */
function maskPanField (value: unknown, seen: Map<object, unknown>): unknown {
  if (typeof value === 'number' || typeof value === 'bigint') value = String(value)
  if (typeof value !== 'string') return copyMasked(value, seen)
  const compact = value.replace(/[ -]+/g, '')
  if (compact.length >= 13) return compact.slice(0, 6) + '*'.repeat(compact.length - 10) + compact.slice(-4)
  return '*'.repeat(compact.length)
}

/** Answers of {@link isPanField} per field name: the same few dozen names recur in every event. */
const panFieldNames = new Map<string, boolean>()
const PAN_FIELD_MEMO_MAX = 10_000

function isPanField (name: string): boolean {
  let pan = panFieldNames.get(name)
  if (pan === undefined) {
    pan = PAN_FIELDS.has(name.replace(/[_-]/g, '').toLowerCase())
    // names come from outside: a flood of distinct ones must not grow the memo without bound
    if (panFieldNames.size >= PAN_FIELD_MEMO_MAX) panFieldNames.clear()
    panFieldNames.set(name, pan)
  }
  return pan
}

/**
 * An integer that is a card number (13-19 digits, Luhn-valid) becomes a masked string: a PAN
 * sent as a JSON number must not slip through. No amount in minor units comes near 13 digits.
 */
function maskNumber (value: number | bigint): number | bigint | string {
  // below 10^12 an integer has at most 12 digits: every amount, at no cost
  if (typeof value === 'number' && (!Number.isInteger(value) || Math.abs(value) < 1e12)) return value
  const digits = String(value)
  if (digits.length >= 13 && digits.length <= 19 && /^\d+$/.test(digits) && luhnValid(digits)) return maskDigits(digits)
  return value
}

function copyMasked (value: unknown, seen: Map<object, unknown>): unknown {
  if (typeof value === 'string') return maskString(value)
  if (typeof value === 'number' || typeof value === 'bigint') return maskNumber(value)
  if (typeof value !== 'object' || value === null) return value
  const known = seen.get(value)
  if (known !== undefined) return known
  // the common case first (parsed JSON): plain objects and arrays
  const proto: unknown = Object.getPrototypeOf(value)
  if (proto === Object.prototype || proto === null) return copyFields(value as Record<string, unknown>, seen)
  if (Array.isArray(value)) {
    const out: unknown[] = []
    seen.set(value, out)
    for (const item of value) out.push(copyMasked(item, seen))
    return out
  }
  if (value instanceof Date) return new Date(value.getTime())
  // Binary values hold no text to mask; copied so the result shares nothing with the input.
  if (value instanceof ArrayBuffer) return value.slice(0)
  if (Buffer.isBuffer(value)) return Buffer.from(value)
  if (value instanceof DataView) return new DataView(value.buffer.slice(value.byteOffset, value.byteOffset + value.byteLength))
  if (ArrayBuffer.isView(value)) return (value as unknown as Uint8Array).slice()
  if (value instanceof Map) {
    const out = new Map<unknown, unknown>()
    seen.set(value, out)
    for (const [k, v] of value) {
      out.set(k, typeof k === 'string' && isPanField(k) ? maskPanField(v, seen) : copyMasked(v, seen))
    }
    return out
  }
  if (value instanceof Set) {
    const out = new Set<unknown>()
    seen.set(value, out)
    for (const v of value) out.add(copyMasked(v, seen))
    return out
  }
  // Any other object flattened to its own enumerable fields (what JSON and BSON serialization
  // would keep anyway).
  return copyFields(value as Record<string, unknown>, seen)
}

function copyFields (value: Record<string, unknown>, seen: Map<object, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  seen.set(value, out)
  for (const k of Object.keys(value)) {
    const v = value[k]
    out[k] = isPanField(k) ? maskPanField(v, seen) : copyMasked(v, seen)
  }
  return out
}

/**
 * Returns a deep copy of `value` with every card number masked to its first 6 and last 4 digits
 * (`4111 1111 1111 1111` becomes `411111******1111`). The input is never modified.
 *
 * - In any string, in any field, nested at any depth or inside arrays: a run of 13-19 digits
 *   (spaces or dashes allowed between digit groups) that passes the Luhn check. UUIDs are
 *   left alone. Numbers are left alone (amounts) unless they are themselves a Luhn-valid
 *   13-19 digit integer, which becomes a masked string.
 * - Fields named `pan`, `card_number` or `primary_account_number` (any case, with or without
 *   `_`/`-`): always masked, whatever their digits; numbers there become masked strings.
 *
 * @example
 * ```ts
 * maskCardNumbers({ note: 'card 4111-1111-1111-1111', amount: 10.5 })
 * // { note: 'card 411111******1111', amount: 10.5 }
 * ```
 */
export function maskCardNumbers<T> (value: T): T {
  // a Map, not a WeakMap: it lives for one call, and a Map is the faster of the two
  return copyMasked(value, new Map()) as T
}
