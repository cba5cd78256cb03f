import t, { type Test } from 'tap'
import { JIT_METHODS, classifyJitMethod } from '@jit/contracts'
import { setLimits, upsertUser, getHold, getDecision } from '@jit/ledger'
import { build, jitBody, validateProgramResponse } from './helper.js'

const h = await build(t)

/** Every test that can move money ends with the ledger invariants. */
function moneyTest (name: string, fn: (t: Test) => Promise<void>): void {
  t.test(name, async t => {
    await fn(t)
    t.same(await h.invariants(), [], 'ledger invariants hold')
  })
}

function conforms (t: Test, body: unknown, what: string): void {
  const { ok, errors } = validateProgramResponse(body)
  t.ok(ok, `${what} validates against swagger jit_program_response`, { errors })
}

moneyTest('approve: 200 echoing token, method, user_token, acting_user_token and the exact amount', async t => {
  const c = await h.fundedCard('approve', 100000)
  const body = jitBody(c, '42.50', { acting: c.user })
  const res = await h.jit(body)
  t.equal(res.status, 200)
  const jf = (body.gpa_order as { jit_funding: Record<string, unknown> }).jit_funding
  t.same(res.body, { jit_funding: { token: jf.token, method: 'pgfs.authorization', user_token: c.user, acting_user_token: c.user, amount: 42.5 } })
  conforms(t, res.body, 'the approval')
  t.equal(await h.available(c.user), 100000 - 4250)
  const hold = await getHold(h.db.sql, String(jf.token))
  t.equal(hold?.remaining, 4250)
  t.same(hold?.transaction_tokens, [body.token])
})

moneyTest('a repeat gets exactly the same answer and no second hold', async t => {
  const c = await h.fundedCard('repeat', 100000)
  const body = jitBody(c, 10)
  const first = await h.jit(body)
  const second = await h.jit(body)
  t.equal(second.status, first.status)
  t.same(second.body, first.body)
  t.equal(await h.available(c.user), 99000)
})

moneyTest('every method the swagger lists gets a 200 or 402 that validates against the swagger', async t => {
  const c = await h.fundedCard('methods', 10000000)
  for (const method of JIT_METHODS) {
    const kind = classifyJitMethod(method)
    const amount = kind === 'balance_inquiry' || kind === 'account_verification' ? 0 : 1
    let original: string | undefined
    if (kind === 'incremental') {
      const o = jitBody(c, 1)
      await h.jit(o)
      original = String((o.gpa_order as { jit_funding: { token: string } }).jit_funding.token)
    }
    const res = await h.jit(jitBody(c, amount, { method, original }))
    t.ok(res.status === 200 || res.status === 402, `${method}: ${res.status}`)
    conforms(t, res.body, method)
    if (kind === 'informative') t.equal(res.status, 200, `${method} is informative: 200`)
    else if (kind !== 'unknown') t.equal(res.status, 200, `${method} (${kind}) on a funded active card: approved`)
  }
})

moneyTest('a balance inquiry answers the funding account balances', async t => {
  const c = await h.fundedCard('inquiry', 123456)
  await h.jit(jitBody(c, 56))
  const res = await h.jit(jitBody(c, 0, { method: 'pgfs.balanceinquiry' }))
  t.equal(res.status, 200)
  conforms(t, res.body, 'the inquiry answer')
  const usd = res.body.jit_funding.balances.USD
  t.equal(usd.ledger_balance, 1234.56)
  t.equal(usd.available_balance, 1178.56)
  t.equal(usd.currency_code, 'USD')
})

moneyTest('an informative message is answered 200 and moves no money', async t => {
  const c = await h.fundedCard('informative', 100000)
  const res = await h.jit(jitBody(c, 25, { method: 'pgfs.authorization.clearing' }))
  t.equal(res.status, 200)
  t.equal(await h.balance(c.user), 100000)
  t.equal(await h.available(c.user), 100000)
})

moneyTest('an unknown method gets a well-formed 402 TRANSACTION_NOT_PERMITTED', async t => {
  const c = await h.fundedCard('unknown', 100000)
  const res = await h.jit(jitBody(c, 5, { method: 'pgfs.something.new' }))
  t.equal(res.status, 402)
  t.equal(res.body.jit_funding.decline_reason, 'TRANSACTION_NOT_PERMITTED')
  t.equal(res.body.jit_funding.method, 'pgfs.something.new')
  t.equal(await h.available(c.user), 100000)
})

