import t from 'tap'
import { parseJitFundingRequest, compileValidator, TransactionEvent, WebhookBatch } from '@jit/contracts'
import { jitFundingRequest, purchasesOf, webhookBatch } from '../src/index.js'

const card = { user: 'u-1', card: 'c-1' }

t.test('a JIT funding request parses as the processor sends it, amounts exact in major units', async t => {
  const body = jitFundingRequest(card, { amount: 4250, method: 'pgfs.authorization' })
  const parsed = parseJitFundingRequest(JSON.parse(JSON.stringify(body)))
  t.equal(parsed.kind, 'ok')
  if (parsed.kind === 'ok') t.equal(parsed.jitFunding.amount, 42.5)
  t.notOk(JSON.stringify(body).includes('jitToken'), 'the test-side token is not sent')
  t.match(body.jitToken, /^jit-/)
  const unload = jitFundingRequest(card, { amount: 1, unload: true })
  t.ok('gpa_order_unload' in unload)
})

t.test('every webhook of a purchase matches the contracts schema and batches validate', async t => {
  const s = purchasesOf(card)
  const p = s.purchase(10000)
  const events = [s.pending(p), s.clearing(p, 10000, true), s.reversal(p, null), s.advice(p, 40), s.refund(p, 1), s.forceCapture(3), s.declined(p), s.pinDebit(p)]
  const checkEvent = compileValidator(TransactionEvent)
  for (const e of events) t.ok(checkEvent(e).ok, `${String(e.type)} ${String(e.state)}`)
  t.ok(compileValidator(WebhookBatch)(webhookBatch('transactions', events.slice(0, 8))).ok)
  const clearing = s.clearing(p, 2500, false) as { gpa: { impacted_amount: number }, preceding_related_transaction_token: string }
  t.equal(clearing.gpa.impacted_amount, -25)
  t.equal(clearing.preceding_related_transaction_token, p.txToken)
})
