import t from 'tap'
import { createDatabase, runMigrations } from '@jit/postgres'
import { archiveMigrations } from '@jit/archive'
import { ledgerMigrationSets, debitAccount } from '@jit/ledger'
import { createMetricsRegistry } from '@jit/profiler'
import { createTestDatabase } from '@jit/test-support'
import { buildApp, createWorkerMetrics, txnWorkerMigrations } from '../src/index.js'
import { authorize, fundedCard, silentLogger } from './helper.js'

const url = await createTestDatabase(t, 'twapp')
const db = createDatabase({ url, poolMin: 0, poolMax: 4 })
t.teardown(() => db.close(2))
await runMigrations(db.sql, [...ledgerMigrationSets, archiveMigrations, txnWorkerMigrations])

const registry = createMetricsRegistry({ service: 'txn-worker' })
const metrics = createWorkerMetrics(registry)
const password = 'Operator-Password-0123456789'
let ready = true
const app = await buildApp({ config: { OPERATOR_BASIC_AUTH: `ops:${password}` }, logger: silentLogger, db, registry, ready: () => ready })
t.teardown(() => app.close())

const auth = { authorization: 'Basic ' + Buffer.from(`ops:${password}`).toString('base64') }

const c = await fundedCard(db, 'op', 100000)
const held = await authorize(db, c, 2500)
await debitAccount(db.sql, { accountToken: c.account, currency: 'USD', amount: 1000, effectKind: 'test.debit', effectKey: 'op-1', force: false })

t.test('ops routes: /health, /ready, /metrics without credentials', async t => {
  const health = await app.inject({ method: 'GET', url: '/health' })
  t.equal(health.statusCode, 200)
  t.same(health.json(), { status: 'ok', service: 'txn-worker' })

  t.equal((await app.inject({ method: 'GET', url: '/ready' })).statusCode, 200)
  ready = false
  const notReady = await app.inject({ method: 'GET', url: '/ready' })
  ready = true
  t.equal(notReady.statusCode, 503, 'not ready while stopping')

  metrics.applied.inc({ queue: 'transactions' })
  const text = (await app.inject({ method: 'GET', url: '/metrics' })).body
  t.match(text, /txn_worker_messages_applied_total\{queue="transactions",service="txn-worker"\} 1/)
  for (const name of ['txn_worker_messages_consumed_total', 'txn_worker_duplicates_skipped_total', 'txn_worker_events_parked_total',
    'txn_worker_messages_retried_total', 'txn_worker_messages_dead_lettered_total', 'txn_worker_webhook_to_ledger_lag_seconds']) {
    t.match(text, name, `exports ${name}`)
  }
})

t.test('the operator API needs Basic credentials', async t => {
  const none = await app.inject({ method: 'GET', url: `/v1/accounts/${c.account}` })
  t.equal(none.statusCode, 401)
  t.match(none.headers['www-authenticate'], /^Basic realm=/)
  t.same(none.json(), { error: 'UNAUTHORIZED', message: 'operator credentials required' })
  const wrong = await app.inject({ method: 'GET', url: `/v1/accounts/${c.account}`, headers: { authorization: 'Basic ' + Buffer.from('ops:nope').toString('base64') } })
  t.equal(wrong.statusCode, 401)
  const unknownRoute = await app.inject({ method: 'GET', url: '/v1/nothing-here', headers: auth })
  t.equal(unknownRoute.statusCode, 404)
})

t.test('GET /v1/accounts/:token shows balance, available and open holds', async t => {
  const res = await app.inject({ method: 'GET', url: `/v1/accounts/${c.account}`, headers: auth })
  t.equal(res.statusCode, 200)
  const body = res.json()
  t.match(body.account, {
    account_token: c.account,
    currency: 'USD',
    balance_minor: 99000,
    balance: '990.00',
    held_minor: 2500,
    available_minor: 96500,
    available: '965.00'
  })
  t.equal(body.open_holds.length, 1)
  t.match(body.open_holds[0], { hold_token: held.jitToken, state: 'OPEN', remaining_minor: 2500, remaining: '25.00', card_token: c.card })

  const missing = await app.inject({ method: 'GET', url: '/v1/accounts/no-such-account', headers: auth })
  t.equal(missing.statusCode, 404)
  t.same(missing.json(), { error: 'NOT_FOUND', message: 'no account with token no-such-account' })
})

