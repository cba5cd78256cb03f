import t from 'tap'
import { assertApiOperation } from '../src/index.js'

// Records what the assertion compared instead of failing this test, to see both verdicts.
function recorder () {
  const calls: Array<{ found: unknown, wanted: unknown }> = []
  return { calls, same: (found: unknown, wanted: unknown) => { calls.push({ found, wanted }) } }
}

const document = {
  paths: {
    '/v1/things/{token}': {
      get: { tags: ['things'], security: [{ basicAuth: [] }], responses: { 404: {}, 200: {}, 401: {} } }
    }
  }
}

t.test('assertApiOperation passes an operation answering what is wanted, under Basic auth, and returns it', async t => {
  const r = recorder()
  const op = assertApiOperation(r, document, 'get', '/v1/things/{token}', { responses: ['200', '401', '404'], tag: 'things' })
  t.equal(op, document.paths['/v1/things/{token}'].get)
  t.same(r.calls[0]?.found, r.calls[0]?.wanted)
})

t.test('assertApiOperation fails a missing operation, another answer or no auth', async t => {
  for (const [method, path, responses] of [['post', '/v1/things/{token}', ['200', '401', '404']], ['get', '/v1/nothing', ['200']], ['get', '/v1/things/{token}', ['200', '401']]] as const) {
    const r = recorder()
    assertApiOperation(r, document, method, path, { responses: [...responses], tag: 'things' })
    t.notSame(r.calls[0]?.found, r.calls[0]?.wanted, `${method} ${path} ${responses.join(',')}`)
  }
  const r = recorder()
  assertApiOperation(r, { paths: { '/x': { get: { tags: ['things'], responses: { 200: {} } } } } }, 'get', '/x', { responses: ['200'], tag: 'things' })
  t.notSame(r.calls[0]?.found, r.calls[0]?.wanted, 'no security scheme')
})
