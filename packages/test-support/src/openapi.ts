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
