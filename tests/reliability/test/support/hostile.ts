import fc from 'fast-check'

// Generators of hostile input for the fuzz suite: values a field should never hold, bodies that
// are not what they claim, and the transport-level oddities around them. Each case is a plain
// description; the test turns it into bytes, headers and an expected "no effect".

/**
 * A card number (Luhn-valid test PAN): hostile input carries it in a `pan` field, where a careless
 * log of the body would show it; no log line may. (Not as a token: tokens are identifiers, logged
 * on purpose.)
 */
export const TEST_PAN = '4111111111111111'

/** Values that are wrong for a money field, a token or a flag, and are each a classic bug. */
const SPECIAL = [
  null, true, false, 0, -0, -1, -42.5, 1e308, -1e308, 1e21, 2 ** 53 + 2, 0.001, 12.345, 0.1 + 0.2,
  '', ' ', '0', '-1', '-0.01', '1.001', '42.505', '1e3', '1E-2', '0x10', 'NaN', 'Infinity', '-Infinity',
  '99999999999999999999999.99', '00042.50', '+5', ' 5', '5 ', '5,00', '١٢٣', '１２', '4.', '.5',
  '\u0000', 'a\u0000b', '\ud800', '\udfff', 'x\ud83d', '💳', '\u202e', '\ufeff', 'null', 'true', '[]', '{}',
  'Robert\'); DROP TABLE holds;--', '$' + '{jndi:ldap://x}', '%s%s%n', '../../etc/passwd',
  [], {}, [1, 2], { amount: 1 }, { $gt: '' }, { __proto__: { polluted: true } }, { constructor: { prototype: { polluted: true } } }
] as const

/** One hostile value for any field. */
export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...SPECIAL) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', minLength: 37, maxLength: 300 }) },
  { weight: 1, arbitrary: fc.integer() },
  { weight: 1, arbitrary: fc.double({ noNaN: true }) },
  { weight: 1, arbitrary: fc.bigInt({ min: -(2n ** 80n), max: 2n ** 80n }).map(n => `${n}.${String(n % 100n).replace('-', '').padStart(2, '0')}`) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) }
)

/** How a case's body is damaged beyond one field's value. */
export type BodyDamage =
  | { kind: 'field', path: string[], value: unknown }
  | { kind: 'delete', path: string[] }
  | { kind: 'duplicate-key', path: string[], value: unknown, firstValid: boolean }
  | { kind: 'truncate', fraction: number }
  | { kind: 'deep', depth: number, asArray: boolean }
  | { kind: 'root', value: unknown }
  | { kind: 'bytes', bytes: Uint8Array }
  | { kind: 'none' }

/** A transport oddity: the content type, and whether the body is oversized. */
export interface Transport {
  contentType: string | null
  oversized: boolean
}

export function bodyDamage (paths: string[][]): fc.Arbitrary<BodyDamage> {
  const path = fc.constantFrom(...paths)
  return fc.oneof(
    { weight: 6, arbitrary: fc.record({ kind: fc.constant('field' as const), path, value: hostileValue }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('delete' as const), path }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('duplicate-key' as const), path, value: hostileValue, firstValid: fc.boolean() }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('truncate' as const), fraction: fc.double({ min: 0, max: 0.999, noNaN: true }) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('deep' as const), depth: fc.constantFrom(64, 1000, 20_000), asArray: fc.boolean() }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('root' as const), value: hostileValue }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('bytes' as const), bytes: fc.uint8Array({ maxLength: 200 }) }) },
    { weight: 1, arbitrary: fc.constant({ kind: 'none' as const }) }
  )
}

export const transport: fc.Arbitrary<Transport> = fc.record({
  contentType: fc.oneof(
    { weight: 8, arbitrary: fc.constant('application/json') },
    { weight: 1, arbitrary: fc.constantFrom(null, 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/json; charset=utf-16', 'application/xml', 'application/json\u0000', '*/*', 'application/vnd.api+json') }
  ),
  oversized: fc.boolean().chain(b => b ? fc.constantFrom(true, false, false, false, false, false, false, false, false, false) : fc.constant(false))
})

function setAt (obj: Record<string, unknown>, path: string[], value: unknown, remove = false): void {
  let node: Record<string, unknown> = obj
  for (const key of path.slice(0, -1)) {
    const next = node[key]
    if (typeof next !== 'object' || next === null) node[key] = {}
    node = node[key] as Record<string, unknown>
  }
  const last = path[path.length - 1]
  if (last === undefined) return
  if (remove) Reflect.deleteProperty(node, last)
  else node[last] = value
}

function nested (depth: number, asArray: boolean): string {
  return asArray ? '['.repeat(depth) + ']'.repeat(depth) : '{"a":'.repeat(depth) + '1' + '}'.repeat(depth)
}

/** Serialises a JSON value whose strings may hold lone surrogates and NUL, as a sender would. */
function stringify (value: unknown): string {
  return JSON.stringify(value) ?? 'null'
}

/**
 * The bytes of a damaged body, built from a valid one. A duplicated key is written twice
 * textually (JSON.parse keeps the last); truncation cuts the valid text.
 */
export function damagedBody (valid: Record<string, unknown>, damage: BodyDamage): Buffer {
  const copy = structuredClone(valid)
  switch (damage.kind) {
    case 'none':
      return Buffer.from(stringify(copy))
    case 'field':
      setAt(copy, damage.path, damage.value)
      return Buffer.from(stringify(copy))
    case 'delete':
      setAt(copy, damage.path, undefined, true)
      return Buffer.from(stringify(copy))
    case 'duplicate-key': {
      const marker = '__rel_dup__'
      setAt(copy, damage.path, marker)
      const key = damage.path[damage.path.length - 1] ?? 'x'
      const validValue = damage.path.reduce<unknown>((node, k) => (node as Record<string, unknown> | undefined)?.[k], valid)
      const [first, second] = damage.firstValid ? [validValue, damage.value] : [damage.value, validValue]
      return Buffer.from(stringify(copy).replace(`"${marker}"`, `${stringify(first)},${JSON.stringify(key)}:${stringify(second)}`))
    }
    case 'truncate': {
      const text = stringify(copy)
      return Buffer.from(text.slice(0, Math.floor(text.length * damage.fraction)))
    }
    case 'deep': {
      const hole = '__rel_deep__'
      setAt(copy, ['memo'], hole)
      return Buffer.from(stringify(copy).replace(`"${hole}"`, nested(damage.depth, damage.asArray)))
    }
    case 'root':
      return Buffer.from(stringify(damage.value))
    case 'bytes':
      return Buffer.from(damage.bytes)
  }
}

/** Pads a body past `limit` bytes with trailing white space (still valid JSON when it was). */
export function oversize (body: Buffer, limit: number): Buffer {
  return Buffer.concat([body, Buffer.alloc(limit + 1 - Math.min(body.length, limit), 0x20)])
}

/** Runs `fn` over `items` with at most `concurrency` at once. */
export async function inParallel<T> (items: T[], concurrency: number, fn: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < items.length) {
      const i = next++
      await fn(items[i] as T, i)
    }
  }))
}