t.test('GET /v1/holds/:token shows the hold with its history', async t => {
  const res = await app.inject({ method: 'GET', url: `/v1/holds/${held.jitToken}`, headers: auth })
  t.equal(res.statusCode, 200)
  const body = res.json()
  t.equal(body.hold.authorized_minor, 2500)
  t.ok(body.history.length >= 1, 'history has the placement')
  t.type(body.history[0].at, 'string')
  t.equal((await app.inject({ method: 'GET', url: '/v1/holds/nope', headers: auth })).statusCode, 404)
})

t.test('GET /v1/decisions/:jitToken shows the stored decision', async t => {
  const res = await app.inject({ method: 'GET', url: `/v1/decisions/${held.jitToken}`, headers: auth })
  t.equal(res.statusCode, 200)
  t.match(res.json().decision, { jit_token: held.jitToken, outcome: 'approved', amount_minor: 2500, amount: '25.00', http_status: 200 })
  t.ok(res.json().decision.response.jit_funding, 'the body sent to the processor')
  t.equal((await app.inject({ method: 'GET', url: '/v1/decisions/nope', headers: auth })).statusCode, 404)
})

t.test('GET /v1/accounts/:token/journal lists entries newest first, with a limit', async t => {
  const res = await app.inject({ method: 'GET', url: `/v1/accounts/${c.account}/journal`, headers: auth })
  t.equal(res.statusCode, 200)
  const entries = res.json().entries
  t.equal(entries.length, 2)
  t.match(entries[0], { kind: 'test.debit', amount_minor: -1000, amount: '-10.00' })
  t.match(entries[1], { amount_minor: 100000 })

  const one = await app.inject({ method: 'GET', url: `/v1/accounts/${c.account}/journal?limit=1`, headers: auth })
  t.equal(one.json().entries.length, 1)
  const bad = await app.inject({ method: 'GET', url: `/v1/accounts/${c.account}/journal?limit=abc`, headers: auth })
  t.equal(bad.statusCode, 400)
  t.equal(bad.json().error, 'INVALID_REQUEST')
  const zero = await app.inject({ method: 'GET', url: `/v1/accounts/${c.account}/journal?limit=0`, headers: auth })
  t.equal(zero.statusCode, 400)
  t.equal((await app.inject({ method: 'GET', url: '/v1/accounts/nope/journal', headers: auth })).statusCode, 404)
})

t.test('a control character in a path token is a 400 naming the parameter, never a 500', async t => {
  const paths = ['/v1/accounts/a%00b', '/v1/accounts/a%00b/journal', '/v1/holds/a%00b', '/v1/decisions/a%00b', '/v1/accounts/a%1Fb', '/v1/holds/a%7Fb', '/v1/accounts/a%C2%85b']
  for (const url of paths) {
    const res = await app.inject({ method: 'GET', url, headers: auth })
    t.equal(res.statusCode, 400, url)
    const body = res.json()
    t.equal(body.error, 'INVALID_REQUEST', url)
    t.match(body.field, /^\/params\/(token|jitToken)$/, `${url} names the parameter`)
  }
  const invalidUtf8 = await app.inject({ method: 'GET', url: '/v1/accounts/a%ED%A0%80b', headers: auth })
  t.ok(invalidUtf8.statusCode >= 400 && invalidUtf8.statusCode < 500, `undecodable: ${invalidUtf8.statusCode}`)
  const ok = await app.inject({ method: 'GET', url: `/v1/accounts/${encodeURIComponent('no-such-é')}`, headers: auth })
  t.equal(ok.statusCode, 404, 'printable non-ASCII is a token like any other')
})
