import t from 'tap'
import Fastify from 'fastify'
import { apiDocs, OPENAPI_PATH, RELEASE_VERSION } from '../src/index.js'

t.test('routes registered after it are documented, the API secured and tagged, ops routes open', async t => {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(apiDocs, {
    title: 'svc',
    description: 'A service',
    apiTag: { name: 'api', description: 'The API' },
    basicAuthDescription: 'SVC_BASIC_AUTH',
    wwwAuthenticate: 'Basic realm="svc"',
    routes: { 'POST /v1/things': { summary: 'Make a thing', responses: { 200: 'Made', 401: 'No credentials' } } }
  })
  app.post('/v1/things', { schema: { response: { 200: { type: 'object' }, 401: { type: 'object' } } } }, async () => ({}))
  app.get('/health', { schema: { response: { 200: { type: 'object' } } } }, async () => ({}))
  await app.ready()
  const res = await app.inject({ method: 'GET', url: OPENAPI_PATH })
  t.equal(res.statusCode, 200)
  const doc = res.json() as { openapi: string, info: { version: string }, paths: Record<string, Record<string, any>> }
  t.equal(doc.openapi, '3.1.0')
  t.equal(doc.info.version, RELEASE_VERSION, 'the release version by default')
  t.match(RELEASE_VERSION, /^\d+\.\d+\.\d+/)
  const post = doc.paths['/v1/things']?.post
  t.equal(post?.summary, 'Make a thing')
  t.same(post?.tags, ['api'])
  t.same(post?.security, [{ basicAuth: [] }])
  t.ok(post?.responses['401'].headers['WWW-Authenticate'], 'the 401 documents its challenge')
  t.same(doc.paths['/health']?.get?.tags, ['ops'])
  t.notOk(doc.paths['/health']?.get?.security, 'ops routes need no credentials')
  t.same(doc, app.swagger(), 'served as generated')
})