t.test('every decline reason of the mapping, each a swagger-valid 402 that holds nothing', async t => {
  const cases: Array<[string, () => Promise<Record<string, unknown>>]> = [
    ['INSUFFICIENT_FUNDS', async () => jitBody(await h.fundedCard('poor', 100), 1.01)],
    ['AMOUNT_LIMIT_EXCEEDED', async () => {
      const c = await h.fundedCard('pertx', 100000)
      await setLimits(h.db.sql, { scope: 'card', token: c.card, currency: 'USD', per_transaction: 5000 })
      return jitBody(c, 50.01)
    }],
    ['TRANSACTION_COUNT_LIMIT_EXCEEDED', async () => {
      const c = await h.fundedCard('count', 100000)
      await setLimits(h.db.sql, { scope: 'user', token: c.user, currency: 'USD', daily_count: 0 })
      return jitBody(c, 1)
    }],
    ['CARD_NOT_ACTIVE', async () => jitBody(await h.fundedCard('suspended', 100000, { status: 'SUSPENDED' }), 1)],
    ['CARDHOLDER_NOT_ACTIVE', async () => {
      const c = await h.fundedCard('closeduser', 100000)
      await upsertUser(h.db.sql, { user_token: c.user, status: 'SUSPENDED' })
      return jitBody(c, 1)
    }],
    ['EXPIRED_CARD', async () => jitBody(await h.fundedCard('expired', 100000, { expiration: '2020-01' }), 1)],
    ['INVALID_CARD', async () => jitBody({ user: (await h.fundedCard('nocard', 100000)).user, card: 'no-such-card' }, 1)],
    ['INVALID_CARD', async () => {
      const a = await h.fundedCard('owner', 100000)
      const b = await h.fundedCard('other', 100000)
      return jitBody({ user: b.user, card: a.card }, 1)
    }],
    ['INVALID_MERCHANT', async () => {
      const c = await h.fundedCard('mcc', 100000)
      await setLimits(h.db.sql, { scope: 'card', token: c.card, currency: 'USD', blocked_mccs: ['7995'] })
      return jitBody(c, 1, { mcc: '7995' })
    }],
    ['INVALID_AMOUNT', async () => jitBody(await h.fundedCard('amount', 100000), '1.005')],
    ['INVALID_AMOUNT', async () => jitBody(await h.fundedCard('negative', 100000), -5)],
    ['INVALID_AMOUNT', async () => jitBody(await h.fundedCard('nan', 100000), 'ten dollars')],
    ['INVALID_AMOUNT', async () => jitBody(await h.fundedCard('float', 100000), 0.1 + 0.2)],
    ['CLOSED_ACCOUNT', async () => jitBody(await h.fundedCard('noaccount', 0), 1)],
    ['TRANSACTION_NOT_PERMITTED', async () => jitBody(await h.fundedCard('orphaninc', 100000), 1, { method: 'pgfs.authorization.incremental', original: 'never-approved' })]
  ]
  for (const [reason, make] of cases) {
    const body = await make()
    const res = await h.jit(body)
    t.equal(res.status, 402, `${reason}: 402`)
    t.equal(res.body?.jit_funding?.decline_reason, reason, `${reason}: reason`)
    t.type(res.body?.jit_funding?.memo, 'string', `${reason}: memo`)
    t.ok(res.body.jit_funding.memo.length <= 99)
    conforms(t, res.body, reason)
    const token = String((body.gpa_order as { jit_funding: { token: string } }).jit_funding.token)
    t.equal(await getHold(h.db.sql, token), null, `${reason}: no hold`)
    t.equal((await getDecision(h.db.sql, token))?.outcome, 'declined', `${reason}: the decline is recorded`)
    const again = await h.jit(body)
    t.same(again.body, res.body, `${reason}: a repeat gets the same decline`)
  }
  t.same(await h.invariants(), [])
})

moneyTest('a token reused with a different body is DUPLICATE_TRANSACTION and changes nothing', async t => {
  const c = await h.fundedCard('dup', 100000)
  const body = jitBody(c, 10)
  await h.jit(body)
  const changed = structuredClone(body) as { gpa_order: { jit_funding: { amount: number } }, amount: number }
  changed.gpa_order.jit_funding.amount = 20
  changed.amount = 20
  const res = await h.jit(changed)
  t.equal(res.status, 402)
  t.equal(res.body.jit_funding.decline_reason, 'DUPLICATE_TRANSACTION')
  t.equal(res.body.jit_funding.amount, 20, 'echoes what was sent')
  conforms(t, res.body, 'the duplicate decline')
  t.equal(await h.available(c.user), 99000)
  t.same((await h.jit(body)).body.jit_funding.amount, 10, 'the original still replays')
})

moneyTest('funds moving out (gpa_order_unload) are decided the same way', async t => {
  const c = await h.fundedCard('unload', 100000)
  const res = await h.jit(jitBody(c, 12.34, { unload: true }))
  t.equal(res.status, 200)
  t.equal(await h.available(c.user), 100000 - 1234)
})

