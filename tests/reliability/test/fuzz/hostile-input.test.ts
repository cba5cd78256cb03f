import t from 'tap'
import { performance } from 'node:perf_hooks'
import fc from 'fast-check'
import { signBody } from '@jit/http-auth'
import { parseAmount } from '@jit/contracts'
import { jitFundingRequest, transactionEvent, webhookBatch } from '@jit/processor-sim'
import { startInProcessStack, type InProcessStack, JIT_AUTH, WEBHOOK_AUTH, SUITE_SECRETS } from '../support/in-process.js'
import { bodyDamage, damagedBody, hostileValue, inParallel, oversize, transport, TEST_PAN, type BodyDamage, type Transport } from '../support/hostile.js'

// Hostile input on the three ways in: the JIT endpoint, the webhook endpoint and the command
// queue, >= 10^4 generated inputs in all (RELIABILITY_FUZZ_RUNS scales it). Each answer must be
// below 500 and the services must stay up; afterwards nothing a rejected input carried may be
// found as a hold, a decision, an outbox event, a published webhook or a command effect; the
// ledger invariants hold; and the heap after a forced GC is within 10 MiB of its baseline.
const started = performance.now()
const runs = Number(process.env.RELIABILITY_FUZZ_RUNS ?? '10000')
const seed = Number(process.env.RELIABILITY_FUZZ_SEED ?? Date.now() % 2_147_483_647)
const run = seed.toString(36)
// weighted by cost: a JIT decision or a command is a PostgreSQL transaction, most webhooks are not
const counts = { jit: Math.round(runs * 0.35), webhooks: Math.round(runs * 0.5), commands: Math.round(runs * 0.15) }
const gc = (globalThis as { gc?: () => void }).gc
if (gc === undefined) throw new Error('run with --expose-gc (the package\'s tap node-arg sets it)')
t.comment(`fuzz seed ${seed} (RELIABILITY_FUZZ_SEED=${seed} replays it), ${runs} inputs`)

const JIT_MAX_BODY = 1_048_576 // Fastify's default bodyLimit: the authorizer sets none
const WEBHOOK_MAX_BODY = 65_536
let stack: InProcessStack
const card = { user: `fzu-${run}`, card: `fzc-${run}` }
const cmdUser = `fzcmd-${run}`

function heapMiB (): number {
  gc?.(); gc?.()
  return process.memoryUsage().heapUsed / 1048576
}

function sample<T> (arb: fc.Arbitrary<T>, n: number, offset: number): T[] {
  return fc.sample(arb, { numRuns: n, seed: seed + offset })
}

function contentHeaders (tr: Transport): Record<string, string> {
  return tr.contentType === null ? {} : { 'content-type': tr.contentType }
}

const statuses: Record<string, Record<number, number>> = { jit: {}, webhooks: {} }
const fiveHundreds: string[] = []
function record (surface: 'jit' | 'webhooks', i: number, status: number, body: string): void {
  const s = statuses[surface] as Record<number, number>
  s[status] = (s[status] ?? 0) + 1
  if (status >= 500 && fiveHundreds.length < 20) fiveHundreds.push(`${surface} #${i}: ${status} ${body.slice(0, 200)}`)
}

// ---- the JIT endpoint --------------------------------------------------------------------------
const JIT_PATHS = [
  ['gpa_order', 'jit_funding', 'amount'], ['gpa_order', 'jit_funding', 'token'], ['gpa_order', 'jit_funding', 'method'],
  ['gpa_order', 'jit_funding', 'user_token'], ['gpa_order', 'jit_funding', 'original_jit_funding_token'],
  ['gpa_order', 'jit_funding', 'acting_user_token'], ['gpa_order', 'jit_funding'], ['gpa_order'], ['gpa_order_unload'],
  ['token'], ['card_token'], ['user_token'], ['currency_code'], ['amount'], ['card_acceptor', 'mcc'], ['card_acceptor'],
  ['type'], ['state'], ['pan'], ['memo']
]
interface JitCase { amount: number, damage: BodyDamage, transport: Transport, method: string }
const jitCase = fc.record({
  amount: fc.integer({ min: 1, max: 50_000 }),
  damage: bodyDamage(JIT_PATHS),
  transport,
  method: fc.constantFrom('pgfs.authorization', 'pgfs.authorization', 'pgfs.authorization', 'pgfs.authorization.incremental', 'pgfs.balanceinquiry', 'pgfs.auth_plus_capture', 'pgfs.pindebit', 'pgfs.refund.authorization', 'pgfs.authorization.clearing', 'not.a.method')
})

