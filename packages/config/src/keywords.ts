import { Type, type StringOptions, type TLiteral, type TString, type TUnion, type SchemaOptions } from '@sinclair/typebox'

/**
 * Custom schema keywords that `loadConfig` reads. They are plain JSON (no functions), so the
 * schemas stay serialisable and TypeBox ignores them when it validates.
 * - `secret: true`: never echoed in errors; refused when it is an example placeholder outside
 *   `DEPLOY_ENV=local`.
 * - `check`: a format checked by this package (`basic-auth`, `mcc-days`, `timezone`, `url`).
 * - `protocols`: the URL schemes a `url` check accepts.
 * - `atMost`: the name of another variable this one must not exceed (pool min <= pool max).
 * - `sumAtMost`: `{ with, max, because }`: this variable plus `with` must not exceed `max`
 *   (decision budget + grace within the processor's timeout).
 */
export type ConfigCheck = 'basic-auth' | 'mcc-days' | 'timezone' | 'url'

/**
 * A secret string: `loadConfig` never puts its value in an error message and refuses an
 * example placeholder (see `isPlaceholderSecret`) unless `DEPLOY_ENV=local`.
 */
export function Secret (options: StringOptions = {}): TString {
  return Type.String({ ...options, secret: true })
}

/**
 * A secret `user:password` Basic-auth setting: always checked for the format; outside
 * `DEPLOY_ENV=local` the password must also meet the processor's strength rule.
 */
export function BasicAuthSecret (options: StringOptions = {}): TString {
  return Type.String({ ...options, secret: true, check: 'basic-auth' })
}

/** A string that must be one of `values`; its static type is the union of those literals. */
export function StringEnum<const V extends readonly string[]> (values: V, options: SchemaOptions = {}): TUnion<Array<TLiteral<V[number]>>> {
  return Type.Union(values.map(value => Type.Literal(value)), options)
}

/** A URL whose scheme is one of `protocols` (each with its colon, e.g. `redis:`). */
export function UrlString (protocols: readonly string[], options: StringOptions = {}): TString {
  return Type.String({ ...options, check: 'url', protocols: [...protocols] })
}
