import t from 'tap'
import Fastify from 'fastify'
import pino from 'pino'
import { Writable } from 'node:stream'
import { requestIdEcho, requestIdOptions } from '../src/index.js'

t.test('the request id is the caller\'s X-Request-Id when plain, else a UUID; echoed and logged', async t => {
  const lines: Array<Record<string, unknown>> = []
  const sink = new Writable({ write (chunk, _enc, done) { lines.push(JSON.parse(String(chunk))); done() } })
  const app = Fastify({ loggerInstance: pino({ level: 'info' }, sink), ...requestIdOptions })
  t.teardown(async () => { await app.close() })
  await app.register(requestIdEcho)
  app.get('/x', async (req) => ({ id: req.id }))

  const passed = await app.inject({ method: 'GET', url: '/x', headers: { 'x-request-id': 'nginx-0123abcd' } })
  t.equal(passed.json().id, 'nginx-0123abcd', 'the caller\'s id is the request id')
  t.equal(passed.headers['x-request-id'], 'nginx-0123abcd', 'and is echoed')
  t.ok(lines.some(l => l.reqId === 'nginx-0123abcd' && l.msg === 'request completed'), 'log lines carry it as reqId')

  const none = await app.inject({ method: 'GET', url: '/x' })
  t.match(none.json().id, /^[0-9a-f-]{36}$/, 'generated when absent')
  t.equal(none.headers['x-request-id'], none.json().id)

  const hostile = await app.inject({ method: 'GET', url: '/x', headers: { 'x-request-id': 'a\nb"c'.padEnd(200, 'x') } })
  t.match(hostile.json().id, /^[0-9a-f-]{36}$/, 'an unsafe or long id is replaced, not logged')
})
