import t, { type Test } from 'tap'
import {
  JitProgramResponse,
  JitFundingRequest,
  CardholderBalance,
  compileValidator,
  extractJitFunding,
  parseJitFundingRequest,
  buildJitResponse,
  buildCardholderBalance,
  DECLINE_REASONS
} from '../src/index.js'
import { FULL_SWAGGER, loadFixture, loadSwagger, swaggerValidator } from '@jit/test-support'

const ours = compileValidator(JitProgramResponse)
const swaggers = swaggerValidator('jit_program_response')

function bothAccept (t: Test, body: unknown, name: string): void {
  const mine = ours(body)
  t.ok(mine.ok, `${name}: our TypeBox schema accepts`, { errors: mine.ok ? [] : mine.errors })
  t.ok(swaggers(body), `${name}: the swagger's jit_program_response accepts`, { errors: swaggers.errors })
}

const authRequest = {
  type: 'authorization',
  state: 'PENDING',
  token: 'txn-1',
  user_token: 'user-1',
  acting_user_token: 'user-1',
  card_token: 'card-1',
  currency_code: 'USD',
  amount: 42.5,
  network: 'VISA',
  card_acceptor: { mid: '000', mcc: '5411', name: 'Grocer', city: 'Oakland', country_code: 'USA', poi: { partial_approval_capable: true } },
  gpa: { currency_code: 'USD', ledger_balance: 0 },
  gpa_order: {
    token: 'gpa-1',
    amount: 42.5,
    jit_funding: {
      token: 'jit-1',
      method: 'pgfs.authorization',
      user_token: 'user-1',
      acting_user_token: 'user-1',
      amount: 42.5,
      future_field: { anything: true }
    }
  },
  some_new_top_level_field: 'passes'
}

t.test('sample approve, decline and balance-inquiry answers validate against ours AND the swagger', async (t) => {
  const identity = { token: 'jit-1', method: 'pgfs.authorization', user_token: 'user-1', acting_user_token: 'user-1' }
  const approve = buildJitResponse({ jitFunding: identity, amountMinor: 4250, currency: 'USD' })
  t.same(approve, { jit_funding: { token: 'jit-1', method: 'pgfs.authorization', user_token: 'user-1', acting_user_token: 'user-1', amount: 42.5 } })
  bothAccept(t, approve, 'approve')

  for (const reason of DECLINE_REASONS) {
    const decline = buildJitResponse({ jitFunding: identity, amountMinor: 4250, currency: 'USD', declineReason: reason, memo: 'm'.repeat(150), tags: 't'.repeat(300) })
    t.equal(decline.jit_funding.memo?.length, 99, 'memo cut to 99')
    t.equal(decline.jit_funding.tags?.length, 255, 'tags cut to 255')
    bothAccept(t, decline, `decline ${reason}`)
  }

  const at = new Date('2025-01-02T03:04:05.678Z')
  const balance = buildCardholderBalance({ currency: 'USD', ledgerMinor: 100000, availableMinor: 90000, pendingCreditsMinor: 1, lastUpdated: at })
  t.same(balance, {
    currency_code: 'USD',
    ledger_balance: 1000,
    available_balance: 900,
    credit_balance: 0,
    cached_balance: 900,
    pending_credits: 0.01,
    balances: {},
    last_updated_time: '2025-01-02T03:04:05.678Z'
  })
  const inquiry = buildJitResponse({
    jitFunding: { token: 'jit-2', method: 'pgfs.balanceinquiry', user_token: 'user-1' },
    amountMinor: 0,
    currency: 'USD',
    balances: { USD: balance }
  })
  bothAccept(t, inquiry, 'balance inquiry')

  const nested = { jit_funding: { ...inquiry.jit_funding, balances: { USD: { ...balance, balances: { USD: { ...balance, balances: {} } } } } } }
  bothAccept(t, nested, 'balance inquiry with a nested per-currency map')

  const avs = buildJitResponse({
    jitFunding: identity,
    amountMinor: 1,
    currency: 'USD',
    addressVerification: { gateway: { on_file: { street_address: '1 Main St', zip: '94612' }, response: { code: '0000', memo: 'Address and postal code match' } } }
  })
  bothAccept(t, avs, 'AVS override')

  const jpy = buildJitResponse({ jitFunding: identity, amountMinor: 1234, currency: 'JPY' })
  t.equal(jpy.jit_funding.amount, 1234)
  const bhd = buildJitResponse({ jitFunding: identity, amountMinor: 1234, currency: 'BHD' })
  t.equal(bhd.jit_funding.amount, 1.234)
})