/** Tokens of the cases whose token was not damaged, by what they were answered. */
const jitAnswered = new Map<string, number>()
const approvedTokens = new Set<string>()

async function sendJit (c: JitCase, i: number): Promise<void> {
  const token = `fzj-${run}-${i}`
  const valid = jitFundingRequest(card, { token, amount: c.amount, method: c.method, transactionToken: `fzt-${run}-${i}` })
  valid.pan = TEST_PAN
  let payload = damagedBody(valid, c.damage)
  if (c.transport.oversized) payload = oversize(payload, JIT_MAX_BODY)
  const res = await stack.authorizer.inject({ method: 'POST', url: '/v1/jit-funding', headers: { authorization: JIT_AUTH, ...contentHeaders(c.transport) }, payload })
  record('jit', i, res.statusCode, res.body)
  const tokenIntact = !(c.damage.kind === 'field' || c.damage.kind === 'delete' || c.damage.kind === 'duplicate-key') || !c.damage.path.some(p => p === 'jit_funding' || p === 'token' || p.startsWith('gpa_order'))
  if (res.statusCode === 200) {
    const answered = (JSON.parse(res.body) as { jit_funding?: { token?: unknown } }).jit_funding?.token
    if (typeof answered === 'string') approvedTokens.add(answered)
  }
  if (tokenIntact && c.damage.kind !== 'root' && c.damage.kind !== 'bytes' && c.damage.kind !== 'truncate') jitAnswered.set(token, res.statusCode)
}

// ---- the webhook endpoint ----------------------------------------------------------------------
const HOOK_PATHS = [
  ['transactions'], ['transactions', '0'], ['transactions', '0', 'token'], ['transactions', '0', 'type'], ['transactions', '0', 'state'],
  ['transactions', '0', 'amount'], ['transactions', '0', 'gpa', 'impacted_amount'], ['transactions', '0', 'gpa_order', 'jit_funding', 'amount'],
  ['transactions', '0', 'gpa_order', 'jit_funding', 'token'], ['transactions', '0', 'gpa_order', 'funding', 'gateway_log', 'timed_out'],
  ['transactions', '0', 'preceding_related_transaction_token'], ['transactions', '0', 'currency_code'], ['transactions', '0', 'card_token'],
  ['transactions', '1', 'token'], ['transactions', '1'], ['pings'], ['cardtransitions'], ['transactions', '0', 'pan']
]
type Signing = 'valid' | 'over-valid-body' | 'wrong-secret' | 'missing' | 'garbage' | 'sha1'
interface HookCase { events: number, type: string, damage: BodyDamage, transport: Transport, signing: Signing }
const hookCase = fc.record({
  events: fc.integer({ min: 1, max: 3 }),
  type: fc.constantFrom('authorization', 'authorization.clearing', 'authorization.reversal', 'refund', 'pindebit', 'authorization.advice', 'x.unknown'),
  damage: bodyDamage(HOOK_PATHS),
  transport,
  signing: fc.constantFrom<Signing>('valid', 'valid', 'valid', 'valid', 'sha1', 'over-valid-body', 'wrong-secret', 'missing', 'garbage')
})
let publishedByAnswers = 0
let acceptedWithoutValidSignature = 0

