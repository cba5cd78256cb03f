import t from 'tap'
import { parseWebhookBatch, webhookMessageId } from '../src/app.js'

// Pure functions (no broker needed): the byte-exact split and the deterministic message ids.

t.test('each event keeps its exact bytes', async t => {
  const text = '{ "transactions" : [\n {"token":"a","amount":12.50,"big":12345678901234567890123},' +
    '{"token":"b","s":"q\\"uo]te}s,\\\\","nested":{"x":[1,[2,{"y":"]"}]]}} , {"token":"c\\u00e9"}\n] }'
  const result = parseWebhookBatch(Buffer.from(text))
  t.ok(result.ok)
  if (!result.ok) return
  t.equal(result.batch.family, 'transactions')
  t.same(result.batch.events.map(e => e.raw), [
    '{"token":"a","amount":12.50,"big":12345678901234567890123}',
    '{"token":"b","s":"q\\"uo]te}s,\\\\","nested":{"x":[1,[2,{"y":"]"}]]}}',
    '{"token":"c\\u00e9"}'
  ])
  t.same(result.batch.events.map(e => e.token), ['a', 'b', 'cé'])
  for (const e of result.batch.events) t.same(JSON.parse(e.raw), e.event)
})

t.test('scalar and unicode members are split correctly', async t => {
  const text = '{"pings":[{"token":"marqeta","payload":"healthcheck","n":-1.5e3,"t":true,"f":false,"z":null,"u":"日本"}]}'
  const result = parseWebhookBatch(Buffer.from(text))
  t.ok(result.ok)
  if (result.ok) t.equal(result.batch.events[0]?.raw, '{"token":"marqeta","payload":"healthcheck","n":-1.5e3,"t":true,"f":false,"z":null,"u":"日本"}')
})

t.test('problems are named', async t => {
  const cases: Array<[string, string]> = [
    ['{"a":', 'INVALID_JSON'],
    ['42', 'INVALID_BODY'],
    ['{"x": [{"token": "a"}], "y": [{"token": "b"}]}', 'INVALID_BODY'],
    ['{"transactions": "no"}', 'INVALID_BODY'],
    ['{"transactions": []}', 'EMPTY_BATCH'],
    [`{"transactions": [${Array.from({ length: 11 }, (_, i) => `{"token":"t${i}"}`).join(',')}]}`, 'BATCH_TOO_LARGE'],
    ['{"transactions": [{"token": null}]}', 'INVALID_EVENT'],
    ['{"UPPER": [{"token": "a"}]}', 'INVALID_FAMILY']
  ]
  for (const [text, error] of cases) {
    const result = parseWebhookBatch(Buffer.from(text))
    t.equal(result.ok ? 'ok' : result.problem.error, error, text.slice(0, 60))
  }
})

t.test('events may nest 32 levels; deeper ones are refused before anything downstream recurses into them', async t => {
  // the event object itself is level 1
  const event = (levels: number): string => `{"token":"t${levels}","x":${'{"a":'.repeat(levels - 1)}1${'}'.repeat(levels - 1)}}`
  const ok = parseWebhookBatch(Buffer.from(`{"transactions":[${event(32)}]}`))
  t.ok(ok.ok, '32 levels pass')
  if (ok.ok) t.equal(ok.batch.events[0]?.raw, event(32))
  const strings = parseWebhookBatch(Buffer.from(`{"transactions":[{"token":"s","memo":"${'[{'.repeat(100)}"}]}`))
  t.ok(strings.ok, 'brackets inside strings are text, not nesting')
  const refused = parseWebhookBatch(Buffer.from(`{"transactions":[{"token":"fine"},${event(33)}]}`))
  t.notOk(refused.ok)
  if (!refused.ok) {
    t.equal(refused.problem.error, 'EVENT_TOO_DEEP')
    t.equal(refused.problem.field, '/transactions/1')
    t.match(refused.problem.message, /\/transactions\/1 Nested 33 levels deep; at most 32 allowed/)
  }
  // 6,000 levels: JSON.parse takes it; JSON.stringify downstream would overflow the stack
  const huge = parseWebhookBatch(Buffer.from(`{"transactions":[${event(6000)}]}`))
  t.equal(huge.ok ? 'ok' : huge.problem.error, 'EVENT_TOO_DEEP')
})

t.test('message ids: UUID-shaped, deterministic, distinct per family and token', async t => {
  const id = webhookMessageId('transactions', 'txn-1')
  t.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
  t.equal(webhookMessageId('transactions', 'txn-1'), id)
  t.not(webhookMessageId('transactions', 'txn-2'), id)
  t.not(webhookMessageId('cardtransitions', 'txn-1'), id)
})
