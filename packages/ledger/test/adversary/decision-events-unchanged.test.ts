import t from 'tap'
import { writeFileSync } from 'node:fs'
import { EVENT_SCHEMAS, compileValidator, type EventRoutingKey } from '@jit/contracts'
import { applyTransactionEvent, decideJitFunding, upsertUser, type JitDecisionRequest } from '../../src/index.js'
import { ledgerDatabase, fundedCard, assertInvariants, jitRequest, webhookEvent, withoutJitFunding } from '../helpers.js'

// The outbox of one decision of each shape (docs/ledger.md "Events"): the events each decision
// publishes, in order, each valid against its AsyncAPI schema. DECISION_EVENTS_DUMP=<file> writes them
// (occurred_at and ids dropped) so two versions of jit_decide can be compared.
const db = await ledgerDatabase(t, { poolMax: 4 })
const validators = new Map<string, ReturnType<typeof compileValidator>>()
const validate = (key: string, payload: unknown): string[] => {
  const schema = EVENT_SCHEMAS[key as EventRoutingKey]
  if (schema === undefined) return [`no schema for ${key}`]
  let v = validators.get(key)
  if (v === undefined) { v = compileValidator(schema); validators.set(key, v) }
  const r = v(payload) as { ok: boolean, errors?: Array<{ path: string, message: string }> }
  return r.ok ? [] : (r.errors ?? []).map(e => `${e.path} ${e.message}`)
}
let last = 0
async function eventsSince (): Promise<Array<{ routing_key: string, payload: Record<string, unknown>, correlation_id: string | null }>> {
  const rows = await db.sql<Array<{ id: string, routing_key: string, payload: Record<string, unknown>, correlation_id: string | null }>>`
    select id::text, routing_key, payload, correlation_id from outbox where outbox.id > ${last} order by outbox.id`
  if (rows.length > 0) last = Number(rows[rows.length - 1]?.id)
  return rows.map(r => ({ routing_key: r.routing_key, payload: r.payload, correlation_id: r.correlation_id }))
}
await eventsSince()

const dump: Record<string, unknown> = {}
const decide = async (r: JitDecisionRequest) => (await decideJitFunding(db.sql, [r]))[0]

