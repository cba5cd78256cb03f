import { existsSync, readFileSync } from 'node:fs'
import { Ajv, type ValidateFunction } from 'ajv'
import * as ajvFormats from 'ajv-formats'

/**
 * The processor's full swagger, when `TEST_PROCESSOR_SWAGGER` names a copy of it (it is the
 * vendor's document, not ours to commit); the vendored subset of the definitions we rely on
 * otherwise (fixtures/marqeta-jit-swagger.json, checked against the full one when it is given).
 */
export const FULL_SWAGGER: string | undefined = process.env.TEST_PROCESSOR_SWAGGER === '' ? undefined : process.env.TEST_PROCESSOR_SWAGGER
// from src/ (tests) and dist/ alike
const FIXTURE = new URL('../fixtures/marqeta-jit-swagger.json', import.meta.url)

export interface Swagger { swagger: string, definitions: Record<string, unknown> }

export function loadSwagger (): { swagger: Swagger, source: string } {
  const path = FULL_SWAGGER !== undefined && existsSync(FULL_SWAGGER) ? FULL_SWAGGER : FIXTURE
  return { swagger: JSON.parse(readFileSync(path, 'utf8')) as Swagger, source: String(path) }
}

/** The vendored subset of the processor's swagger. */
export function loadFixture (): Swagger {
  return JSON.parse(readFileSync(FIXTURE, 'utf8')) as Swagger
}

/**
 * Swagger 2.0 schemas are draft-04 flavoured: `exclusiveMinimum: false` is a boolean modifier,
 * which draft-07 (ajv 8) reads as a number. Rewrite those to draft-07 form; keep the rest.
 */
function toDraft7 (node: unknown): unknown {
  if (Array.isArray(node)) return node.map(toDraft7)
  if (node === null || typeof node !== 'object') return node
  const out: Record<string, unknown> = {}
  const src = node as Record<string, unknown>
  for (const [k, v] of Object.entries(src)) {
    if ((k === 'exclusiveMinimum' || k === 'exclusiveMaximum') && typeof v === 'boolean') continue
    out[k] = toDraft7(v)
  }
  if (src.exclusiveMinimum === true && typeof src.minimum === 'number') { out.exclusiveMinimum = src.minimum; delete out.minimum }
  if (src.exclusiveMaximum === true && typeof src.maximum === 'number') { out.exclusiveMaximum = src.maximum; delete out.maximum }
  return out
}

/** An ajv 8 validator of one swagger definition, its `#/definitions/...` refs resolved. */
export function swaggerValidator (definition: string, swagger: Swagger = loadSwagger().swagger): ValidateFunction {
  const ajv = new Ajv({ strict: false, allErrors: true })
  const addFormats = (ajvFormats as unknown as { default: (a: Ajv) => Ajv }).default
  addFormats(ajv)
  const root = { definitions: toDraft7(swagger.definitions), $ref: `#/definitions/${definition}` }
  return ajv.compile(root)
}
