import { Type, type SchemaOptions, type TLiteral, type TUnion } from '@sinclair/typebox'

/**
 * A union of string literals that keeps its literal type (`Type.Union(values.map(Type.Literal))`
 * alone widens to `string`). Emits `anyOf: [{ const }]`, which every JSON Schema tool reads.
 */
export function literalUnion<const T extends readonly string[]> (values: T, options?: SchemaOptions): TUnion<Array<TLiteral<T[number]>>> {
  return Type.Union(values.map((v) => Type.Literal(v)), options) as unknown as TUnion<Array<TLiteral<T[number]>>>
}

/**
 * The type guard of a closed list of string literals: one Set lookup, whatever the list's length.
 * @example
 * ```ts
 * export const isCommandType = literalGuard(COMMAND_TYPES)
 * ```
 */
export function literalGuard<const T extends readonly string[]> (values: T): (value: unknown) => value is T[number] {
  const known: ReadonlySet<unknown> = new Set(values)
  return (value: unknown): value is T[number] => typeof value === 'string' && known.has(value)
}
