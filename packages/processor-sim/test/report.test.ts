import t from 'tap'
import { parsePrometheus, histogramQuantile, buildReport, createRandom, transactionFields } from '../src/index.js'

t.test('histogram quantiles are interpolated inside their bucket, as PromQL does', async t => {
  const text = [
    '# HELP x_seconds demo',
    'x_seconds_bucket{le="0.01",stage="a"} 50',
    'x_seconds_bucket{le="0.1",stage="a"} 90',
    'x_seconds_bucket{le="1",stage="a"} 100',
    'x_seconds_bucket{le="+Inf",stage="a"} 100',
    'x_seconds_bucket{le="+Inf",stage="b"} 0'
  ].join('\n')
  const s = parsePrometheus(text)
  t.equal(histogramQuantile(s, 'x_seconds', 0.5, { stage: 'a' }), 0.01)
  t.ok(Math.abs((histogramQuantile(s, 'x_seconds', 0.7, { stage: 'a' }) ?? 0) - 0.055) < 1e-9)
  t.ok(Math.abs((histogramQuantile(s, 'x_seconds', 0.95, { stage: 'a' }) ?? 0) - 0.55) < 1e-9)
  t.equal(histogramQuantile(s, 'x_seconds', 0.5, { stage: 'b' }), null, 'no observations: no percentile')
})

t.test('the report: approval rate over decisions that could decline, reasons, cache hit rate, dead letters', async t => {
  const authorizer = [
    'jit_decisions_total{outcome="approved",reason="none"} 6',
    'jit_decisions_total{outcome="declined",reason="INSUFFICIENT_FUNDS"} 2',
    'jit_decisions_total{outcome="answered",reason="none"} 5',
    'jit_cache_hits_total 30',
    'jit_cache_misses_total 10',
    'jit_request_duration_seconds_bucket{le="0.005"} 8',
    'jit_request_duration_seconds_bucket{le="+Inf"} 8'
  ].join('\n')
  const ready = { dependencies: { rabbitmq: { detail: { queues: [{ deadMessages: 2 }, { deadMessages: 1 }] } } } }
  const r = buildReport(authorizer, 'txn_worker_webhook_to_ledger_lag_seconds_count 4', ready)
  t.equal(r.approvalRate, 0.75)
  t.same(r.declineReasons, { INSUFFICIENT_FUNDS: 2 })
  t.equal(r.cacheHitRate, 0.75)
  t.equal(r.deadLetters, 3)
  t.equal(r.webhookToLedger.count, 4)
  t.ok(r.endToEnd.p50 !== null && r.endToEnd.p50 <= 5)
})

t.test('one seed, one sequence of merchant fields', async t => {
  const a = createRandom(42)
  const b = createRandom(42)
  const fa = Array.from({ length: 5 }, () => transactionFields(a))
  t.same(fa, Array.from({ length: 5 }, () => transactionFields(b)))
  t.not(JSON.stringify(fa), JSON.stringify(Array.from({ length: 5 }, () => transactionFields(createRandom(43)))))
  for (const f of fa) t.match(f.card_acceptor.mcc, /^\d{4}$/)
})
