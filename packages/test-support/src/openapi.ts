/** The part of a tap `Test` this check needs. */
export interface SameAssertion {
  same: (found: unknown, wanted: unknown, message: string) => unknown
}

type Operation = { tags?: string[], security?: unknown, responses?: Record<string, { content?: Record<string, unknown> }> }
type Document = { paths?: Record<string, { get?: Operation }> }

const OPS_PATHS = ['/health', '/ready', '/metrics', '/openapi.json']

/**
 * Every service documents the same ops routes (from @jit/connections and @jit/api-docs): tagged
 * `ops`, without credentials, `/metrics` as text. One assertion, the same in each service.
 */
export function assertOpsRoutesDocumented (t: SameAssertion, document: unknown): void {
  const paths = (document as Document).paths ?? {}
  const found = Object.fromEntries(OPS_PATHS.map(path => {
    const op = paths[path]?.get
    return [path, op === undefined ? 'missing' : { tags: op.tags, secured: op.security !== undefined }]
  }))
  const wanted = Object.fromEntries(OPS_PATHS.map(path => [path, { tags: ['ops'], secured: false }]))
  t.same(found, wanted, 'the ops routes are documented, tagged ops, without credentials')
  const metrics = paths['/metrics']?.get?.responses?.['200']?.content ?? {}
  t.same(Object.keys(metrics), ['text/plain'], '/metrics answers text')
}

/** The part of a tap `Test` {@link assertOpenApiServed} needs. */
export interface ServedAssertion extends SameAssertion {
  equal: (found: unknown, wanted: unknown, message: string) => unknown
  match: (found: unknown, pattern: unknown, message: string) => unknown
}

/** The part of a Fastify app it needs: `inject`. */
export interface Injectable {
  inject: (request: { method: 'GET' | 'POST', url: string, payload?: unknown }) => PromiseLike<{ statusCode: number, headers: Record<string, unknown>, json: () => unknown }>
}

/**
 * `GET /openapi.json` serves the app's document without credentials, while `protectedRequest`
 * (the service's authenticated route, sent without credentials) is still refused with a 401.
 */
export async function assertOpenApiServed (t: ServedAssertion, app: Injectable, document: unknown, protectedRequest: { method: 'GET' | 'POST', url: string, payload?: unknown }): Promise<void> {
  const res = await app.inject({ method: 'GET', url: '/openapi.json' })
  t.equal(res.statusCode, 200, '/openapi.json needs no credentials')
  t.match(res.headers['content-type'], /^application\/json/, 'served as JSON')
  t.same(res.json(), document, 'the document served is the one generated')
  const refused = await app.inject(protectedRequest)
  t.equal(refused.statusCode, 401, `${protectedRequest.method} ${protectedRequest.url} still needs credentials`)
}

type DocumentHead = { openapi?: unknown, info?: { title?: unknown, version?: unknown, description?: unknown }, components?: { securitySchemes?: { basicAuth?: { type?: unknown, scheme?: unknown } } } }

/**
 * What every service's document says the same way: the committed `docs/openapi/<service>.json`
 * is what the app generates (else: run `pnpm run docs` at the root and commit it), OpenAPI 3.1,
 * titled by the service, and the API under HTTP Basic.
 */
export function assertOpenApiDocument (t: SameAssertion, service: string, generated: unknown, committed: unknown): void {
  t.same(committed, generated, `docs/openapi/${service}.json matches the app; if not, run \`pnpm run docs\` at the repository root and commit the result`)
  const head = generated as DocumentHead
  const basic = head.components?.securitySchemes?.basicAuth
  t.same({ openapi: head.openapi, title: head.info?.title, described: typeof head.info?.description === 'string', basic: { type: basic?.type, scheme: basic?.scheme } },
    { openapi: '3.1.0', title: service, described: true, basic: { type: 'http', scheme: 'basic' } }, 'OpenAPI 3.1, titled by the service, its API under HTTP Basic')
}

/** The part of a tap `Test` {@link openApiDocumentTests} needs: subtests. */
export interface SubtestRunner {
  test: (name: string, fn: (t: ServedAssertion) => Promise<void>) => unknown
}

/**
 * The checks every service's OpenAPI document passes, as three subtests of `t`: the committed
 * `docs/openapi/<service>.json` is what the app generates ({@link assertOpenApiDocument}), the ops
 * routes are documented without auth, and `/openapi.json` is served while `protectedRequest`
 * still needs credentials ({@link assertOpenApiServed}). The service's file adds its own routes.
 */
export function openApiDocumentTests (t: SubtestRunner, opts: { service: string, app: Injectable, generated: unknown, committed: unknown, protectedRequest: { method: 'GET' | 'POST', url: string, payload?: unknown } }): void {
  t.test(`docs/openapi/${opts.service}.json is what the route schemas generate (run \`pnpm run docs\` after a change)`, async t => {
    assertOpenApiDocument(t, opts.service, opts.generated, opts.committed)
  })
  t.test('the ops routes are documented without auth', async t => {
    assertOpsRoutesDocumented(t, opts.generated)
  })
  t.test('GET /openapi.json serves the document without credentials', async t => {
    await assertOpenApiServed(t, opts.app, opts.generated, opts.protectedRequest)
  })
}

/**
 * One operation of a service's API in its document: there, answering exactly `responses`, under
 * Basic auth, tagged `tag`. Returns the operation (undefined when missing) for the service's own
 * checks of it.
 */
export function assertApiOperation (t: SameAssertion, document: unknown, method: 'get' | 'post', path: string, wanted: { responses: string[], tag: string }): Record<string, any> | undefined {
  const op = ((document as { paths?: Record<string, Record<string, Record<string, any> | undefined>> }).paths ?? {})[path]?.[method]
  const found = op === undefined ? 'missing' : { responses: Object.keys(op.responses ?? {}).sort(), security: op.security, tags: op.tags }
  t.same(found, { responses: [...wanted.responses].sort(), security: [{ basicAuth: [] }], tags: [wanted.tag] },
    `${method.toUpperCase()} ${path} is documented, answering ${wanted.responses.join(', ')}, under Basic auth, tagged ${wanted.tag}`)
  return op
}
