import t from 'tap'
import { PassThrough } from 'node:stream'
import { ConfigError, TxnWorkerConfig, loadConfig } from '@jit/config'
import { debitAccount } from '@jit/ledger'
import { freePort, sleep, waitFor } from '@jit/test-support'
import { buildApp } from '../src/index.js'
import { createOperatorDirectory, hashOperatorPassword } from '../src/console/operators.js'
import { sessionKeyPrefix } from '../src/console/plugin.js'
import { runCli } from '../src/ops/run-cli.js'
import { DLX_EXCHANGE, HEADER_FAILURE_REASON, HEADER_ORIGINAL_QUEUE } from '@jit/amqp'
import { listDeadLetters } from '../src/ops/dead-letters.js'
import { build, queueDepth, silentLogger, txEvent, txRoutingKey } from './helper.js'
import { buildConsoleApp, consoleCardholder, consoleSettings, sessionRedis } from './fixtures/console.js'

const env = await build(t)
const password = 'Operator-Password-0123456789'
const basic = { authorization: 'Basic ' + Buffer.from(`ops:${password}`).toString('base64') }
const settings = consoleSettings(env, 'ops', password)
const app = await buildConsoleApp(t, env, settings, { loginAttemptsPerMinute: 12 })
env.startWorker()

const redis = await sessionRedis(t)
const { c, approved, declined } = await consoleCardholder(env, `console-${process.pid}`)
await debitAccount(env.db.sql, { accountToken: c.account, currency: 'USD', amount: 300, effectKind: 'test.debit', effectKey: `console-debit-${process.pid}`, force: false })

const FORM = { 'content-type': 'application/x-www-form-urlencoded' }
function form (fields: Record<string, string>): string {
  return new URLSearchParams(fields).toString()
}

function cookieOf (res: { headers: Record<string, unknown> }): string {
  const raw = res.headers['set-cookie']
  const first = Array.isArray(raw) ? raw[0] : raw
  return String(first ?? '').split(';')[0] ?? ''
}

async function signIn (user = 'ops', pass = password): Promise<string> {
  const res = await app.inject({ method: 'POST', url: '/console/login', payload: form({ username: user, password: pass, next: '/console/' }), headers: FORM })
  t.equal(res.statusCode, 303, 'signed in')
  return cookieOf(res)
}

function csrfOf (body: string): string {
  const m = /name="_csrf" value="([^"]+)"/.exec(body)
  return m?.[1] ?? ''
}

