import t, { type Test } from 'tap'
import { applyTransactionEvent, getAccount, retryParkedEvents, type ExpiredParkedEvent } from '../src/index.js'
import { assertInvariants, fundedCard, ledgerDatabase, shop } from './helpers.js'

// Expired parked events handed over (dead-lettered) by a callback: each event is retried in its
// own transaction, and the hand-over runs with no transaction and no lock, before the parked row
// is deleted; a failed hand-over keeps the event parked (at least once, never lost).
const db = await ledgerDatabase(t, { poolMax: 6 })
const HORIZON = 3600_000
let clock = Date.now() + 10 * 24 * 3600_000
function later (): Date {
  clock += 2 * HORIZON
  return new Date(clock)
}
let n = 0

async function parkedTokens (): Promise<string[]> {
  return (await db.sql<Array<{ token: string }>>`select token from parked_events order by token`).map(r => r.token)
}

function parkTest (name: string, fn: (t: Test) => Promise<void>): void {
  t.test(name, async t => {
    await fn(t)
    await assertInvariants(t, db)
  })
}

parkTest('an expired event is handed over after the other events committed, with no lock held, then deleted', async t => {
  const c = await fundedCard(db, `ho-${++n}`, 100000)
  const s = shop(db, c)
  const p = s.purchase(5000)
  const start = new Date(clock)
  // a clearing that will apply (its stand-in hold appears), then a reversal of a purchase never seen
  const clearing = s.clearing(p, 5000, true)
  t.equal((await applyTransactionEvent(db.sql, clearing, { now: new Date(start.getTime() - 1000) })).outcome, 'parked')
  const reversal = s.reversal(s.purchase(2000), 2000)
  t.equal((await applyTransactionEvent(db.sql, reversal, { now: start })).outcome, 'parked')
  await applyTransactionEvent(db.sql, s.pending(p, { standinApprovedBy: 'VISA' }))

  const seen: Array<{ event: ExpiredParkedEvent, stillParked: string[], balance: number | undefined, lockable: boolean }> = []
  const round = await retryParkedEvents(db.sql, {
    now: later(),
    horizonMs: HORIZON,
    deadLetter: async event => {
      // another connection: the account and the parked row are free, the clearing is committed
      const [lock] = await db.sql.begin(async tx => await tx<Array<{ token: string }>>`
        select token from parked_events where token = ${event.token} for update nowait`)
      seen.push({
        event,
        stillParked: await parkedTokens(),
        balance: (await getAccount(db.sql, c.account))?.balance,
        lockable: lock?.token === event.token
      })
    }
  })
  t.equal(round.applied, 1)
  t.equal(round.stillParked, 0)
  t.same(round.expired.map(e => e.token), [reversal.token])
  t.equal(seen.length, 1, 'handed over once')
  t.equal(seen[0]?.event.token, reversal.token)
  t.match(seen[0]?.event.reason, /not known yet/)
  t.same(seen[0]?.stillParked, [reversal.token], 'not deleted before the hand-over')
  t.ok(seen[0]?.lockable, 'its row is not locked during the hand-over')
  t.equal(seen[0]?.balance, 95000, 'the applied clearing committed before the hand-over')
  t.same(await parkedTokens(), [], 'deleted after the hand-over')
})

parkTest('a failed hand-over keeps the event parked and stops handing over; a later round delivers it', async t => {
  const c = await fundedCard(db, `ho-${++n}`, 100000)
  const s = shop(db, c)
  const start = new Date(clock)
  const a = s.reversal(s.purchase(1000), 1000)
  const b = s.reversal(s.purchase(1000), 1000)
  await applyTransactionEvent(db.sql, a, { now: start })
  await applyTransactionEvent(db.sql, b, { now: start })

  let calls = 0
  const failed = await retryParkedEvents(db.sql, {
    now: later(),
    horizonMs: HORIZON,
    deadLetter: async () => {
      calls++
      throw new Error('broker unreachable')
    }
  })
  t.equal(calls, 1, 'no second hand-over once one failed')
  t.same(failed, { applied: 0, stillParked: 2, expired: [], forced: [] })
  t.same(await parkedTokens(), [a.token, b.token].sort(), 'both still parked')

  const handed: string[] = []
  const next = await retryParkedEvents(db.sql, {
    now: later(),
    horizonMs: HORIZON,
    deadLetter: async event => { handed.push(event.token) }
  })
  t.same(handed.sort(), [a.token, b.token].sort())
  t.same(next.expired.map(e => e.token).sort(), [a.token, b.token].sort())
  t.equal(next.expired[0]?.attempts, 2, 'the failed round counted as an attempt')
  t.same(await parkedTokens(), [])
  t.same(await getAccount(db.sql, c.account).then(x => x?.balance), 100000, 'no money moved')
})

parkTest('an event that can never apply is handed over too, then deleted', async t => {
  await db.sql`
    insert into parked_events (token, payload, reason, first_parked_at, next_attempt_at)
    values ('ho-broken', ${db.sql.json({ token: 'ho-broken', type: 'authorization.clearing', state: 'COMPLETION', amount: '1.001', currency_code: 'USD' })}, 'test', now(), now())`
  const handed: ExpiredParkedEvent[] = []
  const r = await retryParkedEvents(db.sql, { now: later(), horizonMs: HORIZON * 1000, deadLetter: async e => { handed.push(e) } })
  t.equal(handed.length, 1)
  t.match(handed[0]?.reason, /INVALID_AMOUNT/)
  t.same(r.expired.map(e => e.token), ['ho-broken'])
  t.same(await parkedTokens(), [])
})
