import { Kind, OptionalKind, type Static, type TObject, type TSchema } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import { basicAuthPasswordWeakness, isPlaceholderSecret, parseBasicAuth } from './secrets.js'
import { parseMccDays } from './mcc-days.js'

/** One variable that stopped the configuration from loading, and why. */
export interface ConfigProblem {
  variable: string
  message: string
}

/**
 * Thrown by `loadConfig` when the environment does not satisfy the schema. Every problem is
 * collected first, so one boot attempt reports all of them; secret values are never quoted.
 */
export class ConfigError extends Error {
  readonly problems: ConfigProblem[]

  constructor (problems: ConfigProblem[]) {
    const lines = problems.map(p => `  - ${p.variable}: ${p.message}`)
    super(`Invalid configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${lines.join('\n')}`)
    this.name = 'ConfigError'
    this.problems = problems
  }
}

/** The environment shape `loadConfig` reads: `process.env`, or the result of `readEnvFile`. */
export type Environment = Record<string, string | undefined>

type Converted = { ok: true, value: unknown } | { ok: false, message: string }

const INTEGER = /^-?\d+$/
const NUMBER = /^-?\d+(?:\.\d+)?$/

function enumValues (schema: TSchema): string[] | undefined {
  if (schema[Kind] === 'Literal' && typeof schema.const === 'string') return [schema.const]
  if (schema[Kind] !== 'Union' || !Array.isArray(schema.anyOf)) return undefined
  const values: string[] = []
  for (const member of schema.anyOf as TSchema[]) {
    if (member[Kind] !== 'Literal' || typeof member.const !== 'string') return undefined
    values.push(member.const)
  }
  return values
}

/** Turns the raw string into the schema's type; values of non-secret scalars are quoted in errors. */
function convert (schema: TSchema, raw: string): Converted {
  const choices = enumValues(schema)
  if (choices !== undefined) {
    return choices.includes(raw)
      ? { ok: true, value: raw }
      : { ok: false, message: `must be one of ${choices.join(', ')} (got '${raw}')` }
  }
  switch (schema[Kind]) {
    case 'Integer': {
      const value = Number(raw)
      return INTEGER.test(raw) && Number.isSafeInteger(value)
        ? { ok: true, value }
        : { ok: false, message: `must be an integer (got '${raw}')` }
    }
    case 'Number':
      return NUMBER.test(raw) ? { ok: true, value: Number(raw) } : { ok: false, message: `must be a number (got '${raw}')` }
    case 'Boolean':
      if (raw === 'true' || raw === '1') return { ok: true, value: true }
      if (raw === 'false' || raw === '0') return { ok: true, value: false }
      return { ok: false, message: `must be true, false, 1 or 0 (got '${raw}')` }
    case 'String':
      return { ok: true, value: raw }
    default:
      // A schema kind an environment string cannot express is a programming error, not bad input.
      throw new TypeError(`config schema: unsupported kind ${String(schema[Kind])}`)
  }
}

function isValidTimeZone (zone: string): boolean {
  try {
    // eslint-disable-next-line no-new
    new Intl.DateTimeFormat('en-US', { timeZone: zone })
    return true
  } catch {
    return false
  }
}

/** What `parse` throws, or undefined when it accepts the value. */
function refusal (parse: () => unknown): string | undefined {
  try {
    parse()
    return undefined
  } catch (err) {
    return (err as Error).message
  }
}

/** Format checks TypeBox cannot express; secret values are never included in the message. */
function checkFormat (schema: TSchema, value: string): string | undefined {
  switch (schema.check) {
    case 'basic-auth':
      return refusal(() => parseBasicAuth(value))
    case 'mcc-days':
      return refusal(() => parseMccDays(value))
    case 'timezone':
      return isValidTimeZone(value) ? undefined : `must be an IANA time zone such as UTC or Europe/Paris (got '${value}')`
    case 'url': {
      let url: URL
      try {
        url = new URL(value)
      } catch {
        return 'must be a URL'
      }
      const protocols = (schema.protocols ?? []) as string[]
      return protocols.length === 0 || protocols.includes(url.protocol)
        ? undefined
        : `must be a URL starting with ${protocols.map(p => `${p}//`).join(' or ')}`
    }
    default:
      return undefined
  }
}

/** TypeBox's own constraint message (minimum, maximum, pattern ...), for one property. */
function constraintProblem (schema: TSchema, value: unknown): string | undefined {
  const first = Value.Errors(schema, value).First()
  if (first === undefined) return undefined
  return schema.secret === true ? first.message : `${first.message} (got '${String(value)}')`
}

