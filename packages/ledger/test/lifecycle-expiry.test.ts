import t, { type Test } from 'tap'
import {
  applyTransactionEvent, decideJitFunding, expireHoldsBatch, expireStaleHolds, getAccount, getHold, releaseHold
} from '../src/index.js'
import { ledgerDatabase, fundedCard, assertInvariants, shop, jitRequest, token } from './helpers.js'

// Hold expiry (several sweepers at once) and the manual hold.release command.
const db = await ledgerDatabase(t, { poolMax: 6 })
const DAY = 24 * 3600_000
const LODGING = [{ from: '3501', to: '3999', days: 30 }, { from: '7011', to: '7011', days: 30 }]

function moneyTest (name: string, fn: (t: Test) => Promise<void>): void {
  t.test(name, async t => {
    await fn(t)
    await assertInvariants(t, db)
    // each test starts with no open hold: sweep whatever this one left, far in the future
    await expireStaleHolds(db.sql, { now: new Date(Date.now() + 3650 * DAY), defaultDays: 0 })
    await assertInvariants(t, db)
  })
}

let n = 0
async function account (name: string, balance = 100000) {
  const c = await fundedCard(db, `exp-${name}-${++n}`, balance)
  return { c, s: shop(db, c) }
}

moneyTest('an idle hold expires after 7 days: what remains is released, state EXPIRED, evented', async t => {
  const { c, s } = await account('default')
  const p = s.purchase(10000)
  await s.decide(p)
  await applyTransactionEvent(db.sql, s.clearing(p, 3000, false))
  t.equal(await expireStaleHolds(db.sql, { now: new Date(Date.now() + 6 * DAY) }), 0, 'not yet at 6 days')
  t.equal(await expireStaleHolds(db.sql, { now: new Date(Date.now() + 8 * DAY) }), 1)
  const hold = await getHold(db.sql, p.jitToken)
  t.equal(hold?.state, 'EXPIRED')
  t.equal(hold?.released, 7000)
  const a = await getAccount(db.sql, c.account)
  t.equal(a?.balance, 97000)
  t.equal(a?.available, 97000)
  const [ev] = await db.sql<Array<{ payload: Record<string, unknown> }>>`
    select payload from outbox where routing_key = 'ledger.hold.expired' and payload->>'jit_token' = ${p.jitToken}`
  t.equal(ev?.payload.amount_minor, 7000)
  t.equal(ev?.payload.amount, '70.00')
  t.equal(ev?.payload.state, 'EXPIRED')
  // a clearing that arrives after expiry is a plain debit
  t.equal((await applyTransactionEvent(db.sql, s.clearing(p, 7000, true))).effect, 'debited')
  t.same([(await getAccount(db.sql, c.account))?.balance, (await getAccount(db.sql, c.account))?.available], [90000, 90000])
  t.equal(await expireStaleHolds(db.sql, { now: new Date(Date.now() + 20 * DAY) }), 0, 'an expired hold never reopens or expires twice')
})

moneyTest('per-MCC overrides: lodging waits 30 days', async t => {
  const { c } = await account('mcc')
  const jitToken = token('jit')
  const [r] = await decideJitFunding(db.sql, [jitRequest(c, 20000, { jitToken, mcc: '7011' })])
  t.equal(r?.outcome, 'approved')
  t.equal(await expireStaleHolds(db.sql, { now: new Date(Date.now() + 8 * DAY), mccDays: LODGING }), 0)
  t.equal((await getHold(db.sql, jitToken))?.state, 'OPEN')
  t.equal(await expireStaleHolds(db.sql, { now: new Date(Date.now() + 31 * DAY), mccDays: LODGING }), 1)
  t.equal((await getHold(db.sql, jitToken))?.state, 'EXPIRED')
})

moneyTest('activity on a hold restarts its clock', async t => {
  const { s } = await account('activity')
  const p = s.purchase(10000)
  await s.decide(p)
  await applyTransactionEvent(db.sql, s.clearing(p, 1000, false), { now: new Date(Date.now() + 5 * DAY) })
  t.equal(await expireStaleHolds(db.sql, { now: new Date(Date.now() + 9 * DAY) }), 0, 'idle 4 days only')
  t.equal(await expireStaleHolds(db.sql, { now: new Date(Date.now() + 13 * DAY) }), 1)
})

