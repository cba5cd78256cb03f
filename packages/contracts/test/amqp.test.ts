import t, { type Test } from 'tap'
import {
  EXCHANGES,
  QUEUES,
  EVENT_ROUTING_KEYS,
  COMMAND_TYPES,
  COMMAND_SCHEMAS,
  EVENT_SCHEMAS,
  UserUpsertCommand,
  CardUpsertCommand,
  AccountCreditCommand,
  AccountDebitCommand,
  LimitsSetCommand,
  HoldReleaseCommand,
  JitDecisionEvent,
  LedgerHoldEvent,
  LedgerAccountEvent,
  CommandResultEvent,
  compileValidator,
  isCommandType,
  parseAmount,
  webhookRoutingKey,
  formatAmountString
} from '../src/index.js'

t.test('names of the contract', async (t) => {
  t.same(EXCHANGES, { events: 'cards.events', commands: 'cards.commands', dlx: 'cards.dlx' })
  t.same(QUEUES, { jitFunding: 'jit-funding', transactions: 'transactions', webhooks: 'webhooks', commands: 'commands' })
  t.same(Object.values(EVENT_ROUTING_KEYS).sort(), [
    'command.applied', 'command.rejected',
    'jit.decision.answered', 'jit.decision.approved', 'jit.decision.declined',
    'ledger.account.credited', 'ledger.account.debited', 'ledger.account.overdrawn',
    'ledger.hold.captured', 'ledger.hold.expired', 'ledger.hold.increased', 'ledger.hold.placed', 'ledger.hold.released'
  ])
  t.same([...COMMAND_TYPES], ['user.upsert', 'card.upsert', 'account.credit', 'account.debit', 'limits.set', 'hold.release'])
  t.ok(isCommandType('limits.set'))
  t.notOk(isCommandType('limits.get'))
  t.same(Object.keys(COMMAND_SCHEMAS).sort(), [...COMMAND_TYPES].sort(), 'a schema per command')
  t.same(Object.keys(EVENT_SCHEMAS).sort(), Object.values(EVENT_ROUTING_KEYS).sort(), 'a schema per event')
  t.throws(() => { (EXCHANGES as { events: string }).events = 'x' }, TypeError, 'frozen')
})

t.test('webhookRoutingKey', async (t) => {
  t.equal(webhookRoutingKey('transactions', { type: 'authorization.clearing', state: 'COMPLETION' }), 'webhook.transactions.authorization.clearing', 'type keeps its dots and wins')
  t.equal(webhookRoutingKey('transactions', { type: 'authorization' }), 'webhook.transactions.authorization')
  t.equal(webhookRoutingKey('cardtransitions', { state: 'SUSPENDED' }), 'webhook.cardtransitions.SUSPENDED', 'state when no type')
  t.equal(webhookRoutingKey('chargebacktransitions', { status: 'INITIATED', state: 'X' }), 'webhook.chargebacktransitions.INITIATED', 'status before state')
  t.equal(webhookRoutingKey('pings', { token: 'marqeta' } as object), 'webhook.pings.unknown')
  t.equal(webhookRoutingKey('pings', {}), 'webhook.pings.unknown')
  t.equal(webhookRoutingKey('x', { type: '', state: 'ACTIVE' }), 'webhook.x.ACTIVE', 'an empty type falls through')
  t.equal(webhookRoutingKey('x', { type: 42, status: 'OK' }), 'webhook.x.OK', 'a non-string type falls through')
  t.equal(webhookRoutingKey('x', { type: 'a..b.' }), 'webhook.x.a.b', 'empty words dropped')
  t.equal(webhookRoutingKey('x', { type: '...' }), 'webhook.x.unknown')
  t.equal(webhookRoutingKey('x', { type: 'a#b.*.c d/é' }), 'webhook.x.a_b._.c_d__', 'wildcards and odd characters replaced')
  t.equal(webhookRoutingKey('card.transitions', { state: 'A' }), 'webhook.card_transitions.A', 'the family never adds a word')
  t.equal(webhookRoutingKey('', { state: 'A' }), 'webhook.unknown.A')
  const long = webhookRoutingKey('transactions', { type: 'a.'.repeat(300) })
  t.ok(long.length <= 255, 'cut to 255 bytes')
  t.notOk(long.endsWith('.'), 'never ends with a dot')
  t.ok(Buffer.byteLength(webhookRoutingKey('x', { type: '日本語'.repeat(100) })) <= 255)
  t.equal(webhookRoutingKey('x', null as unknown as object), 'webhook.x.unknown', 'never crashes')
})

