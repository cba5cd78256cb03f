import t from 'tap'
import {
  KNOWN_WEBHOOK_FAMILIES,
  MAX_WEBHOOK_BATCH,
  SUCCESS_RESPONSE_CODES,
  TransactionEvent,
  WebhookBatch,
  compileValidator,
  isKnownWebhookFamily,
  splitWebhookBatch
} from '../src/index.js'
import { loadSwagger } from '@jit/test-support'

const checkBatch = compileValidator(WebhookBatch)
const checkTxn = compileValidator(TransactionEvent)

const clearing = {
  token: 'txn-2',
  type: 'authorization.clearing',
  state: 'COMPLETION',
  user_token: 'user-1',
  card_token: 'card-1',
  amount: 42.5,
  currency_code: 'USD',
  is_final_clearing: true,
  preceding_related_transaction_token: 'txn-1',
  gpa: { currency_code: 'USD', impacted_amount: -42.5, ledger_balance: 957.5 },
  gpa_order: {
    token: 'gpa-2',
    jit_funding: { token: 'jit-2', method: 'pgfs.authorization.capture', user_token: 'user-1', amount: 42.5, original_jit_funding_token: 'jit-1' },
    funding: { gateway_log: { order_number: 'o', transaction_id: 'x', message: 'Approved', timed_out: false } }
  },
  card_acceptor: { mcc: '5411', name: 'Grocer' },
  response: { code: '0000', memo: 'Approved or completed successfully' },
  network: 'VISA',
  acquirer: { institution_country: '840' }
}

t.test('known families', async (t) => {
  for (const f of ['transactions', 'cardtransitions', 'usertransitions', 'businesstransitions', 'digitalwallettokentransitions', 'chargebacktransitions', 'pings']) {
    t.ok(isKnownWebhookFamily(f), f)
    t.ok((KNOWN_WEBHOOK_FAMILIES as readonly string[]).includes(f))
  }
  t.notOk(isKnownWebhookFamily('transaction'))
  t.equal(MAX_WEBHOOK_BATCH, 10)
  t.same(SUCCESS_RESPONSE_CODES, ['0000', '0002', '1830'])
})

t.test('WebhookBatch accepts one family of 1..10 events, each with a token', async (t) => {
  t.ok(checkBatch({ pings: [{ token: 'marqeta', payload: 'healthcheck' }] }).ok, 'ping')
  t.ok(checkBatch({ transactions: [clearing] }).ok, 'transactions')
  t.ok(checkBatch({ cardtransitions: [{ token: 'ct-1', state: 'SUSPENDED', card_token: 'c' }] }).ok, 'card transition')
  t.ok(checkBatch({ somefuturefamily: [{ token: 'x' }] }).ok, 'an unknown family is still accepted (routed by name)')
  t.ok(checkBatch({ transactions: Array.from({ length: 10 }, (_, i) => ({ token: `t${i}` })) }).ok, '10 events')

  const bad: Array<[string, unknown, string]> = [
    ['11 events', { transactions: Array.from({ length: 11 }, (_, i) => ({ token: `t${i}` })) }, '/transactions'],
    ['empty batch array', { transactions: [] }, '/transactions'],
    ['no family', {}, ''],
    ['two families', { transactions: [{ token: 'a' }], pings: [{ token: 'b' }] }, ''],
    ['event without token', { transactions: [{ type: 'authorization' }] }, '/transactions/0/token'],
    ['event with empty token', { transactions: [{ token: '' }] }, '/transactions/0/token'],
    ['event not an object', { transactions: ['x'] }, '/transactions/0'],
    ['family not an array', { transactions: { token: 'a' } }, '/transactions'],
    ['family name with a dot (would break routing)', { 'a.b': [{ token: 'a' }] }, '/a.b'],
    ['family name with a wildcard', { '#': [{ token: 'a' }] }, '/#'],
    ['not an object', [{ token: 'a' }], '']
  ]
  for (const [name, body, path] of bad) {
    const r = checkBatch(body)
    t.notOk(r.ok, name)
    if (!r.ok) t.ok(r.errors.some((e) => e.path === path), `${name} names ${path || 'the root'}`, { errors: r.errors })
  }
})

t.test('splitWebhookBatch', async (t) => {
  const { family, events } = splitWebhookBatch({ transactions: [clearing, { token: 'b' }] })
  t.equal(family, 'transactions')
  t.equal(events.length, 2)
  t.equal(events[0]?.token, 'txn-2')
  t.throws(() => splitWebhookBatch({}), /exactly one family/)
  t.throws(() => splitWebhookBatch({ a: [{ token: 'x' }], b: [{ token: 'y' }] }), /exactly one family/)
})

t.test('TransactionEvent is lenient but types what the ledger reads', async (t) => {
  const r = checkTxn(clearing)
  t.ok(r.ok, 'a realistic clearing passes with extra fields')
  if (r.ok) {
    t.equal(r.value.is_final_clearing, true)
    t.equal(r.value.gpa_order?.funding?.gateway_log?.timed_out, false)
    t.equal(r.value.gpa?.impacted_amount, -42.5)
  }
  // The sandbox omits fields the swagger marks required (docs/processor-protocol.md); that must not matter.
  t.ok(checkTxn({ token: 't', type: 'authorization', state: 'PENDING' }).ok, 'minimal event')
  t.ok(checkTxn({ ...clearing, gpa: { impacted_amount: '-42.50' } }).ok, 'string amounts pass to parseAmount')
  t.ok(checkTxn({ ...clearing, gpa_order_unload: { jit_funding: { token: 'j2', amount: 1 } } }).ok, 'unload')

  const bad: Array<[string, unknown, string]> = [
    ['no type', { token: 't', state: 'PENDING' }, '/type'],
    ['no state', { token: 't', type: 'authorization' }, '/state'],
    ['is_final_clearing as a string', { ...clearing, is_final_clearing: 'true' }, '/is_final_clearing'],
    ['timed_out as a string', { ...clearing, gpa_order: { funding: { gateway_log: { timed_out: 'yes' } } } }, '/gpa_order/funding/gateway_log/timed_out'],
    ['jit_funding without token', { ...clearing, gpa_order: { jit_funding: { amount: 1 } } }, '/gpa_order/jit_funding/token'],
    ['boolean impacted_amount', { ...clearing, gpa: { impacted_amount: true } }, '/gpa/impacted_amount'],
    ['numeric response code', { ...clearing, response: { code: 0 } }, '/response/code'],
    ['numeric mcc', { ...clearing, card_acceptor: { mcc: 5411 } }, '/card_acceptor/mcc']
  ]
  for (const [name, body, path] of bad) {
    const res = checkTxn(body)
    t.notOk(res.ok, name)
    if (!res.ok) t.equal(res.errors[0]?.path, path, `${name} names ${path}`)
  }
})

t.test('field names and places agree with the swagger transaction_model', async (t) => {
  const { swagger } = loadSwagger()
  const txn = swagger.definitions.transaction_model as { properties?: Record<string, unknown> } | undefined
  if (txn?.properties === undefined) {
    t.pass('only the vendored subset is here; transaction_model not vendored')
    return
  }
  const props = (TransactionEvent as unknown as { properties: Record<string, unknown> }).properties
  for (const name of Object.keys(props)) t.ok(name in txn.properties, `transaction_model has top-level ${name}`)
  const gateway = swagger.definitions.gateway_log_model as { properties: Record<string, unknown> }
  t.ok('timed_out' in gateway.properties, 'gateway_log_model.timed_out')
})
