import { readFileSync } from 'node:fs'
import type { FastifyPluginAsync } from 'fastify'
import fp from 'fastify-plugin'
import swagger, { type SwaggerTransform } from '@fastify/swagger'

/** How a route reads in the document, beyond what its own schemas say. */
export interface RouteDoc {
  summary: string
  description?: string
  /** The documented request body, when the validated one is deliberately looser. */
  body?: unknown
  /** Response descriptions by status code. */
  responses?: Record<string, string>
  /** Media types of the answers (default application/json). */
  produces?: string[]
  /** Descriptions of request headers by (lower-case) name. */
  headers?: Record<string, string>
}

export interface ApiDocsOptions {
  /** `info.title`: the service name. */
  title: string
  description: string
  /** `info.version`. @default {@link RELEASE_VERSION} */
  version?: string
  /** The tag of the authenticated API under /v1/ (the other routes are tagged `ops`). */
  apiTag: { name: string, description: string }
  /** What the Basic credentials are (which variables). */
  basicAuthDescription: string
  /** The `WWW-Authenticate` value the API answers 401 with. */
  wwwAuthenticate: string
  /** Docs by `METHOD /url` (e.g. `POST /v1/jit-funding`). */
  routes: Record<string, RouteDoc>
}

/**
 * The release version (CHANGELOG.md): every workspace package carries it, this one too
 * (`tests/docs/test/release.test.ts`), so it is read from this package's own manifest, which
 * sits one level above `src/` and `dist/` and ships with the package.
 */
export const RELEASE_VERSION: string = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version

/** Where the document is served. */
export const OPENAPI_PATH = '/openapi.json'

/**
 * How the ops routes every service serves (`opsRoutes` of @jit/connections, and this document)
 * read in the document; only what readiness checks differs per service.
 */
export function opsRouteDocs (ready: { up: string, down: string }): Record<string, RouteDoc> {
  return {
    'GET /health': { summary: 'Liveness', responses: { 200: 'The process is up (touches no dependency)' } },
    'GET /ready': { summary: 'Readiness', responses: { 200: ready.up, 503: ready.down } },
    'GET /metrics': { summary: 'Prometheus metrics', produces: ['text/plain'], responses: { 200: 'Prometheus text exposition format' } },
    [`GET ${OPENAPI_PATH}`]: { summary: 'This OpenAPI document', responses: { 200: 'The OpenAPI 3.1 document of this service' } }
  }
}

const BASIC_AUTH = [{ basicAuth: [] }]

/**
 * Adds the route docs to each route's schema for the document only (validation and serialization
 * keep the route's own schema). Routes under /v1/ are the authenticated API; the rest are the
 * unauthenticated ops routes.
 */
function transformFor (opts: ApiDocsOptions): SwaggerTransform {
  return ({ schema, url, route }) => {
    const method = Array.isArray(route.method) ? route.method.join(',') : route.method
    const doc = opts.routes[`${method} ${url}`]
    const secured = url.startsWith('/v1/')
    const out: Record<string, unknown> = { ...schema, tags: schema?.tags ?? [secured ? opts.apiTag.name : 'ops'] }
    if (doc !== undefined) {
      out.summary = schema?.summary ?? doc.summary
      if (schema?.description === undefined && doc.description !== undefined) out.description = doc.description
      if (doc.body !== undefined) out.body = doc.body
      if (doc.produces !== undefined) out.produces = doc.produces
    }
    if (secured) out.security = BASIC_AUTH
    const headers = schema?.headers as { properties?: Record<string, object> } | undefined
    if (headers?.properties !== undefined) {
      const properties: Record<string, object> = {}
      for (const [name, s] of Object.entries(headers.properties)) {
        // the security scheme documents Authorization; OpenAPI ignores it as a header parameter
        if (secured && name === 'authorization') continue
        const text = doc?.headers?.[name]
        properties[name] = text === undefined ? s : { ...s, description: text }
      }
      out.headers = { ...headers, properties }
    }
    const responses = schema?.response as Record<string, object> | undefined
    if (responses !== undefined) {
      out.response = Object.fromEntries(Object.entries(responses).map(([status, s]) => {
        const extra: Record<string, unknown> = {}
        const text = doc?.responses?.[status]
        if (text !== undefined) extra['x-response-description'] = text
        if (secured && status === '401') extra.headers = { 'WWW-Authenticate': { type: 'string', description: opts.wwwAuthenticate } }
        if (secured && status === '503') extra.headers = { 'Retry-After': { type: 'string', description: 'Seconds' } }
        return [status, { ...s, ...extra }]
      }))
    }
    return { schema: out, url }
  }
}

/**
 * The app's OpenAPI 3.1 document, generated from its route schemas and served (no auth) on
 * {@link OPENAPI_PATH}. Register it before any route, so every route is in the document.
 */
export const apiDocs = fp<ApiDocsOptions>(async (app, opts) => {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: opts.title, version: opts.version ?? RELEASE_VERSION, description: opts.description },
      tags: [opts.apiTag, { name: 'ops', description: 'Health, readiness, metrics and this document (no auth)' }],
      components: { securitySchemes: { basicAuth: { type: 'http', scheme: 'basic', description: opts.basicAuthDescription } } }
    },
    // 3.1 takes JSON Schema as is: the document shows exactly the schemas the routes validate with
    convertConstToEnum: false,
    transform: transformFor(opts)
  })
  app.get(OPENAPI_PATH, {
    schema: { response: { 200: { type: 'object', additionalProperties: true } } }
  }, async () => app.swagger())
}, { name: '@jit/api-docs', fastify: '5.x' }) as FastifyPluginAsync<ApiDocsOptions>
export { committedDocument, generatedDocument, openApiDocumentPath, writeOpenApiDocument } from './document.js'
