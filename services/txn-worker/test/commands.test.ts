import { randomUUID } from 'node:crypto'
import t from 'tap'
import { CommandResultEvent, compileValidator } from '@jit/contracts'
import { getAccount, getHold, loadCard, loadLimits, loadUser } from '@jit/ledger'
import { sleep, waitFor } from '@jit/test-support'
import { answersTo, authorize, counterValue, build, fundedCard, type SeenEvent } from './helper.js'

const env = await build(t)
const { db, cache, amqp } = env

// What the card cache held when each command.applied for a card arrived.
const cardCacheAtAnswer = new Map<string, unknown>()
const { seen } = await env.watchEvents(['command.#'], async (e: SeenEvent) => {
  const token = e.body.entity_token
  if (e.body.command_type === 'card.upsert' && typeof token === 'string') {
    cardCacheAtAnswer.set(String(e.correlationId), await cache.get('card', token))
  }
})
env.startWorker({ queues: ['commands'], loops: false })

const checkAnswer = compileValidator(CommandResultEvent)

/** Sends a command and waits for its single answer. */
async function command (type: string, body: unknown, messageId = randomUUID()): Promise<SeenEvent> {
  await env.sendCommand(type, body, messageId)
  const [answer] = await waitFor(() => { const a = answersTo(seen, messageId); return a.length > 0 ? a : null }, 15_000, `answer to ${type}`)
  return answer as SeenEvent
}

async function deadDepth (queue: string): Promise<number> {
  return (await amqp.connection.queueDeclare({ queue: `${queue}.dead`, passive: true })).messageCount
}

t.test('user.upsert is applied and answered with the contract event', async t => {
  const answer = await command('user.upsert', { user_token: 'u-alice', status: 'ACTIVE' })
  t.equal(answer.routingKey, 'command.applied')
  t.ok(checkAnswer(answer.body).ok, 'answer matches CommandResultEvent')
  t.equal(answer.body.outcome, 'applied')
  t.equal(answer.body.command_type, 'user.upsert')
  t.equal(answer.body.entity_token, 'u-alice')
  t.equal(answer.body.command_message_id, answer.correlationId)
  t.equal((await loadUser(db.sql, 'u-alice'))?.status, 'ACTIVE')
})

t.test('card.upsert invalidates the cached card before command.applied is published', async t => {
  await cache.set('card', 'c-alice', { card_token: 'c-alice', status: 'SUSPENDED', stale: true })
  t.ok(await cache.get('card', 'c-alice'), 'the cache holds an entry before the command')
  const id = randomUUID()
  const answer = await command('card.upsert', { card_token: 'c-alice', user_token: 'u-alice', status: 'ACTIVE', expiration: '2030-01', version: 2 }, id)
  t.equal(answer.routingKey, 'command.applied')
  t.equal(answer.body.version, 2)
  t.ok(cardCacheAtAnswer.has(id), 'the cache was read when the answer arrived')
  t.equal(cardCacheAtAnswer.get(id), undefined, 'the old entry was already gone')
  const card = await loadCard(db.sql, 'c-alice')
  t.equal(card?.status, 'ACTIVE')
  t.equal(card?.expiration, '2030-01')
})

t.test('an older version is acknowledged as stale and changes nothing', async t => {
  const newer = await command('user.upsert', { user_token: 'u-ver', status: 'ACTIVE', version: 5 })
  t.equal(newer.body.outcome, 'applied')
  const older = await command('user.upsert', { user_token: 'u-ver', status: 'SUSPENDED', version: 3 })
  t.equal(older.routingKey, 'command.applied')
  t.equal(older.body.outcome, 'stale')
  t.ok(checkAnswer(older.body).ok)
  const user = await loadUser(db.sql, 'u-ver')
  t.equal(user?.status, 'ACTIVE', 'the stale command changed nothing')
  t.equal(user?.command_version, 5)
  const same = await command('user.upsert', { user_token: 'u-ver', status: 'SUSPENDED', version: 6 })
  t.equal(same.body.outcome, 'applied')
  t.equal((await loadUser(db.sql, 'u-ver'))?.status, 'SUSPENDED')
})