t.test('our response schema is strict where the swagger is loose', async (t) => {
  const base = { token: 'jit-1', method: 'pgfs.authorization', user_token: 'user-1', amount: 1 }
  const cases: Array<[string, unknown]> = [
    ['unknown field in jit_funding', { jit_funding: { ...base, approved: true } }],
    ['unknown top-level field', { jit_funding: base, extra: 1 }],
    ['decline reason outside the list', { jit_funding: { ...base, decline_reason: 'NOPE' } }],
    ['negative amount', { jit_funding: { ...base, amount: -1 } }],
    ['amount as a string', { jit_funding: { ...base, amount: '1.00' } }],
    ['memo of 100 chars', { jit_funding: { ...base, memo: 'x'.repeat(100) } }],
    ['tags of 256 chars', { jit_funding: { ...base, tags: 'x'.repeat(256) } }],
    ['token of 37 chars', { jit_funding: { ...base, token: 'x'.repeat(37) } }],
    ['missing amount', { jit_funding: { token: 'a', method: 'pgfs.authorization', user_token: 'u' } }],
    ['balance without cached_balance', { jit_funding: { ...base, balances: { USD: { currency_code: 'USD', ledger_balance: 1, available_balance: 1, credit_balance: 0, pending_credits: 0, balances: {}, last_updated_time: '2025-01-01T00:00:00Z' } } } }],
    ['balance with a bad timestamp', { jit_funding: { ...base, balances: { USD: { currency_code: 'USD', ledger_balance: 1, available_balance: 1, credit_balance: 0, cached_balance: 1, pending_credits: 0, balances: {}, last_updated_time: 'yesterday' } } } }],
    ['balances keyed by a non-currency', { jit_funding: { ...base, balances: { dollars: { currency_code: 'USD', ledger_balance: 1, available_balance: 1, credit_balance: 0, cached_balance: 1, pending_credits: 0, balances: {}, last_updated_time: '2025-01-01T00:00:00Z' } } } }]
  ]
  for (const [name, body] of cases) {
    const r = ours(body)
    t.notOk(r.ok, name)
    if (!r.ok) t.ok(r.errors.length > 0 && r.errors.every((e) => typeof e.path === 'string' && e.message !== ''), `${name}: errors name the field`)
  }
  // Where both have an opinion, the swagger agrees these are wrong.
  t.notOk(swaggers({ jit_funding: { ...base, amount: -1 } }), 'swagger: negative amount')
  t.notOk(swaggers({ jit_funding: { ...base, memo: 'x'.repeat(100) } }), 'swagger: long memo')
  t.notOk(swaggers({ jit_funding: { token: 'a', method: 'pgfs.authorization', user_token: 'u' } }), 'swagger: missing amount')
})

t.test('an unknown method is echoed (deliberately looser than the swagger enum)', async (t) => {
  const body = buildJitResponse({ jitFunding: { token: 'j', method: 'pgfs.something.new', user_token: 'u' }, amountMinor: 0, currency: 'USD' })
  t.ok(ours(body).ok)
  t.notOk(swaggers(body), 'the swagger would refuse it, which is why we do not use its enum')
})

t.test('the vendored swagger subset matches the full swagger', { skip: FULL_SWAGGER === undefined && 'TEST_PROCESSOR_SWAGGER names no full swagger' }, async (t) => {
  const full = loadSwagger().swagger
  const fixture = loadFixture()
  for (const [name, def] of Object.entries(fixture.definitions)) t.same(def, full.definitions[name], name)
})

t.test('JitFundingRequest is lenient: unknown fields pass, needed fields are checked', async (t) => {
  const check = compileValidator(JitFundingRequest)
  t.ok(check(authRequest).ok, 'a realistic request passes with extra fields')
  const unload = { gpa_order_unload: { jit_funding: { token: 'j', method: 'pgfs.refund', user_token: 'u', amount: '1.00' } } }
  t.ok(check(unload).ok, 'gpa_order_unload and a string amount')
  t.notOk(check({ gpa_order: {} }).ok, 'no jit_funding')
  t.notOk(check({}).ok, 'no order')
  t.notOk(check({ gpa_order: { jit_funding: { ...authRequest.gpa_order.jit_funding, token: '' } } }).ok, 'empty token')
  t.notOk(check({ gpa_order: { jit_funding: { ...authRequest.gpa_order.jit_funding, user_token: 'x'.repeat(37) } } }).ok, 'user_token too long')
  t.notOk(check({ gpa_order: { jit_funding: { ...authRequest.gpa_order.jit_funding, amount: true } } }).ok, 'boolean amount')
  t.notOk(check({ ...authRequest, card_acceptor: { mcc: 5411 } }).ok, 'numeric mcc')
  t.notOk(check({ ...authRequest, gpa_order: { jit_funding: { ...authRequest.gpa_order.jit_funding, incremental_authorization_jit_funding_tokens: 'jit-0' } } }).ok, 'tokens not an array')
})