t.test('the console needs a signed-in operator; sign-in sets a HttpOnly SameSite cookie, Secure behind TLS', async t => {
  const anonymous = await app.inject({ method: 'GET', url: '/console/' })
  t.equal(anonymous.statusCode, 303)
  t.match(anonymous.headers.location, /^\/console\/login\?next=/)
  const wrong = await app.inject({ method: 'POST', url: '/console/login', payload: 'username=ops&password=nope', headers: { 'content-type': 'application/x-www-form-urlencoded' } })
  t.equal(wrong.statusCode, 401)
  t.notMatch(wrong.body, 'nope', 'the password is not echoed')
  t.equal(wrong.headers['set-cookie'], undefined, 'no session for a failed sign-in')

  const tls = await app.inject({ method: 'POST', url: '/console/login', payload: `username=ops&password=${encodeURIComponent(password)}`, headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-proto': 'https' } })
  t.equal(tls.statusCode, 303)
  const setCookie = String(tls.headers['set-cookie'])
  t.match(setCookie, /HttpOnly/i)
  t.match(setCookie, /SameSite=Strict/i)
  t.match(setCookie, /Secure/i, 'Secure when the proxy says the request came over TLS')
  const plain = await app.inject({ method: 'POST', url: '/console/login', payload: `username=ops&password=${encodeURIComponent(password)}`, headers: { 'content-type': 'application/x-www-form-urlencoded' } })
  t.notMatch(String(plain.headers['set-cookie']), /Secure/i, 'plain HTTP on a laptop still signs in')
  t.match(String(plain.headers['set-cookie']), /SameSite=Lax/i)
})

t.test('Enter on a card token shows its latest decisions with decline reason and memo', async t => {
  const cookie = await signIn()
  const search = await app.inject({ method: 'GET', url: `/console/search?q=${c.card}`, headers: { cookie } })
  t.equal(search.statusCode, 303)
  t.equal(search.headers.location, `/console/cards/${c.card}`)
  const page = await app.inject({ method: 'GET', url: `/console/cards/${c.card}`, headers: { cookie } })
  t.equal(page.statusCode, 200)
  t.match(page.body, 'INSUFFICIENT_FUNDS')
  t.match(page.body, 'available balance is below the amount', 'the memo')
  t.match(page.body, declined.jitToken)
  t.match(page.body, approved.jitToken)
  t.match(page.headers['content-security-policy'], /default-src 'none'/)
  for (const url of ['/console/', `/console/timeline?card=${c.card}`, `/console/accounts/${c.account}/holds`, `/console/holds/${approved.jitToken}`,
    '/console/dead-letters', '/console/actions', '/console/health', `/console/search?q=${approved.jitToken}`]) {
    const res = await app.inject({ method: 'GET', url, headers: { cookie } })
    t.ok([200, 303].includes(res.statusCode), `${url} answers (${res.statusCode})`)
  }
  const unknown = await app.inject({ method: 'GET', url: '/console/cards/nobody-here', headers: { cookie } })
  t.equal(unknown.statusCode, 404)
})

t.test('the timeline shows balance and available after each money change', async t => {
  const cookie = await signIn()
  const res = await app.inject({ method: 'GET', url: `/console/timeline?card=${c.card}`, headers: { cookie } })
  t.equal(res.statusCode, 200)
  const api = await app.inject({ method: 'GET', url: `/v1/timeline?card_token=${c.card}`, headers: basic })
  t.equal(api.statusCode, 200)
  const items = api.json().items as Array<Record<string, any>>
  const debit = items.find(i => i.type === 'journal' && i.amount_minor === -300)
  t.ok(debit, 'the debit is on the timeline')
  t.equal(debit?.balance_after_minor, 4700)
  t.equal(debit?.available_after_minor, 3500, 'available after the debit: 4700 - 1200 held')
  const placed = items.find(i => i.type === 'hold' && i.what === 'placed')
  t.equal(placed?.balance_after_minor, 5000)
  t.equal(placed?.available_after_minor, 3800)
  t.ok(items.some(i => i.type === 'decision' && i.decision.decline_reason === 'INSUFFICIENT_FUNDS' && typeof i.decision.memo === 'string'))
  const times = items.map(i => Date.parse(i.at))
  t.same(times, [...times].sort((a, b) => b - a), 'newest first')
})

t.test('the JSON read endpoints: Basic auth, pagination, 400s', async t => {
  for (const url of ['/v1/search?q=x', `/v1/cards/${c.card}/decisions`, `/v1/timeline?card_token=${c.card}`, `/v1/accounts/${c.account}/holds`, '/v1/operator-actions']) {
    t.equal((await app.inject({ method: 'GET', url })).statusCode, 401, `${url} needs credentials`)
  }
  const hits = (await app.inject({ method: 'GET', url: `/v1/search?q=${declined.jitToken}`, headers: basic })).json().hits
  t.match(hits, [{ kind: 'decision', token: declined.jitToken, card_token: c.card }])
  const cardHits = (await app.inject({ method: 'GET', url: `/v1/search?q=${c.card}`, headers: basic })).json().hits
  t.match(cardHits, [{ kind: 'card', account_token: c.account }])
  const page1 = (await app.inject({ method: 'GET', url: `/v1/cards/${c.card}/decisions?limit=1`, headers: basic })).json()
  t.equal(page1.decisions.length, 1)
  t.equal(page1.decisions[0].jit_token, declined.jitToken, 'newest first')
  t.equal(page1.decisions[0].memo, 'Declined: the funding account\'s available balance is below the amount.')
  t.ok(page1.next_before)
  const page2 = (await app.inject({ method: 'GET', url: `/v1/cards/${c.card}/decisions?limit=1&before=${page1.next_before}`, headers: basic })).json()
  t.equal(page2.decisions[0].jit_token, approved.jitToken)
  const holds = (await app.inject({ method: 'GET', url: `/v1/accounts/${c.account}/holds?state=OPEN`, headers: basic })).json()
  t.match(holds.holds, [{ hold_token: approved.jitToken, remaining_minor: 1200, remaining: '12.00' }])
  t.equal((await app.inject({ method: 'GET', url: '/v1/search', headers: basic })).statusCode, 400)
  t.equal((await app.inject({ method: 'GET', url: '/v1/search?last_four=12', headers: basic })).statusCode, 400)
  t.equal((await app.inject({ method: 'GET', url: `/v1/timeline?card_token=${c.card}&user_token=${c.user}`, headers: basic })).statusCode, 400)
  t.equal((await app.inject({ method: 'GET', url: `/v1/cards/${c.card}/decisions?limit=0`, headers: basic })).statusCode, 400)
  t.equal((await app.inject({ method: 'GET', url: `/v1/cards/${c.card}/decisions?before=yesterday`, headers: basic })).statusCode, 400)
  t.equal((await app.inject({ method: 'GET', url: '/v1/cards/nobody/decisions', headers: basic })).statusCode, 404)
  t.equal((await app.inject({ method: 'GET', url: '/v1/timeline?user_token=nobody', headers: basic })).statusCode, 404)
})

t.test('last four and a time window find the card from its archived webhooks', async t => {
  const event = { ...txEvent(c, { type: 'authorization', state: 'PENDING', amount: 1200, jit: { token: approved.jitToken, method: 'pgfs.authorization' } }), card: { last_four: '4242' } }
  await env.sendEvent(txRoutingKey(event), event)
  await waitFor(async () => (await env.archive.query({ card_token: c.card, kind: 'webhook' })).length > 0, 10_000, 'the webhook archived')
  const res = (await app.inject({ method: 'GET', url: '/v1/search?last_four=4242', headers: basic })).json()
  t.match(res.hits, [{ kind: 'card', token: c.card, last_four: '4242' }])
  const card = (await app.inject({ method: 'GET', url: `/v1/cards/${c.card}/decisions`, headers: basic })).json()
  t.match(card.decisions.find((d: { jit_token: string }) => d.jit_token === approved.jitToken), { merchant: 'Grocery Store', mcc: '5411' }, 'merchant and MCC from the webhook')
  const wide = await app.inject({ method: 'GET', url: '/v1/search?last_four=4242&from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z', headers: basic })
  t.equal(wide.statusCode, 400, 'a window longer than 7 days is refused')
})

t.test('a write without the CSRF token is refused; with it the action is recorded and applied', async t => {
  const cookie = await signIn()
  const anonymous = await app.inject({ method: 'POST', url: `/console/holds/${approved.jitToken}/release`, payload: form({ reason: 'test' }), headers: FORM })
  t.ok([303, 403].includes(anonymous.statusCode), `a write without a session is refused (${anonymous.statusCode})`)
  const noToken = await app.inject({ method: 'POST', url: `/console/holds/${approved.jitToken}/release`, payload: form({ reason: 'test', _csrf: '' }), headers: { ...FORM, cookie } })
  t.equal(noToken.statusCode, 403)
  const forged = await app.inject({ method: 'POST', url: `/console/holds/${approved.jitToken}/release`, payload: form({ reason: 'test', _csrf: 'forged' }), headers: { ...FORM, cookie } })
  t.equal(forged.statusCode, 403)
  const [recorded] = await env.db.sql<Array<{ count: number }>>`select count(*)::int as count from operator_actions`
  t.equal(recorded?.count, 0, 'nothing recorded')

  const confirm = await app.inject({ method: 'GET', url: `/console/holds/${approved.jitToken}/release`, headers: { cookie } })
  const res = await app.inject({ method: 'POST', url: `/console/holds/${approved.jitToken}/release`, payload: form({ reason: 'cardholder called', _csrf: csrfOf(confirm.body) }), headers: { ...FORM, cookie } })
  t.equal(res.statusCode, 303)
  t.match(res.headers.location, /^\/console\/actions\/\d+$/)
  await waitFor(async () => {
    const page = await app.inject({ method: 'GET', url: String(res.headers.location), headers: { cookie } })
    return page.body.includes('id="action-outcome">done')
  }, 15_000, 'the release applied')
  const [hold] = await env.db.sql<Array<{ state: string }>>`select state from holds where hold_token = ${approved.jitToken}`
  t.equal(hold?.state, 'CLOSED')
  const actions = (await app.inject({ method: 'GET', url: '/v1/operator-actions', headers: basic })).json().actions
  t.match(actions, [{ operator: 'ops', action: 'hold.release', target: approved.jitToken, outcome: 'done' }])
  t.equal((await app.inject({ method: 'POST', url: '/v1/operator-actions', headers: basic })).statusCode, 404, 'the JSON API has no write route')
})

t.test('re-drive one dead letter by its message id; card numbers in dead letters are masked', async t => {
  const target = `console-target-${process.pid}`
  await env.amqp.connection.queueDeclare({ queue: target, durable: false, autoDelete: false })
  t.teardown(async () => { await env.amqp.connection.queueDelete({ queue: target }) })
  for (const id of ['dl-one', 'dl-two']) {
    await env.publisher.publish('transactions.dead', { token: id, card: { pan: '4111111111111111' } }, {
      exchange: DLX_EXCHANGE, messageId: id, headers: { [HEADER_ORIGINAL_QUEUE]: target, [HEADER_FAILURE_REASON]: 'test failure' }, mandatory: true
    })
  }
  const cookie = await signIn()
  const list = await app.inject({ method: 'GET', url: '/console/dead-letters?queue=transactions', headers: { cookie } })
  t.match(list.body, 'test failure')
  t.match(list.body, '411111******1111')
  t.notMatch(list.body, '4111111111111111', 'never unmasked')
  const confirm = await app.inject({ method: 'GET', url: '/console/dead-letters/redrive?queue=transactions&message_id=dl-two', headers: { cookie } })
  const res = await app.inject({ method: 'POST', url: '/console/dead-letters/redrive', payload: form({ queue: 'transactions', message_id: 'dl-two', _csrf: csrfOf(confirm.body) }), headers: { ...FORM, cookie } })
  t.equal(res.statusCode, 303)
  const action = await app.inject({ method: 'GET', url: String(res.headers.location), headers: { cookie } })
  t.match(action.body, 'id="action-outcome">done')
  t.equal(await queueDepth(env.amqp, target), 1, 'that one moved')
  const left = await listDeadLetters(env.amqp, { queue: 'transactions' })
  t.same(left.map(l => l.messageId), ['dl-one'], 'the other stays dead')
})

t.test('sign-out ends the session in Redis', async t => {
  const cookie = await signIn()
  const keys = await redis.keys(`${sessionKeyPrefix(settings)}*`)
  t.ok(keys.length > 0, 'sessions live in Redis')
  const home = await app.inject({ method: 'GET', url: '/console/', headers: { cookie } })
  const sid = decodeURIComponent(cookie.split('=')[1] ?? '').split('.')[0] ?? ''
  t.equal(await redis.exists(`${sessionKeyPrefix(settings)}${sid}`), 1)
  const out = await app.inject({ method: 'POST', url: '/console/logout', payload: form({ _csrf: csrfOf(home.body) }), headers: { ...FORM, cookie } })
  t.equal(out.statusCode, 303)
  t.equal(await redis.exists(`${sessionKeyPrefix(settings)}${sid}`), 0, 'the session key is gone')
  const after = await app.inject({ method: 'GET', url: '/console/', headers: { cookie } })
  t.equal(after.statusCode, 303, 'the old cookie no longer signs in')
})

t.test('sessions end after the idle timeout, and after the absolute one whatever the activity', async t => {
  const short = { ...settings, CONSOLE_SESSION_IDLE_S: 1, CONSOLE_SESSION_ABSOLUTE_S: 3600 }
  const idleApp = await buildApp({ config: short, logger: silentLogger, db: env.db, registry: env.registry, console: { settings: short } })
  t.teardown(() => idleApp.close())
  const login = await idleApp.inject({ method: 'POST', url: '/console/login', payload: form({ username: 'ops', password }), headers: FORM })
  const idleCookie = cookieOf(login)
  t.equal((await idleApp.inject({ method: 'GET', url: '/console/', headers: { cookie: idleCookie } })).statusCode, 200, 'signed in')
  await sleep(2200)
  t.equal((await idleApp.inject({ method: 'GET', url: '/console/', headers: { cookie: idleCookie } })).statusCode, 303, 'idle too long: sign in again')

  const capped = { ...settings, CONSOLE_SESSION_IDLE_S: 600, CONSOLE_SESSION_ABSOLUTE_S: 2 }
  const absApp = await buildApp({ config: capped, logger: silentLogger, db: env.db, registry: env.registry, console: { settings: capped } })
  t.teardown(() => absApp.close())
  const cookie = cookieOf(await absApp.inject({ method: 'POST', url: '/console/login', payload: form({ username: 'ops', password }), headers: FORM }))
  for (let i = 0; i < 3; i++) {
    t.equal((await absApp.inject({ method: 'GET', url: '/console/', headers: { cookie } })).statusCode, 200, 'active')
    await sleep(500)
  }
  await sleep(1000)
  t.equal((await absApp.inject({ method: 'GET', url: '/console/', headers: { cookie } })).statusCode, 303, 'past the absolute timeout, however active')
})

t.test('login attempts are rate-limited', async t => {
  let limited = false
  for (let i = 0; i < 8 && !limited; i++) {
    const res = await app.inject({ method: 'POST', url: '/console/login', payload: 'username=ops&password=wrong', headers: { 'content-type': 'application/x-www-form-urlencoded' } })
    limited = res.statusCode === 429
  }
  t.ok(limited, 'a 429 after the allowed attempts')
})

t.test('Redis down: the console says so and refuses sign-in; the JSON API still answers', async t => {
  const port = await freePort()
  const down = { ...settings, REDIS_URL: `redis://127.0.0.1:${port}` }
  const app2 = await buildApp({ config: down, logger: silentLogger, db: env.db, registry: env.registry, console: { settings: down } })
  t.teardown(() => app2.close())
  const login = await app2.inject({ method: 'GET', url: '/console/login' })
  t.equal(login.statusCode, 503)
  t.match(login.body, /Redis[^<]*unavailable/)
  const post = await app2.inject({ method: 'POST', url: '/console/login', payload: `username=ops&password=${encodeURIComponent(password)}`, headers: { 'content-type': 'application/x-www-form-urlencoded' } })
  t.equal(post.statusCode, 503)
  t.equal((await app2.inject({ method: 'GET', url: `/v1/accounts/${c.account}`, headers: basic })).statusCode, 200)
})

t.test('the console reads through indexes (plans with sequential scans disabled show none)', async t => {
  const plans: Array<[string, string]> = [
    ['card decisions', `select * from decisions where card_token = '${c.card}' order by created_at desc limit 25`],
    ['user decisions', `select * from decisions where user_token = '${c.user}' order by created_at desc limit 25`],
    ['last hour', 'select outcome, count(*) from decisions where created_at >= now() - interval \'1 hour\' group by outcome'],
    ['account holds', `select * from holds where account_token = '${c.account}' order by opened_at desc limit 25`],
    ['transaction token', `select * from holds where transaction_tokens @> array['${approved.jitToken}']`],
    ['hold history', `select hh.* from holds h join hold_history hh using (hold_token) where h.account_token = '${c.account}' order by hh.at desc limit 25`],
    ['journal', `select * from journal_lines l join journal_entries e using (entry_id) where l.account_token = '${c.account}' order by l.entry_id desc limit 25`],
    ['operator actions', 'select * from operator_actions where id < 100 order by id desc limit 25'],
    ['archive of a card', `select * from archive_documents where card_token = '${c.card}' and occurred_at >= now() - interval '1 day' order by occurred_at desc limit 500`],
    ['archive window', 'select * from archive_documents where kind = \'webhook\' and occurred_at >= now() - interval \'1 day\' and occurred_at < now() order by occurred_at desc limit 1000']
  ]
  await env.db.sql.begin(async sql => {
    await sql`set local enable_seqscan = off`
    for (const [name, query] of plans) {
      const rows = await sql.unsafe(`explain (format json) ${query}`)
      const plan = JSON.stringify(rows[0])
      t.notMatch(plan, /"Seq Scan"/, `${name}: no sequential scan`)
    }
  })
})

t.test('CONSOLE_OPERATORS: scrypt hashes from jit-ops operators hash', async t => {
  const hash = await hashOperatorPassword('Correct-Horse-Battery-9')
  t.match(hash, /^scrypt\.32768\.8\.1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/)
  const dir = createOperatorDirectory({ OPERATOR_BASIC_AUTH: `ops:${password}`, CONSOLE_OPERATORS: `alice:${hash}` })
  t.same(dir.names, ['alice'])
  t.equal(await dir.verify('alice', 'Correct-Horse-Battery-9'), 'alice')
  t.equal(await dir.verify('alice', 'wrong'), null)
  t.equal(await dir.verify('ops', password), null, 'with CONSOLE_OPERATORS set the Basic-auth operator is not a console account')
  const base = { DEPLOY_ENV: 'local', OPERATOR_BASIC_AUTH: `ops:${password}` }
  t.equal(loadConfig(TxnWorkerConfig, { ...base, CONSOLE_OPERATORS: `alice:${hash}` }).CONSOLE_OPERATORS, `alice:${hash}`)
  t.throws(() => loadConfig(TxnWorkerConfig, { ...base, CONSOLE_OPERATORS: 'alice:plaintext' }), ConfigError)
  t.throws(() => loadConfig(TxnWorkerConfig, { ...base, CONSOLE_SESSION_SECRET: 'short' }), ConfigError)

  const stdin = new PassThrough()
  stdin.end('Correct-Horse-Battery-9\n')
  let out = ''
  const code = await runCli(['operators', 'hash'], { env: {}, stdin, stdout: s => { out += s }, stderr: () => {} })
  t.equal(code, 0)
  t.notMatch(out, 'Correct-Horse', 'the password is not printed')
  const cli = createOperatorDirectory({ OPERATOR_BASIC_AUTH: `ops:${password}`, CONSOLE_OPERATORS: `bob:${out.trim()}` })
  t.equal(await cli.verify('bob', 'Correct-Horse-Battery-9'), 'bob')
  const empty = new PassThrough()
  empty.end('')
  t.equal(await runCli(['operators', 'hash'], { env: {}, stdin: empty, stdout: () => {}, stderr: () => {} }), 2)
})