t.test('limits.set stores exact minor units and invalidates the limits key', async t => {
  await cache.set('limits', 'card:c-alice:USD', { per_transaction: 1 })
  const answer = await command('limits.set', { scope: 'card', token: 'c-alice', currency: 'USD', per_transaction: '12.50', daily: '100', daily_count: 3, blocked_mccs: ['7995'] })
  t.equal(answer.routingKey, 'command.applied')
  t.equal(await cache.get('limits', 'card:c-alice:USD'), undefined)
  const limits = await loadLimits(db.sql, 'card', 'c-alice', 'USD')
  t.equal(limits?.per_transaction, 1250)
  t.equal(limits?.daily, 10000)
  t.equal(limits?.monthly, null, 'an absent field means no limit')
  t.equal(limits?.daily_count, 3)
  t.same(limits?.blocked_mccs, ['7995'])

  const bad = await command('limits.set', { scope: 'card', token: 'c-alice', currency: 'USD', per_transaction: '1.005' })
  t.equal(bad.routingKey, 'command.rejected')
  t.equal(bad.body.reason, 'INVALID_AMOUNT')
  t.equal((await loadLimits(db.sql, 'card', 'c-alice', 'USD'))?.per_transaction, 1250, 'a rejected command changes nothing')
})

t.test('account.credit and account.debit move money; a debit beyond available is rejected unless forced', async t => {
  const credit = await command('account.credit', { user_token: 'u-alice', amount: '100.00', currency: 'USD' })
  t.equal(credit.routingKey, 'command.applied')
  t.equal(credit.body.outcome, 'applied')
  t.equal((await getAccount(db.sql, 'u-alice'))?.balance, 10000)

  const debit = await command('account.debit', { account_token: 'u-alice', amount: '30.25', currency: 'USD' })
  t.equal(debit.body.outcome, 'applied')
  t.equal((await getAccount(db.sql, 'u-alice'))?.balance, 6975)

  const tooMuch = await command('account.debit', { account_token: 'u-alice', amount: '100', currency: 'USD' })
  t.equal(tooMuch.routingKey, 'command.rejected')
  t.equal(tooMuch.body.reason, 'INSUFFICIENT_FUNDS')
  t.ok(checkAnswer(tooMuch.body).ok)
  t.equal((await getAccount(db.sql, 'u-alice'))?.balance, 6975, 'nothing moved')

  const forced = await command('account.debit', { account_token: 'u-alice', amount: '100', currency: 'USD', force: true })
  t.equal(forced.routingKey, 'command.applied')
  t.equal((await getAccount(db.sql, 'u-alice'))?.available, -3025, 'a forced debit may overdraw')

  const unknown = await command('account.debit', { account_token: 'nobody', amount: '1', currency: 'USD' })
  t.equal(unknown.body.reason, 'UNKNOWN_ACCOUNT')
  const mismatch = await command('account.credit', { account_token: 'u-alice', amount: '1', currency: 'EUR' })
  t.equal(mismatch.body.reason, 'CURRENCY_MISMATCH')
  const zero = await command('account.credit', { account_token: 'u-alice', amount: '0', currency: 'USD' })
  t.equal(zero.body.reason, 'INVALID_AMOUNT')
})

t.test('commands naming a reserved counter-account are answered command.rejected, never applied', async t => {
  for (const [type, body] of [
    ['account.credit', { account_token: 'network_settlement:USD', amount: '5.00', currency: 'USD' }],
    ['account.credit', { account_token: 'program_funding:USD', amount: '5.00', currency: 'USD' }],
    ['account.debit', { user_token: 'program_funding:USD', amount: '5.00', currency: 'USD', force: true }],
    ['user.upsert', { user_token: 'network_settlement:EUR', status: 'ACTIVE' }],
    ['card.upsert', { card_token: 'c-reserved', user_token: 'u-reserved', account_token: 'program_funding:USD', status: 'ACTIVE', expiration: '2099-12' }]
  ] as const) {
    const answer = await command(type, body)
    t.equal(answer.routingKey, 'command.rejected', `${type} ${JSON.stringify(body)} answered`)
    t.equal(answer.body.reason, 'RESERVED_ACCOUNT')
    t.match(answer.body.message, /reserved/)
    t.ok(checkAnswer(answer.body).ok)
  }
  const [row] = await db.sql<Array<{ n: number }>>`select count(*)::int as n from accounts where account_token ~ '^[a-z_]+:'`
  t.equal(row?.n, 0, 'no account carries a counter-account name')
  t.equal(await loadUser(db.sql, 'network_settlement:EUR'), null)
  t.equal(await loadCard(db.sql, 'c-reserved'), null)
  t.equal(await deadDepth('commands'), 0, 'nothing dead-lettered')
})

