import t from 'tap'
import { buildApp } from '../src/app.js'

t.test('GET /health answers 200', async t => {
  const app = buildApp()
  t.teardown(() => app.close())
  const res = await app.inject({ method: 'GET', url: '/health' })
  t.equal(res.statusCode, 200)
  t.same(res.json(), { status: 'ok', service: 'jit-authorizer' })
})
