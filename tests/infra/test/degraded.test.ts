import t from 'tap'
import { createDatabase } from '@jit/postgres'
import * as ledger from '@jit/ledger'
import { jitFundingRequest } from '@jit/processor-sim'
import { createTestDatabase, createTestRedisPrefix, freePort, fundedCards, sharedRedisUrl } from '@jit/test-support'
import { CREDENTIALS, basic, plainRequest, serviceEnv, startService, tempDir } from './helper.js'

// The authorizer as a process with RabbitMQ unreachable: it starts, is ready (RabbitMQ degraded,
// not required), decides, and its events wait in the outbox.
// (No assertion at the top level: tap would end the file's test at the first one.)
t.setTimeout(120_000)
const databaseUrl = await createTestDatabase(t, 'degraded')
const work = tempDir(t, 'degraded')
const deadBroker = `amqp://guest:guest@127.0.0.1:${await freePort()}/`
const env = { ...serviceEnv(databaseUrl, deadBroker, sharedRedisUrl, createTestRedisPrefix(t, 'degraded')), DATABASE_CONNECT_TIMEOUT_MS: '1000' }
const port = await freePort()
const authorizer = await startService(t, 'jit-authorizer', port, env, work)

t.test('without RabbitMQ the authorizer is ready and decides; the events wait in the outbox', async t => {
  const ready = await plainRequest(port, '/ready')
  t.equal(ready.status, 200, 'ready')
  const report = JSON.parse(ready.body) as { dependencies: Record<string, { up: boolean, required: boolean }> }
  t.same({ up: report.dependencies.rabbitmq?.up, required: report.dependencies.rabbitmq?.required }, { up: false, required: false }, 'RabbitMQ degraded, not required')

  const db = createDatabase({ url: databaseUrl, poolMin: 0, poolMax: 2 })
  t.teardown(() => db.close(2))
  const card = await fundedCards(ledger)(db, 'degraded', 10_000)
  const body = jitFundingRequest(card, { amount: 100 })
  const res = await plainRequest(port, '/v1/jit-funding', { method: 'POST', headers: { authorization: basic(CREDENTIALS.jit) }, body: JSON.stringify(body) })
  t.equal(res.status, 200, 'approved')
  t.equal((await ledger.getDecision(db.sql, body.jitToken))?.outcome, 'approved', 'and recorded')
  const metrics = (await plainRequest(port, '/metrics')).body
  t.match(metrics, /^jit_outbox_pending_messages\{service="jit-authorizer"\} [1-9]\d*$/m, 'its events wait in the outbox')
  t.match(metrics, /^jit_dependency_up\{dependency="rabbitmq",required="false",service="jit-authorizer"\} 0$/m)
  t.ok(authorizer.logs.some(l => String(l.msg).startsWith('RabbitMQ unreachable: starting without it')), 'it says it started degraded')
})