function expectInvalid (t: Test, check: ReturnType<typeof compileValidator>, body: unknown, path: string, name: string): void {
  const r = check(body)
  t.notOk(r.ok, name)
  if (!r.ok) t.ok(r.errors.some((e) => e.path === path), `${name} names ${path || 'the root'}`, { errors: r.errors })
}

t.test('user.upsert and card.upsert', async (t) => {
  const user = compileValidator(UserUpsertCommand)
  for (const status of ['ACTIVE', 'SUSPENDED', 'CLOSED', 'UNVERIFIED', 'LIMITED']) t.ok(user({ user_token: 'u1', status }).ok, status)
  t.ok(user({ user_token: 'u1', status: 'ACTIVE', version: 3 }).ok)
  expectInvalid(t, user, { user_token: 'u1', status: 'active' }, '/status', 'lower-case status')
  expectInvalid(t, user, { user_token: 'u1', status: 'ACTIVE', version: 1.5 }, '/version', 'fractional version')
  expectInvalid(t, user, { user_token: 'u1', status: 'ACTIVE', version: -1 }, '/version', 'negative version')
  expectInvalid(t, user, { user_token: 'u1', status: 'ACTIVE', nickname: 'x' }, '/nickname', 'unknown field (strict)')
  expectInvalid(t, user, { status: 'ACTIVE' }, '/user_token', 'missing token')
  expectInvalid(t, user, { user_token: 'x'.repeat(37), status: 'ACTIVE' }, '/user_token', 'token too long')
  const bad = user({ user_token: 'u1', status: 'GONE' })
  t.match(bad.ok ? '' : bad.errors[0]?.message, /ACTIVE.*SUSPENDED/, 'the message lists the allowed values')

  const card = compileValidator(CardUpsertCommand)
  const good = { card_token: 'c1', user_token: 'u1', status: 'ACTIVE', expiration: '2030-12' }
  t.ok(card(good).ok)
  t.ok(card({ ...good, account_token: 'company-1', version: 0 }).ok)
  for (const status of ['SUSPENDED', 'TERMINATED', 'UNACTIVATED']) t.ok(card({ ...good, status }).ok, status)
  expectInvalid(t, card, { ...good, status: 'CLOSED' }, '/status', 'CLOSED is a user status')
  for (const expiration of ['2030-13', '2030-00', '30-12', '2030-1', '12/30', '2030-12-01']) expectInvalid(t, card, { ...good, expiration }, '/expiration', `expiration ${expiration}`)
  expectInvalid(t, card, { card_token: 'c1', status: 'ACTIVE', expiration: '2030-12' }, '/user_token', 'card without user')
})