moneyTest('two sweepers at once release each hold exactly once', async t => {
  const accounts = await Promise.all([1, 2, 3].map(async i => await account(`sweep${i}`)))
  const tokens: string[] = []
  for (const { s } of accounts) {
    for (let i = 0; i < 8; i++) {
      const p = s.purchase(1000)
      await s.decide(p)
      tokens.push(p.jitToken)
    }
  }
  const now = new Date(Date.now() + 8 * DAY)
  const counts = await Promise.all([
    expireStaleHolds(db.sql, { now, limit: 500 }),
    expireStaleHolds(db.sql, { now, limit: 500 }),
    expireStaleHolds(db.sql, { now, limit: 5 })
  ])
  // a sweeper skips an account another one is releasing on (it never waits): a later round gets the rest
  const rest = await expireStaleHolds(db.sql, { now, limit: 500 })
  t.equal(counts.reduce((a, b) => a + b, 0) + rest, tokens.length, `all ${tokens.length} expired once, split ${counts.join('/')} then ${rest}`)
  const events = await db.sql<Array<{ hold: string }>>`
    select payload->>'jit_token' as hold from outbox where routing_key = 'ledger.hold.expired' and payload->>'jit_token' in ${db.sql(tokens)}`
  t.equal(events.length, tokens.length, 'one event per hold')
  t.equal(new Set(events.map(e => e.hold)).size, tokens.length)
  for (const { c } of accounts) {
    const a = await getAccount(db.sql, c.account)
    t.equal(a?.available, 100000, 'everything released once')
  }
})

moneyTest('the limit bounds one sweep', async t => {
  const { s } = await account('limit')
  for (let i = 0; i < 4; i++) await s.decide(s.purchase(100))
  const now = new Date(Date.now() + 8 * DAY)
  t.equal(await expireStaleHolds(db.sql, { now, limit: 3 }), 3)
  t.equal(await expireStaleHolds(db.sql, { now, limit: 3 }), 1)
  await t.rejects(expireStaleHolds(db.sql, { now, mccDays: [{ from: 'x', to: '1', days: 3 }] }), RangeError)
})

moneyTest('the sweep never waits for a hot account: its holds are skipped while it is locked, expired after', async t => {
  const { c, s } = await account('hot')
  const other = await account('cold')
  const p = s.purchase(1000)
  await s.decide(p)
  const q = other.s.purchase(1000)
  await other.s.decide(q)
  const now = new Date(Date.now() + 8 * DAY)
  let release = (): void => {}
  const held = new Promise<void>(resolve => { release = resolve })
  let locked = (): void => {}
  const isLocked = new Promise<void>(resolve => { locked = resolve })
  // a long transaction on the hot account (a decision, a webhook) holds its row
  const holder = db.sql.begin(async tx => {
    await tx`select 1 from accounts where account_token = ${c.account} for update`
    locked()
    await held
  })
  await isLocked
  const started = Date.now()
  const during = await db.sql.begin(async tx => {
    await tx`set local lock_timeout = '2s'`
    return await expireHoldsBatch(tx, { now })
  })
  t.ok(Date.now() - started < 2000, 'the batch did not wait for the lock')
  t.equal(during.skipped, 1, 'the hot account\'s hold was skipped')
  t.ok(during.expired >= 1, 'the other account\'s hold expired meanwhile')
  t.equal((await getHold(db.sql, q.jitToken))?.state, 'EXPIRED')
  t.equal((await getHold(db.sql, p.jitToken))?.state, 'OPEN')
  release()
  await holder
  t.equal((await expireHoldsBatch(db.sql, { now })).expired, 1)
  t.equal((await getHold(db.sql, p.jitToken))?.state, 'EXPIRED')
})