moneyTest('incrementals grow the purchase; the per-transaction limit applies to the total', async t => {
  const c = await h.fundedCard('incr', 100000)
  await setLimits(h.db.sql, { scope: 'card', token: c.card, currency: 'USD', per_transaction: 15000 })
  const o = jitBody(c, 100)
  const token = String((o.gpa_order as { jit_funding: { token: string } }).jit_funding.token)
  t.equal((await h.jit(o)).status, 200)
  t.equal((await h.jit(jitBody(c, 20, { method: 'pgfs.authorization.incremental', original: token }))).status, 200)
  const over = await h.jit(jitBody(c, 40, { method: 'pgfs.authorization.incremental', original: token }))
  t.equal(over.status, 402)
  t.equal(over.body.jit_funding.decline_reason, 'AMOUNT_LIMIT_EXCEEDED')
  t.equal((await getHold(h.db.sql, token))?.authorized, 12000)
  t.equal(await h.available(c.user), 88000)
})

t.test('bad requests', async t => {
  const c = await h.fundedCard('bad', 100000)
  const malformed = await h.jit('{"gpa_order": ')
  t.equal(malformed.status, 400, 'malformed JSON is 400')
  t.type(malformed.body.message, 'string')
  const noJit = await h.jit({ type: 'authorization' })
  t.equal(noJit.status, 400)
  t.match(noJit.body.message, /jit_funding/)
  const noToken = jitBody(c, 1) as { gpa_order: { jit_funding: Record<string, unknown> } }
  delete noToken.gpa_order.jit_funding.token
  const r = await h.jit(noToken)
  t.equal(r.status, 400)
  t.match(r.body.message, /token/)
  const arr = await h.jit([1, 2])
  t.equal(arr.status, 400)
  const wrongType = jitBody(c, 1) as Record<string, unknown>
  wrongType.card_token = 12
  const wt = await h.jit(wrongType)
  t.equal(wt.status, 402, 'a readable request with a malformed field is a recorded 402')
  conforms(t, wt.body, 'the malformed-field decline')
  t.equal(await h.available(c.user), 100000)
})

t.test('credentials', async t => {
  const c = await h.fundedCard('auth', 100000)
  const body = jitBody(c, 1)
  const none = await h.app.inject({ method: 'POST', url: '/v1/jit-funding', payload: body })
  t.equal(none.statusCode, 401)
  t.match(none.headers['www-authenticate'], /Basic/)
  const wrong = await h.jit(body, { authorization: 'Basic ' + Buffer.from('jit-test:nope').toString('base64') })
  t.equal(wrong.status, 401)
  const token = String((body.gpa_order as { jit_funding: { token: string } }).jit_funding.token)
  t.equal(await getDecision(h.db.sql, token), null, 'nothing recorded')
  t.equal(await h.available(c.user), 100000)
})

t.test('ops routes', async t => {
  t.equal((await h.app.inject({ method: 'GET', url: '/health' })).statusCode, 200)
  const metrics = await h.app.inject({ method: 'GET', url: '/metrics' })
  t.equal(metrics.statusCode, 200)
  t.match(metrics.body, /jit_stage_duration_seconds_bucket\{[^}]*stage="decision"/)
  t.match(metrics.body, /jit_decisions_total\{[^}]*outcome="declined"/)
  t.match(metrics.body, /jit_budget_timeouts_total/)
})

moneyTest('an acting_user_token too long to echo is refused, and the answer still validates', async t => {
  const c = await h.fundedCard('longacting', 100000)
  const res = await h.jit(jitBody(c, 1, { acting: 'x'.repeat(60) }))
  t.equal(res.status, 402)
  t.equal(res.body.jit_funding.decline_reason, 'TRANSACTION_NOT_PERMITTED')
  t.notOk('acting_user_token' in res.body.jit_funding)
  conforms(t, res.body, 'the answer')
  t.equal(await h.available(c.user), 100000)
})

moneyTest('text PostgreSQL cannot store: a recorded decline, or a 400 when it is in the token', async t => {
  const c = await h.fundedCard('nul', 100000)
  const res = await h.jit(jitBody(c, 1, { mcc: '54\u000011' }))
  t.equal(res.status, 402, 'NUL in the MCC: declined')
  t.equal(res.body.jit_funding.decline_reason, 'TRANSACTION_NOT_PERMITTED')
  conforms(t, res.body, 'the answer')
  const body = jitBody(c, 1, { mcc: '54\u000011' })
  const again = await h.jit(body)
  t.same((await h.jit(body)).body, again.body, 'recorded: the repeat gets the same answer')
  const bad = await h.jit(jitBody(c, 1, { token: 'tok\u0000en' }))
  t.equal(bad.status, 400, 'NUL in the JIT token: unreadable')
  t.match(bad.body.message, /token/)
  const surrogate = await h.jit(jitBody({ user: c.user, card: 'card\ud800' }, 1))
  t.equal(surrogate.status, 402, 'a lone surrogate in the card token: declined')
  t.equal(await h.available(c.user), 100000)
})