t.test('account.credit and account.debit', async (t) => {
  const credit = compileValidator(AccountCreditCommand)
  const debit = compileValidator(AccountDebitCommand)
  t.ok(credit({ account_token: 'a1', amount: '100.00', currency: 'USD' }).ok)
  t.ok(credit({ user_token: 'u1', amount: '5', currency: 'JPY' }).ok)
  t.ok(debit({ account_token: 'a1', amount: '0.01', currency: 'USD', force: true }).ok)
  t.ok(debit({ user_token: 'u1', amount: '0.01', currency: 'USD' }).ok)
  expectInvalid(t, credit, { account_token: 'a1', amount: '1.00', currency: 'USD', force: true }, '/force', 'force is debit-only')
  expectInvalid(t, credit, { account_token: 'a1', user_token: 'u1', amount: '1.00', currency: 'USD' }, '/user_token', 'both tokens')
  expectInvalid(t, credit, { amount: '1.00', currency: 'USD' }, '/account_token', 'neither token')
  for (const amount of [100, '1e3', '-1.00', '+1', ' 1', '1.', '.5', '', '1,00', '1.23456']) {
    expectInvalid(t, credit, { account_token: 'a1', amount, currency: 'USD' }, '/amount', `amount ${JSON.stringify(amount)}`)
  }
  for (const currency of ['usd', 'US', 'DOLLAR']) expectInvalid(t, debit, { account_token: 'a1', amount: '1', currency }, '/currency', `currency ${currency}`)
  expectInvalid(t, debit, { account_token: 'a1', amount: '1', currency: 'USD', force: 'yes' }, '/force', 'force not boolean')
  // The schema admits the shape; exactness for the currency is parseAmount's job, in the service.
  const ok = credit({ account_token: 'a1', amount: '1.005', currency: 'USD' })
  t.ok(ok.ok, 'shape ok')
  t.throws(() => parseAmount('1.005', 'USD'), { code: 'NOT_EXACT' }, 'but not exact for USD')
})

t.test('limits.set and hold.release', async (t) => {
  const limits = compileValidator(LimitsSetCommand)
  t.ok(limits({ scope: 'user', token: 'u1', currency: 'USD' }).ok, 'no limits at all')
  t.ok(limits({ scope: 'card', token: 'c1', currency: 'USD', per_transaction: '500.00', daily: '1000', monthly: '5000.00', daily_count: 20, blocked_mccs: ['7995', '6051'], version: 2 }).ok)
  expectInvalid(t, limits, { scope: 'account', token: 'a', currency: 'USD' }, '/scope', 'scope')
  expectInvalid(t, limits, { scope: 'user', token: 'u1', currency: 'USD', daily: 1000 }, '/daily', 'daily as a number')
  expectInvalid(t, limits, { scope: 'user', token: 'u1', currency: 'USD', daily_count: -1 }, '/daily_count', 'negative count')
  expectInvalid(t, limits, { scope: 'user', token: 'u1', currency: 'USD', blocked_mccs: ['799'] }, '/blocked_mccs/0', 'mcc of 3 digits')
  expectInvalid(t, limits, { scope: 'user', token: 'u1', currency: 'USD', weekly: '1' }, '/weekly', 'unknown limit kind')
  expectInvalid(t, limits, { scope: 'user', token: 'u1' }, '/currency', 'currency required')

  const release = compileValidator(HoldReleaseCommand)
  t.ok(release({ jit_token: 'jit-1', reason: 'merchant confirmed cancellation', operator: 'alice@support' }).ok)
  expectInvalid(t, release, { jit_token: 'jit-1', reason: '', operator: 'alice' }, '/reason', 'empty reason')
  expectInvalid(t, release, { jit_token: 'jit-1', reason: 'x' }, '/operator', 'operator required (audit)')
})