t.test('extractJitFunding', async (t) => {
  t.same(extractJitFunding(authRequest), { source: 'gpa_order', jitFunding: authRequest.gpa_order.jit_funding })
  const jf = { token: 'j', method: 'pgfs.refund', user_token: 'u', amount: 1 }
  t.same(extractJitFunding({ gpa_order_unload: { jit_funding: jf } }), { source: 'gpa_order_unload', jitFunding: jf })
  t.equal(extractJitFunding({ gpa_order: { jit_funding: jf }, gpa_order_unload: { jit_funding: { ...jf, token: 'other' } } })?.source, 'gpa_order', 'gpa_order wins')
  t.equal(extractJitFunding({ gpa_order: { jit_funding: null }, gpa_order_unload: { jit_funding: jf } })?.source, 'gpa_order_unload')
  for (const body of [null, undefined, 'x', 1, [], {}, { gpa_order: null }, { gpa_order: { jit_funding: [] } }, { gpa_order: { jit_funding: 'x' } }, [{ gpa_order: { jit_funding: jf } }]]) {
    t.equal(extractJitFunding(body), null, JSON.stringify(body) ?? 'undefined')
  }
})

t.test('parseJitFundingRequest sorts bodies into ok / invalid (402) / unreadable (400)', async (t) => {
  const ok = parseJitFundingRequest(authRequest)
  t.equal(ok.kind, 'ok')
  if (ok.kind === 'ok') {
    t.equal(ok.source, 'gpa_order')
    t.equal(ok.jitFunding.token, 'jit-1')
    t.equal(ok.jitFunding.amount, 42.5)
  }

  for (const amount of [true, null, { value: 1 }, [1]]) {
    const r = parseJitFundingRequest({ gpa_order: { jit_funding: { token: 'jit-9', method: 'pgfs.authorization', user_token: 'u', amount } } })
    t.equal(r.kind, 'invalid', `amount ${JSON.stringify(amount)}`)
    if (r.kind === 'invalid') {
      t.equal(r.identity.token, 'jit-9')
      t.same(r.errors.map((e) => e.path), ['/gpa_order/jit_funding/amount'])
      t.equal(r.errors[0]?.message, 'Expected number or string')
    }
  }
  const missingAmount = parseJitFundingRequest({ gpa_order_unload: { jit_funding: { token: 'jit-9', method: 'pgfs.refund', user_token: 'u' } } })
  t.equal(missingAmount.kind, 'invalid', 'missing amount is still answerable')
  if (missingAmount.kind === 'invalid') {
    t.equal(missingAmount.source, 'gpa_order_unload')
    t.equal(missingAmount.errors[0]?.path, '/gpa_order_unload/jit_funding/amount')
  }
  const badTop = parseJitFundingRequest({ ...authRequest, card_acceptor: { mcc: 5411 } })
  t.equal(badTop.kind, 'invalid')
  if (badTop.kind === 'invalid') t.equal(badTop.errors[0]?.path, '/card_acceptor/mcc')

  const unreadable: Array<[unknown, string]> = [
    ['not json object', ''],
    [[], ''],
    [null, ''],
    [{}, '/gpa_order/jit_funding'],
    [{ gpa_order: { jit_funding: { method: 'pgfs.authorization', user_token: 'u', amount: 1 } } }, '/gpa_order/jit_funding/token'],
    [{ gpa_order: { jit_funding: { token: 'j', user_token: 'u', amount: 1 } } }, '/gpa_order/jit_funding/method'],
    [{ gpa_order: { jit_funding: { token: 'j', method: 'pgfs.authorization', user_token: 7, amount: 1 } } }, '/gpa_order/jit_funding/user_token'],
    [{ gpa_order: { jit_funding: { token: 'x'.repeat(37), method: 'pgfs.authorization', user_token: 'u', amount: 1 } } }, '/gpa_order/jit_funding/token']
  ]
  for (const [body, path] of unreadable) {
    const r = parseJitFundingRequest(body)
    t.equal(r.kind, 'unreadable', JSON.stringify(body))
    t.equal(r.kind === 'unreadable' ? r.errors[0]?.path : null, path, `names ${path || 'the root'}`)
  }
})

t.test('CardholderBalance is exported for services that build balances by hand', async (t) => {
  const check = compileValidator(CardholderBalance)
  t.ok(check(buildCardholderBalance({ currency: 'EUR', ledgerMinor: -5, availableMinor: -105, lastUpdated: '2025-01-01T00:00:00Z' })).ok, 'negative balances are numbers too')
  t.notOk(check({ currency_code: 'EUR' }).ok)
})