t.test('a duplicate message_id is applied once and answered once', async t => {
  const id = randomUUID()
  // the same message published three times, two of them at once
  await Promise.all([
    env.sendCommand('account.credit', { account_token: 'dup-acct', amount: '5.00', currency: 'USD' }, id),
    env.sendCommand('account.credit', { account_token: 'dup-acct', amount: '5.00', currency: 'USD' }, id)
  ])
  await waitFor(() => answersTo(seen, id).length > 0, 15_000, 'the first answer')
  await env.sendCommand('account.credit', { account_token: 'dup-acct', amount: '5.00', currency: 'USD' }, id)
  await waitFor(async () => await counterValue(env.registry, 'txn_worker_duplicates_skipped_total', { queue: 'commands' }) >= 2, 15_000, 'duplicates skipped')
  await sleep(300)
  t.equal(answersTo(seen, id).length, 1, 'one answer')
  t.equal((await getAccount(db.sql, 'dup-acct'))?.balance, 500, 'credited once')
})

t.test('invalid commands are rejected with the problem, never retried or dead-lettered', async t => {
  const missing = await command('card.upsert', { card_token: 'c-x', status: 'ACTIVE' })
  t.equal(missing.routingKey, 'command.rejected')
  t.equal(missing.body.reason, 'INVALID')
  t.ok(checkAnswer(missing.body).ok)
  const paths = (missing.body.errors as Array<{ path: string }>).map(e => e.path)
  t.ok(paths.includes('/user_token') || paths.includes('/expiration'), `errors name the missing fields: ${paths.join(', ')}`)
  t.equal(missing.body.entity_token, 'c-x')

  const extra = await command('user.upsert', { user_token: 'u-y', status: 'ACTIVE', colour: 'blue' })
  t.equal(extra.body.reason, 'INVALID', 'a misspelt field is a rejection')
  t.equal(await loadUser(db.sql, 'u-y'), null)

  const both = await command('account.credit', { account_token: 'a', user_token: 'b', amount: '1', currency: 'USD' })
  t.equal(both.body.reason, 'INVALID')

  const notObject = await command('user.upsert', 'just a string')
  t.equal(notObject.body.reason, 'INVALID')

  const unknown = await command('card.destroy', { card_token: 'c-alice' })
  t.equal(unknown.routingKey, 'command.rejected')
  t.equal(unknown.body.reason, 'UNKNOWN_COMMAND')
  t.equal(unknown.body.command_type, 'card.destroy')

  t.equal(await deadDepth('commands'), 0, 'nothing dead-lettered')
  t.ok(await counterValue(env.registry, 'txn_worker_commands_rejected_total', { reason: 'INVALID' }) >= 4)
})

t.test('a command with a NUL character is rejected and answered, not failed forever', async t => {
  const nul = await command('user.upsert', { user_token: 'u-nul\u0000', status: 'ACTIVE' })
  t.equal(nul.routingKey, 'command.rejected')
  t.equal(nul.body.reason, 'INVALID')
  t.match(nul.body.message, /NUL character/)
  t.equal(nul.body.entity_token, 'u-nul\ufffd', 'echoed as stored')
  t.equal(await loadUser(db.sql, 'u-nul\u0000'.replace('\u0000', '\ufffd')), null, 'nothing created')
  t.equal(await deadDepth('commands'), 0)
})

t.test('hold.release releases an open hold (audited) and rejects an unknown one', async t => {
  const c = await fundedCard(db, 'rel', 10000)
  const { jitToken, outcome } = await authorize(db, c, 4000)
  t.equal(outcome, 'approved')
  t.equal((await getAccount(db.sql, c.account))?.available, 6000)

  const answer = await command('hold.release', { jit_token: jitToken, reason: 'customer call', operator: 'agent-7' })
  t.equal(answer.routingKey, 'command.applied', JSON.stringify(answer.body))
  const account = await getAccount(db.sql, c.account)
  t.equal(account?.available, 10000, 'the hold no longer takes available')
  t.equal(account?.balance, 10000)
  const hold = await getHold(db.sql, jitToken)
  t.not(hold?.state, 'OPEN')
  t.ok(JSON.stringify(hold?.history).includes('agent-7'), 'the operator is in the hold history')

  const unknown = await command('hold.release', { jit_token: 'no-such-hold', reason: 'x', operator: 'agent-7' })
  t.equal(unknown.routingKey, 'command.rejected')
  t.equal(unknown.body.reason, 'UNKNOWN_HOLD')
})