function describe (schema: TSchema): string {
  return typeof schema.description === 'string' ? `: ${schema.description}` : ''
}

/**
 * Reads a configuration once from environment strings, at boot.
 *
 * Each property name of `schema` is an environment variable name. Values are converted to the
 * property's type (integer, number, boolean, string enum, string), defaults are applied, an empty
 * string counts as absent, and constraints are validated. Secrets (`Secret`, `BasicAuthSecret`)
 * holding an example placeholder, and weak Basic-auth passwords, are refused unless
 * `DEPLOY_ENV=local`. Variables not in the schema are ignored.
 *
 * @param env the environment; defaults to `process.env`. Entry points pass `readEnvFile()`.
 * @returns a frozen object typed by the schema, without the optional variables that are absent.
 * @throws ConfigError listing every offending variable.
 * @example const config = loadConfig(JitAuthorizerConfig, readEnvFile())
 */
export function loadConfig<T extends TObject> (schema: T, env: Environment = process.env): Static<T> {
  const problems: ConfigProblem[] = []
  const result: Record<string, unknown> = {}
  const properties = schema.properties as Record<string, TSchema>

  for (const [variable, property] of Object.entries(properties)) {
    const raw = env[variable]
    if (raw === undefined || raw === '') {
      if (property.default !== undefined) {
        result[variable] = property.default
      } else if (property[OptionalKind] !== 'Optional') {
        problems.push({ variable, message: `is required${describe(property)}` })
      }
      continue
    }
    const converted = convert(property, raw)
    if (!converted.ok) {
      problems.push({ variable, message: converted.message })
      continue
    }
    const message = (typeof converted.value === 'string' ? checkFormat(property, converted.value) : undefined) ??
      constraintProblem(property, converted.value)
    if (message !== undefined) {
      problems.push({ variable, message })
      continue
    }
    result[variable] = converted.value
  }

  for (const [variable, property] of Object.entries(properties)) {
    const limit = property.atMost
    if (typeof limit !== 'string') continue
    const value = result[variable]
    const max = result[limit]
    if (typeof value === 'number' && typeof max === 'number' && value > max) {
      problems.push({ variable, message: `must not exceed ${limit} (${value} > ${max})` })
    }
  }

  for (const [variable, property] of Object.entries(properties)) {
    const rule = property.sumAtMost as { with?: unknown, max?: unknown, because?: unknown } | undefined
    if (rule === undefined || typeof rule.with !== 'string' || typeof rule.max !== 'number') continue
    const value = result[variable]
    const other = result[rule.with]
    if (typeof value === 'number' && typeof other === 'number' && value + other > rule.max) {
      const because = typeof rule.because === 'string' ? `: ${rule.because}` : ''
      problems.push({ variable, message: `plus ${rule.with} must not exceed ${rule.max} (${other} + ${value} = ${other + value})${because}` })
    }
  }

  // An invalid DEPLOY_ENV was reported above; it must not relax the secret checks.
  const deployEnv = 'DEPLOY_ENV' in properties ? result.DEPLOY_ENV : (env.DEPLOY_ENV ?? 'production')
  if (deployEnv !== 'local') {
    for (const [variable, property] of Object.entries(properties)) {
      const value = result[variable]
      if (property.secret !== true || typeof value !== 'string') continue
      if (isPlaceholderSecret(value)) {
        problems.push({ variable, message: 'is an example placeholder; set a real secret (placeholders are accepted only with DEPLOY_ENV=local)' })
      } else if (property.check === 'basic-auth') {
        const weakness = basicAuthPasswordWeakness(parseBasicAuth(value).password)
        if (weakness !== undefined) {
          problems.push({ variable, message: `${weakness} with upper- and lowercase letters, digits and symbols (the processor's rule; only DEPLOY_ENV=local accepts weaker ones)` })
        }
      }
    }
  }

  if (problems.length > 0) throw new ConfigError(problems)
  return Object.freeze(result) as Static<T>
}

/** One variable of a configuration schema, as documented in `.env.example`. */
export interface ConfigVariable {
  name: string
  description: string | undefined
  default: unknown
  required: boolean
  secret: boolean
}

/** Lists a schema's variables with their defaults, for documentation and drift tests. */
export function describeConfig (schema: TObject): ConfigVariable[] {
  return Object.entries(schema.properties as Record<string, TSchema>).map(([name, property]) => ({
    name,
    description: typeof property.description === 'string' ? property.description : undefined,
    default: property.default,
    required: property.default === undefined && property[OptionalKind] !== 'Optional',
    secret: property.secret === true
  }))
}
