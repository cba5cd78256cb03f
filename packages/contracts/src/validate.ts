import { FormatRegistry, type Static, type TSchema } from '@sinclair/typebox'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import type { ValueError } from '@sinclair/typebox/errors'

// RFC 3339 date-time with a mandatory zone, as the processor and our events write timestamps.
const DATE_TIME = /^\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])[Tt ](?:[01]\d|2[0-3]):[0-5]\d:(?:[0-5]\d|60)(?:\.\d+)?(?:[Zz]|[+-](?:[01]\d|2[0-3]):?[0-5]\d)$/

/**
 * Registers the string formats our schemas use in TypeBox's (process-wide) FormatRegistry.
 * TypeBox treats an unregistered format as a failed check, so without this every schema with
 * `format: 'date-time'` would reject everything. Idempotent, and it never replaces a format
 * somebody else registered.
 */
export function registerFormats (): void {
  if (!FormatRegistry.Has('date-time')) {
    FormatRegistry.Set('date-time', (value) => DATE_TIME.test(value) && !Number.isNaN(Date.parse(value.replace(' ', 'T'))))
  }
}

registerFormats()

/** One reason a value failed its schema: a JSON Pointer into the value and a message. */
export interface ValidationIssue {
  /** JSON Pointer of the offending field, e.g. `/gpa_order/jit_funding/token` (`''` = root). */
  path: string
  message: string
}

/** What a {@link Validator} returns. */
export type ValidationResult<T> =
  | { ok: true, value: T }
  | { ok: false, errors: ValidationIssue[] }

/**
 * Flattens one TypeBox error. A union's bare "Expected union value" does not name the field, so
 * it is replaced by the errors of the alternative that came closest (fewest errors): for
 * `account.credit` with both tokens, "/user_token: Unexpected property" instead of "/: union".
 */
function explain (error: ValueError, limit: number): ValidationIssue[] {
  let best: ValidationIssue[] | null = null
  const alternatives: ValidationIssue[][] = []
  for (const variant of error.errors ?? []) {
    const issues: ValidationIssue[] = []
    for (const inner of variant) {
      issues.push(...explain(inner, limit))
      if (issues.length >= limit) break
    }
    alternatives.push(issues)
    if (issues.length > 0 && (best === null || issues.length < best.length)) best = issues
  }
  // Alternatives of different types for the same field (number | string): name them all.
  if (alternatives.length > 1 && alternatives.every((a) => a.length === 1 && a[0]?.path === error.path)) {
    const kinds = alternatives.map((a) => (a[0]?.message ?? '').replace(/^Expected /, ''))
    return [{ path: error.path, message: `Expected ${kinds.join(' or ')}` }]
  }
  return best ?? [{ path: error.path, message: error.message }]
}

/** A compiled checker of one schema. */
export type Validator<T> = (value: unknown) => ValidationResult<T>

/** Options of {@link compileValidator}. */
export interface CompileValidatorOptions {
  /** How many issues to report at most (the first ones found). @default 5 */
  maxErrors?: number
}

/**
 * Compiles a TypeBox schema once into a fast checker that services use to answer 4xx naming the
 * field. The value is checked, never coerced or stripped: what passes is returned as received.
 *
 * @example
 * const check = compileValidator(AccountCreditCommand)
 * const r = check(body)
 * if (!r.ok) reply.code(400).send({ error: 'invalid', errors: r.errors })
 */
export function compileValidator<T extends TSchema> (schema: T, opts: CompileValidatorOptions = {}): Validator<Static<T>> {
  const maxErrors = opts.maxErrors ?? 5
  const compiled = TypeCompiler.Compile(schema)
  return (value) => {
    if (compiled.Check(value)) return { ok: true, value }
    const errors: ValidationIssue[] = []
    const seen = new Set<string>()
    for (const error of compiled.Errors(value)) {
      for (const issue of explain(error, maxErrors)) {
        const key = `${issue.path}\u0000${issue.message}`
        if (errors.length < maxErrors && !seen.has(key)) {
          seen.add(key)
          errors.push(issue)
        }
      }
      if (errors.length >= maxErrors) break
    }
    return { ok: false, errors }
  }
}