moneyTest('a hold whose expiry keeps failing is put off with a backoff and never blocks the others', async t => {
  const { s } = await account('poison')
  const bad = s.purchase(1000)
  await s.decide(bad)
  const good = s.purchase(1000)
  await s.decide(good)
  // a real failure inside the release, for this one hold only
  await db.sql.unsafe(`
    create or replace function test_fail_expiry() returns trigger language plpgsql as $f$
    begin
      if new.action = 'expired' and new.hold_token = '${bad.jitToken}' then raise exception 'injected expiry failure'; end if;
      return new;
    end $f$;
    create trigger test_fail_expiry before insert on hold_history for each row execute function test_fail_expiry();`)
  t.teardown(async () => { await db.sql.unsafe('drop trigger if exists test_fail_expiry on hold_history; drop function if exists test_fail_expiry()') })
  const now = new Date(Date.now() + 8 * DAY)
  const first = await expireHoldsBatch(db.sql, { now, limit: 1 })
  t.same(first, { expired: 0, failed: 1, skipped: 0 }, 'the oldest hold (the bad one) failed')
  const second = await expireHoldsBatch(db.sql, { now, limit: 1 })
  t.same(second, { expired: 1, failed: 0, skipped: 0 }, 'the next batch goes past it')
  t.equal((await getHold(db.sql, good.jitToken))?.state, 'EXPIRED')
  const [row] = await db.sql<Array<{ expiry_failures: number, expiry_retry_at: Date }>>`
    select expiry_failures, expiry_retry_at from holds where hold_token = ${bad.jitToken}`
  t.equal(row?.expiry_failures, 1)
  t.ok((row?.expiry_retry_at.getTime() ?? 0) > now.getTime(), 'retried later')
  t.same(await expireHoldsBatch(db.sql, { now }), { expired: 0, failed: 0, skipped: 0 }, 'not retried before its backoff')
  await db.sql.unsafe('drop trigger test_fail_expiry on hold_history; drop function test_fail_expiry()')
  t.equal((await expireHoldsBatch(db.sql, { now: new Date(now.getTime() + 3600_000) })).expired, 1, 'expired once the fault is gone')
  t.equal((await getHold(db.sql, bad.jitToken))?.state, 'EXPIRED')
})

moneyTest('hold.release: audited with the operator, once per message id', async t => {
  const { c, s } = await account('manual')
  const p = s.purchase(10000)
  await s.decide(p)
  await applyTransactionEvent(db.sql, s.clearing(p, 2500, false))
  const messageId = token('msg')
  const command = { jitToken: p.jitToken, reason: 'merchant confirmed cancellation', operator: 'ops-alice', messageId }
  const first = await releaseHold(db.sql, command)
  t.same(first, { outcome: 'applied', holdToken: p.jitToken, released: 7500, state: 'CLOSED' })
  const again = await releaseHold(db.sql, command)
  t.equal(again.outcome, 'duplicate')
  t.equal(again.released, 7500)
  // after `jit-ops purge` deleted the effect keys, the hold's history still says it was applied
  await db.sql`delete from effects where kind = 'manual_release' and key = ${messageId}`
  t.same(await releaseHold(db.sql, command), { outcome: 'duplicate', holdToken: p.jitToken, released: 7500, state: 'CLOSED' }, 'still a duplicate after the purge')
  const a = await getAccount(db.sql, c.account)
  t.same([a?.balance, a?.available], [97500, 97500])
  const hold = await getHold(db.sql, p.jitToken)
  const audit = hold?.history.find(h => h.action === 'released_manually')
  t.equal((audit?.detail as Record<string, unknown>).operator, 'ops-alice')
  t.equal((audit?.detail as Record<string, unknown>).reason, 'merchant confirmed cancellation')
  const [ev] = await db.sql<Array<{ correlation_id: string, payload: Record<string, unknown> }>>`
    select correlation_id, payload from outbox where routing_key = 'ledger.hold.released' and payload->>'jit_token' = ${p.jitToken}`
  t.equal(ev?.correlation_id, messageId)
  t.match(ev?.payload.reason, /ops-alice/)

  t.equal((await releaseHold(db.sql, { ...command, messageId: token('msg') })).outcome, 'not_open')
  t.equal((await releaseHold(db.sql, { ...command, jitToken: 'no-such-hold', messageId: token('msg') })).outcome, 'not_found')
  await t.rejects(releaseHold(db.sql, { ...command, operator: '' }), TypeError)
})