async function sendHook (c: HookCase, i: number): Promise<void> {
  const events = Array.from({ length: c.events }, (_, k) => transactionEvent(card, {
    type: c.type,
    state: c.type === 'authorization' ? 'PENDING' : 'COMPLETION',
    token: `fzw-${run}-${i}-${k}`,
    amount: 100 + k,
    // purchases of their own: a PENDING webhook of an unknown purchase opens a forced (stand-in)
    // hold, which must not be mistaken for one of the JIT cases' holds
    jit: { token: `fzwj-${run}-${i}-${k}`, method: 'pgfs.authorization.capture', original: `fzwo-${run}-${i}` }
  }))
  for (const e of events) e.pan = TEST_PAN
  const valid = webhookBatch('transactions', events)
  let payload = damagedBody(valid, c.damage)
  if (c.transport.oversized) payload = oversize(payload, WEBHOOK_MAX_BODY)
  const headers: Record<string, string> = { authorization: WEBHOOK_AUTH, ...contentHeaders(c.transport) }
  const sign = (bytes: Buffer | string, secret = SUITE_SECRETS.WEBHOOK_HMAC_SECRET, algorithm: 'sha256' | 'sha1' = 'sha256'): string => {
    const hex = signBody(bytes, secret, algorithm)
    stack.logs.sentSignature(hex)
    return hex
  }
  switch (c.signing) {
    case 'valid': headers['x-marqeta-signature'] = sign(payload); break
    case 'sha1': headers['x-marqeta-signature'] = sign(payload, undefined, 'sha1'); break
    case 'over-valid-body': headers['x-marqeta-signature'] = sign(JSON.stringify(valid)); break
    case 'wrong-secret': headers['x-marqeta-signature'] = sign(payload, 'not-the-configured-secret'); break
    case 'garbage': headers['x-marqeta-signature'] = 'zz' + sign(payload).slice(2); break
    case 'missing': break
  }
  const res = await stack.ingest.inject({ method: 'POST', url: '/v1/webhooks/marqeta', headers, payload })
  record('webhooks', i, res.statusCode, res.body)
  if (res.statusCode === 200) {
    publishedByAnswers += (JSON.parse(res.body) as { published: number }).published
    const signedRight = c.signing === 'valid' || c.signing === 'sha1' || (c.signing === 'over-valid-body' && payload.equals(Buffer.from(JSON.stringify(valid))))
    if (!signedRight) acceptedWithoutValidSignature++
  }
}

// ---- the command queue -------------------------------------------------------------------------
const COMMAND_PATHS = [['amount'], ['currency'], ['user_token'], ['account_token'], ['force'], ['status'], ['version'], ['card_token'], ['expiration'], ['per_transaction'], ['blocked_mccs'], ['scope'], ['token'], ['jit_token'], ['operator']]
const commandCase = fc.record({
  type: fc.constantFrom('account.credit', 'account.credit', 'account.debit', 'user.upsert', 'card.upsert', 'limits.set', 'hold.release'),
  routingKey: fc.constantFrom<'right' | 'odd'>('right', 'right', 'right', 'right', 'odd'),
  odd: fc.constantFrom('', 'account', 'account.credit.extra', 'ACCOUNT.CREDIT', 'user.upsert\u0000', 'command.applied', '💳.credit', 'a'.repeat(255)),
  damage: bodyDamage(COMMAND_PATHS),
  contentType: fc.constantFrom<string | null>('application/json', 'application/json', 'application/json', 'application/json', 'text/plain', null, 'application/octet-stream'),
  messageId: fc.constantFrom(true, true, true, true, true, true, true, true, true, false)
})

/** The minor units a credit or debit body would move on the suite's command account, as sent. */
function moneyMoved (bytes: Buffer): number | undefined {
  try {
    const body = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>
    const target = 'account_token' in body ? body.account_token : body.user_token
    if (target !== cmdUser || typeof body.amount !== 'string' || body.currency !== 'USD') return undefined
    return parseAmount(body.amount, 'USD')
  } catch {
    return undefined
  }
}

function validCommand (type: string, i: number): Record<string, unknown> {
  switch (type) {
    case 'account.credit': return { user_token: cmdUser, amount: '1.25', currency: 'USD' }
    case 'account.debit': return { user_token: cmdUser, amount: '0.50', currency: 'USD' }
    case 'user.upsert': return { user_token: `fzcu-${run}-${i}`, status: 'ACTIVE' }
    case 'card.upsert': return { card_token: `fzcc-${run}-${i}`, user_token: cmdUser, status: 'ACTIVE', expiration: '2099-12' }
    case 'limits.set': return { scope: 'card', token: `fzcc-${run}-${i}`, currency: 'USD', per_transaction: '10.00' }
    default: return { jit_token: `fzj-${run}-${i}`, reason: 'fuzz', operator: 'fuzz' }
  }
}