t.test('event bodies', async (t) => {
  const at = '2025-01-02T03:04:05.678Z'
  const decision = compileValidator(JitDecisionEvent)
  const approved = {
    jit_token: 'jit-1',
    decision: 'approved',
    http_status: 200,
    method: 'pgfs.authorization',
    method_class: 'authorization',
    source: 'gpa_order',
    user_token: 'u1',
    card_token: 'c1',
    account_token: 'a1',
    transaction_token: 'txn-1',
    amount_minor: 4250,
    amount: formatAmountString(4250, 'USD'),
    currency: 'USD',
    mcc: '5411',
    occurred_at: at
  }
  t.ok(decision(approved).ok, 'approved')
  t.ok(decision({ ...approved, decision: 'declined', http_status: 402, decline_reason: 'INSUFFICIENT_FUNDS' }).ok, 'declined')
  const { amount_minor: _m, amount: _a, currency: _c, ...noAmount } = approved
  t.ok(decision({ ...noAmount, decision: 'declined', http_status: 402, decline_reason: 'INVALID_AMOUNT' }).ok, 'a declined unparseable amount carries no amount')
  expectInvalid(t, decision, { ...approved, decline_reason: 'BROKE' }, '/decline_reason', 'decline reason outside the list')
  expectInvalid(t, decision, { ...approved, http_status: 500 }, '/http_status', 'only 200 and 402')
  expectInvalid(t, decision, { ...approved, amount_minor: 42.5 }, '/amount_minor', 'minor units are integers')
  expectInvalid(t, decision, { ...approved, occurred_at: 'now' }, '/occurred_at', 'timestamp')
  expectInvalid(t, decision, { ...approved, method_class: 'purchase' }, '/method_class', 'method class')

  const hold = compileValidator(LedgerHoldEvent)
  const placed = {
    jit_token: 'jit-1',
    account_token: 'a1',
    currency: 'USD',
    amount_minor: 10000,
    amount: '100.00',
    authorized_minor: 10000,
    captured_minor: 0,
    released_minor: 0,
    remaining_minor: 10000,
    state: 'OPEN',
    forced: false,
    occurred_at: at
  }
  t.ok(hold(placed).ok)
  t.ok(hold({ ...placed, state: 'CLOSED', captured_minor: 12000, over_captured_minor: 2000, remaining_minor: 0 }).ok)
  expectInvalid(t, hold, { ...placed, state: 'REOPENED' }, '/state', 'hold state')
  expectInvalid(t, hold, { ...placed, amount: '-1.00' }, '/amount', 'event amounts are magnitudes')
  expectInvalid(t, hold, { ...placed, forced: undefined }, '/forced', 'forced required')

  const account = compileValidator(LedgerAccountEvent)
  const overdrawn = {
    account_token: 'a1',
    currency: 'USD',
    amount_minor: 3000,
    amount: '30.00',
    balance_minor: -1000,
    balance: '-10.00',
    available_minor: -1000,
    available: '-10.00',
    kind: 'force_capture',
    forced: true,
    occurred_at: at
  }
  t.ok(account(overdrawn).ok)
  expectInvalid(t, account, { ...overdrawn, balance_minor: Number.MAX_SAFE_INTEGER + 2 }, '/balance_minor', 'unsafe integers')

  const result = compileValidator(CommandResultEvent)
  t.ok(result({ command_type: 'user.upsert', command_message_id: 'm1', outcome: 'applied', entity_token: 'u1', version: 3, occurred_at: at }).ok)
  t.ok(result({ command_type: 'user.upsert', command_message_id: 'm1', outcome: 'stale', occurred_at: at }).ok)
  t.ok(result({ command_type: 'not.a.command', command_message_id: 'm1', outcome: 'rejected', reason: 'UNKNOWN_COMMAND', occurred_at: at }).ok)
  t.ok(result({ command_type: 'account.debit', command_message_id: 'm2', outcome: 'rejected', reason: 'INVALID', errors: [{ path: '/amount', message: 'bad' }], occurred_at: at }).ok)
  t.notOk(result({ command_type: 'account.debit', command_message_id: 'm2', outcome: 'rejected', occurred_at: at }).ok, 'rejected needs a reason')
  t.notOk(result({ command_type: 'nope', command_message_id: 'm2', outcome: 'applied', occurred_at: at }).ok, 'applied needs a real command type')
  t.ok(compileValidator(EVENT_SCHEMAS['command.rejected'])({ command_type: 'x', command_message_id: 'm', outcome: 'rejected', reason: 'R', occurred_at: at }).ok)
})