const c = await fundedCard(db, 'adv-ev', 100000)
const other = await fundedCard(db, 'adv-ev-other', 100000)
await upsertUser(db.sql, { user_token: 'u-adv-ev-suspended', status: 'SUSPENDED' as never })
const cases: Array<[string, () => Promise<unknown>]> = [
  ['authorization approved', async () => await decide(jitRequest(c, 1000, { jitToken: 'j-auth', transactionToken: 't-auth' }))],
  ['same again (replay)', async () => await decide(jitRequest(c, 1000, { jitToken: 'j-auth', transactionToken: 't-auth' }))],
  ['same token, other amount (duplicate)', async () => await decide(jitRequest(c, 1001, { jitToken: 'j-auth', transactionToken: 't-auth' }))],
  ['incremental approved', async () => await decide(jitRequest(c, 500, { jitToken: 'j-inc', method: 'pgfs.authorization.incremental', kind: 'incremental', originalJitToken: 'j-auth', transactionToken: 't-inc' }))],
  ['incremental of nothing', async () => await decide(jitRequest(c, 500, { jitToken: 'j-inc-none', method: 'pgfs.authorization.incremental', kind: 'incremental', originalJitToken: 'j-none', transactionToken: 't-inc-none' }))],
  ['insufficient funds', async () => await decide(jitRequest(c, 10000000, { jitToken: 'j-nsf', transactionToken: 't-nsf' }))],
  ['pin debit approved', async () => await decide(jitRequest(c, 700, { jitToken: 'j-pin', method: 'pgfs.pindebit', kind: 'immediate_debit', transactionToken: 't-pin' }))],
  ['pin debit over its stand-in hold', async () => {
    await applyTransactionEvent(db.sql, withoutJitFunding(webhookEvent(other, { type: 'authorization', state: 'PENDING', token: 't-pin2', amount: 300 } as never)))
    return await decide(jitRequest(other, 300, { jitToken: 'j-pin2', method: 'pgfs.pindebit', kind: 'immediate_debit', transactionToken: 't-pin2' }))
  }],
  ['balance inquiry', async () => await decide(jitRequest(c, 0, { jitToken: 'j-bal', method: 'pgfs.balanceinquiry', kind: 'balance_inquiry' }))],
  ['informative', async () => await decide(jitRequest(c, 200, { jitToken: 'j-info', method: 'pgfs.authorization.advice', kind: 'informative', transactionToken: 't-info' }))],
  ['unknown method', async () => await decide(jitRequest(c, 200, { jitToken: 'j-unk', method: 'pgfs.something', kind: 'unknown' }))],
  ['deadline passed', async () => await decide(jitRequest(c, 200, { jitToken: 'j-late', deadlineMs: Date.now() - 5 } as never))],
  ['declined by the caller', async () => await decide(jitRequest(c, 200, { jitToken: 'j-card', declineReason: 'CARD_NOT_ACTIVE' }))],
  ['other currency than the account', async () => await decide(jitRequest(c, 200, { jitToken: 'j-eur', currency: 'EUR' }))],
  ['3-decimal currency', async () => await decide(jitRequest(c, 12345, { jitToken: 'j-kwd', currency: 'KWD' }))],
  ['no currency (balance inquiry)', async () => await decide(jitRequest(c, 0, { jitToken: 'j-bal-nocur', method: 'pgfs.balanceinquiry', kind: 'balance_inquiry', currency: null as never }))],
  ['acting user suspended', async () => await decide(jitRequest(c, 200, { jitToken: 'j-acting', actingUserToken: 'u-adv-ev-suspended' } as never))],
  ['amount 0 authorization', async () => await decide(jitRequest(c, 0, { jitToken: 'j-zero', transactionToken: 't-zero' }))],
  ['transaction token of an approved one, new JIT token', async () => await decide(jitRequest(c, 100, { jitToken: 'j-auth-again', transactionToken: 't-auth' }))]
]
for (const [name, run] of cases) {
  t.test(name, async t => {
    let result: unknown
    try { result = await run() } catch (err) { result = { error: (err as { code?: string }).code ?? String(err) } }
    const events = await eventsSince()
    for (const e of events) t.same(validate(e.routing_key, e.payload), [], `${e.routing_key} matches its schema`)
    const r = result as Record<string, unknown> | undefined
    const strip = events.map(e => { const { occurred_at: _o, ...p } = e.payload; return { ...e, payload: p } })
    dump[name] = { result: r === undefined ? null : { status: r.status, outcome: r.outcome, decline_reason: r.decline_reason, replay: r.replay, duplicate: r.duplicate, response: r.response, error: r.error }, events: strip }
  })
}
t.test('invariants', async t => {
  await assertInvariants(t, db)
  const rows = await db.sql<Array<{ id: string, routing_key: string, jit: string, tx: string }>>`select id::text, routing_key, payload->>'jit_token' as jit, payload->>'transaction_token' as tx from outbox order by outbox.id`
  const decisions = rows.filter(r => r.routing_key.startsWith('jit.decision.')).map(r => r.jit)
  t.same(decisions.filter((j, i) => decisions.indexOf(j) !== i), [], 'one decision event per JIT token')
  t.same(rows.filter(r => r.jit === 'j-pin').map(r => `${r.id} ${r.routing_key}`), ['9 ledger.account.debited', '10 jit.decision.approved'], 'the events of j-pin, by id')
})
t.teardown(() => { if (process.env.DECISION_EVENTS_DUMP !== undefined) writeFileSync(process.env.DECISION_EVENTS_DUMP, JSON.stringify(dump, null, 1)) })