t.test(`hostile input: ${runs} generated inputs over the JIT endpoint, the webhook endpoint and the command queue`, async t => {
  stack = await startInProcessStack(t, { WEBHOOK_MAX_BODY_BYTES: String(WEBHOOK_MAX_BODY) })
  await stack.fundedCard(card.user, card.card, 1_000_000_000)
  await stack.fundedCard(cmdUser, `fzcmdc-${run}`, 100_000)
  const hookCapture = await stack.capture('webhook.#', () => undefined)
  const answers = await stack.capture('command.#', body => {
    const b = body as { command_message_id?: string, outcome?: string }
    return typeof b.command_message_id === 'string' ? `${b.command_message_id} ${b.outcome ?? ''}` : undefined
  })

  const jitCases = sample(jitCase, counts.jit, 1)
  const hookCases = sample(hookCase, counts.webhooks, 2)
  const commandCases = sample(commandCase, counts.commands, 3)

  // warm-up (JIT compilation, pools, caches), then the baseline
  const warm = 300
  await inParallel(jitCases.slice(0, warm), 8, sendJit)
  await inParallel(hookCases.slice(0, warm), 8, async (c, i) => await sendHook(c, i))
  const baseline = heapMiB()

  const phase = performance.now()
  await inParallel(jitCases.slice(warm), 8, async (c, i) => await sendJit(c, i + warm))
  const jitSeconds = (performance.now() - phase) / 1000
  const hookStart = performance.now()
  await inParallel(hookCases.slice(warm), 8, async (c, i) => await sendHook(c, i + warm))
  const hookSeconds = (performance.now() - hookStart) / 1000

  // commands: published raw (odd routing keys, content types, no message id), answered or dead-lettered
  const cmdStart = performance.now()
  const sentIds = new Map<string, { type: string, move: number | undefined }>()
  let withoutId = 0
  await inParallel(commandCases, 8, async (c, i) => {
    const valid = validCommand(c.type, i)
    const body = damagedBody(valid, c.damage)
    const messageId = c.messageId ? `fzc-${run}-${i}` : undefined
    const routingKey = c.routingKey === 'right' ? c.type : c.odd
    if (messageId === undefined) withoutId++
    else sentIds.set(messageId, { type: routingKey, move: moneyMoved(body) })
    await stack.rawPublisher.send({
      exchange: 'cards.commands',
      routingKey,
      ...(messageId === undefined ? {} : { messageId }),
      ...(c.contentType === null ? {} : { contentType: c.contentType }),
      durable: true
    }, body)
  })
  const deadline = Date.now() + 90_000
  let dead = 0
  while (Date.now() < deadline) {
    dead = (await stack.connections.amqp.queueStats()).find(s => s.queue === 'commands')?.deadMessages ?? 0
    if (answers.count() + dead >= sentIds.size + withoutId) break
    await new Promise(resolve => setTimeout(resolve, 200))
  }
  const cmdSeconds = (performance.now() - cmdStart) / 1000

  const after = heapMiB()
  t.comment(`JIT: ${counts.jit} inputs in ${jitSeconds.toFixed(1)} s, statuses ${JSON.stringify(statuses.jit)}`)
  t.comment(`webhooks: ${counts.webhooks} inputs in ${hookSeconds.toFixed(1)} s, statuses ${JSON.stringify(statuses.webhooks)}`)
  t.comment(`commands: ${counts.commands} inputs in ${cmdSeconds.toFixed(1)} s, ${answers.count()} answered, ${dead} dead-lettered (${withoutId} without a message id)`)
  t.comment(`heap after forced GC: baseline ${baseline.toFixed(1)} MiB, after ${after.toFixed(1)} MiB`)

  t.same(fiveHundreds, [], 'no input got a 5xx')
  t.ok((await stack.authorizer.inject({ method: 'GET', url: '/health' })).statusCode === 200, 'the authorizer is still up')
  t.ok((await stack.ingest.inject({ method: 'GET', url: '/health' })).statusCode === 200, 'webhook-ingest is still up')
  t.ok(after - baseline < 10, `heap within 10 MiB of its baseline after a forced GC (+${(after - baseline).toFixed(2)} MiB)`)

  // JIT: a hold only for an approved answer; nothing for an unreadable body
  const sql = stack.connections.db.sql
  const holds = await sql<Array<{ hold_token: string }>>`select hold_token from holds where hold_token like ${`fzj-${run}-%`}`
  t.same(holds.filter(h => !approvedTokens.has(h.hold_token)).map(h => h.hold_token), [], 'every hold belongs to an approved (200) answer')
  const decisionRows = await sql<Array<{ jit_token: string, http_status: number, outcome: string, decline_reason: string | null }>>`select jit_token, http_status, outcome, decline_reason from decisions where jit_token like ${`fzj-${run}-%`}`
  const decisions = new Map(decisionRows.map(d => [d.jit_token, d.http_status]))
  const refused = [...jitAnswered].filter(([, status]) => status !== 200 && status !== 402)
  t.same(refused.filter(([token]) => decisions.has(token)).map(([token]) => token), [], 'a body refused with 4xx (not 402) leaves no decision')
  const mismatched = [...jitAnswered].filter(([token, status]) => decisions.has(token) && decisions.get(token) !== status)
    .map(([token, status]) => ({ token, answered: status, recorded: decisionRows.find(d => d.jit_token === token) }))
  t.same(mismatched.slice(0, 5), [], 'each recorded decision is the answer that was sent')
  const evented = new Set<string>()
  // the answers of the command cases go through the outbox too, and a hold.release names a JIT
  // token of the same index (`validCommand`): only what the JIT path writes is looked at
  for (const row of await sql<Array<{ payload: string }>>`select payload::text as payload from outbox where routing_key not like 'command.%'`) {
    for (const m of row.payload.matchAll(new RegExp(`fzj-${run}-\\d+`, 'g'))) evented.add(m[0])
  }
  const declined = [...jitAnswered].filter(([, status]) => status !== 200 && status !== 402).map(([token]) => token)
  t.same(declined.filter(token => evented.has(token)), [], 'no outbox event for a refused JIT body')
  t.ok(approvedTokens.size > 0 && decisions.size > approvedTokens.size, `inputs reached the decision (${approvedTokens.size} approved, ${decisions.size} decided)`)

  // webhooks: exactly the events of the accepted batches were published, none without a valid signature
  const published = async (): Promise<number> => hookCapture.count()
  const waitUntil = Date.now() + 30_000
  while (await published() < publishedByAnswers && Date.now() < waitUntil) await new Promise(resolve => setTimeout(resolve, 100))
  await new Promise(resolve => setTimeout(resolve, 300))
  t.equal(hookCapture.count(), publishedByAnswers, `the broker received exactly the events of accepted batches (${publishedByAnswers})`)
  t.equal(acceptedWithoutValidSignature, 0, 'no batch without a valid signature over its exact bytes was accepted')
  t.ok(publishedByAnswers > 0, 'some hostile-but-valid batches were accepted and published')

  // commands: every one answered or dead-lettered; money moved only by applied ones
  t.equal(answers.count() + dead, sentIds.size + withoutId, 'every command was answered or dead-lettered')
  let expected = 100_000
  for (const entry of answers.kept) {
    const [id, outcome] = entry.split(' ')
    const sent = sentIds.get(id ?? '')
    if (outcome !== 'applied' || sent === undefined || sent.move === undefined) continue
    if (sent.type === 'account.credit') expected += sent.move
    if (sent.type === 'account.debit') expected -= sent.move
  }
  const [account] = await sql<Array<{ balance: string }>>`select balance::text as balance from accounts where account_token = ${cmdUser}`
  t.equal(Number(account?.balance), expected, 'the balance moved by exactly the applied credits and debits')
  const created = await sql<Array<{ user_token: string }>>`select user_token from users where user_token like ${`fzcu-${run}-%`}`
  const appliedIds = new Set([...answers.kept].filter(e => e.endsWith(' applied')).map(e => `fzcu-${run}-${(e.split(' ')[0] ?? '').split('-').pop() ?? ''}`))
  t.same(created.map(u => u.user_token).filter(u => !appliedIds.has(u)), [], 'no user exists from a rejected user.upsert')

  t.same(await stack.invariants(), [], 'ledger invariants hold')
  t.same(stack.logs.findings, [], `no secret, signature or card number in ${stack.logs.lines} log lines`)
  t.comment(`fuzz suite wall time ${((performance.now() - started) / 1000).toFixed(1)} s`)
})

// a hostile value generator that produces nothing would make every check above vacuous
t.test('the generators produce the hostile shapes they claim', async t => {
  const values = fc.sample(hostileValue, { numRuns: 500, seed })
  t.ok(values.some(v => typeof v === 'string' && v.includes('\u0000')), 'NUL')
  t.ok(values.some(v => typeof v === 'number' && !Number.isSafeInteger(v)), 'unsafe numbers')
  t.ok(values.some(v => typeof v === 'object' && v !== null), 'objects and arrays')
  const kinds = new Set(fc.sample(bodyDamage(JIT_PATHS), { numRuns: 500, seed }).map(d => d.kind))
  t.same([...kinds].sort(), ['bytes', 'deep', 'delete', 'duplicate-key', 'field', 'none', 'root', 'truncate'])
})
