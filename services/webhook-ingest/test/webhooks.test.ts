import t from 'tap'
import { createTestVhost } from '@jit/test-support'
import { webhookRoutingKey } from '@jit/contracts'
import { webhookMessageId } from '../src/app.js'
import { AUTH, bindTestQueue, build, drain, metricValue, transaction } from './helper.js'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

t.test('POST /v1/webhooks/marqeta on the real broker', async t => {
  const url = await createTestVhost(t, 'webhooks')
  const reader = await bindTestQueue(t, url)
  const { app, post } = await build(t, { amqpUrl: url, env: { WEBHOOK_MAX_BODY_BYTES: '4096' } })

  t.test('a batch of 3 transactions: one message each, routed by type, bodies untouched', async t => {
    const events = [
      transaction('txn-auth-1', 'authorization', { gpa_order: { jit_funding: { token: 'jit-1', amount: 12.5 } } }),
      transaction('txn-clear-1', 'authorization.clearing', { state: 'COMPLETION', nested: { deep: [1, 'two', null, { three: true }] } }),
      transaction('txn-rev-1', 'authorization.reversal', { unknown_field: 'kept' })
    ]
    const res = await post({ transactions: events })
    t.equal(res.statusCode, 200)
    t.same(res.json(), { family: 'transactions', events: 3, published: 3 })

    const got = await drain(reader)
    t.equal(got.length, 3, 'every event was confirmed before the 200')
    const byToken = new Map(got.map(m => [(m.body as { token: string }).token, m]))
    for (const event of events) {
      const msg = byToken.get(event.token as string)
      t.ok(msg, `published ${String(event.token)}`)
      if (msg === undefined) continue
      t.equal(msg.routingKey, webhookRoutingKey('transactions', event))
      t.equal(msg.type, msg.routingKey, 'type is the routing key')
      t.equal(msg.contentType, 'application/json')
      t.same(msg.body, event, 'the event object exactly as sent')
      t.equal(msg.headers.family, 'transactions')
      t.match(msg.messageId, UUID)
      t.equal(msg.messageId, webhookMessageId('transactions', event.token as string))
    }
    t.same([...byToken.values()].map(m => m.routingKey).sort(), [
      'webhook.transactions.authorization',
      'webhook.transactions.authorization.clearing',
      'webhook.transactions.authorization.reversal'
    ])

    // The processor redelivers the same batch (our 200 was lost): same ids, so consumers dedupe.
    const again = await post({ transactions: events })
    t.equal(again.statusCode, 200)
    const redelivered = await drain(reader)
    t.same(
      redelivered.map(m => m.messageId).sort(),
      got.map(m => m.messageId).sort(),
      'message ids are stable across a redelivered batch'
    )
  })

  t.test('an unknown family is accepted and routed under its own name', async t => {
    const event = { token: 'nf-1', status: 'CREATED', anything: { goes: 1 } }
    const res = await post({ newfamilytransitions: [event] })
    t.equal(res.statusCode, 200)
    t.same(res.json(), { family: 'newfamilytransitions', events: 1, published: 1 })
    const got = await drain(reader)
    t.equal(got.length, 1)
    t.equal(got[0]?.routingKey, 'webhook.newfamilytransitions.CREATED')
    t.same(got[0]?.body, event)
    t.equal(got[0]?.headers.family, 'newfamilytransitions')
  })

  t.test('card transitions route by state', async t => {
    const res = await post({ cardtransitions: [{ token: 'ct-1', state: 'SUSPENDED', card_token: 'card-1' }] })
    t.equal(res.statusCode, 200)
    const got = await drain(reader)
    t.same(got.map(m => m.routingKey), ['webhook.cardtransitions.SUSPENDED'])
  })

  t.test('pings are answered 200 and nothing is published', async t => {
    const res = await post({ pings: [{ token: 'marqeta', payload: 'healthcheck' }] })
    t.equal(res.statusCode, 200)
    t.same(res.json(), { family: 'pings', events: 1, published: 0 })
    t.same(await drain(reader), [])
  })

  t.test('10 events are accepted, 11 are refused', async t => {
    const ten = Array.from({ length: 10 }, (_, i) => transaction(`txn-ten-${i}`))
    t.equal((await post({ transactions: ten })).statusCode, 200)
    t.equal((await drain(reader)).length, 10)

    const res = await post({ transactions: [...ten, transaction('txn-eleven')] })
    t.equal(res.statusCode, 400)
    t.equal(res.json().error, 'BATCH_TOO_LARGE')
    t.match(res.json().message, /at most 10/)
    t.same(await drain(reader), [], 'nothing of a refused batch is published')
  })

  const refused: Array<[string, string | object, string, RegExp | undefined]> = [
    ['malformed JSON', '{"transactions": [{"token": "a",}]}', 'INVALID_JSON', /not valid JSON/],
    ['an empty body', '', 'INVALID_JSON', undefined],
    ['an array', '[{"token": "a"}]', 'INVALID_BODY', /got an array/],
    ['a string', '"transactions"', 'INVALID_BODY', /got a string/],
    ['null', 'null', 'INVALID_BODY', /got null/],
    ['no family', {}, 'INVALID_BODY', /exactly one family property, got 0/],
    ['two families', { transactions: [transaction('a')], cardtransitions: [{ token: 'b' }] }, 'INVALID_BODY', /got 2 \(transactions, cardtransitions\)/],
    ['a duplicated family key', '{"transactions": [{"token": "a"}], "transactions": [{"token": "b"}]}', 'INVALID_BODY', /got 2/],
    ['a family that is not an array', { transactions: { token: 'a' } }, 'INVALID_BODY', /must be an array/],
    ['an empty array', { transactions: [] }, 'EMPTY_BATCH', /at least one event/],
    ['an event without token', { transactions: [transaction('ok'), { type: 'authorization' }] }, 'INVALID_EVENT', /token/],
    ['a numeric token', { transactions: [{ token: 42, type: 'authorization' }] }, 'INVALID_EVENT', /token/],
    ['an empty token', { transactions: [{ token: '' }] }, 'INVALID_EVENT', /token/],
    ['an event that is not an object', { transactions: ['txn-1'] }, 'INVALID_EVENT', undefined],
    ['a family name that is not lower-case words', { 'Trans.Actions': [{ token: 'a' }] }, 'INVALID_FAMILY', undefined],
    ['an event nested 40 levels deep', `{"transactions": [{"token": "deep", "x": ${'['.repeat(39)}1${']'.repeat(39)}}]}`, 'EVENT_TOO_DEEP', /at most 32 levels/]
  ]
  for (const [name, body, error, message] of refused) {
    t.test(`${name} is a 400 naming the problem, nothing published`, async t => {
      const res = await post(body)
      t.equal(res.statusCode, 400)
      const json = res.json()
      t.equal(json.error, error)
      t.type(json.message, 'string')
      if (message !== undefined) t.match(json.message, message)
      t.same(await drain(reader), [])
    })
  }

  t.test('an event without token names the field', async t => {
    const res = await post({ transactions: [transaction('ok'), { type: 'authorization' }] })
    t.match(res.json(), { error: 'INVALID_EVENT', field: '/transactions/1/token', message: /\/transactions\/1\/token Required property/ })
    t.notOk('errors' in res.json(), 'one shape: {error, message, field}')
  })

  t.test('a too deeply nested event names its place and depth', async t => {
    const res = await post(`{"transactions": [{"token": "fine"}, {"token": "deep", "x": ${'{"a":'.repeat(39)}1${'}'.repeat(39)}}]}`)
    t.equal(res.statusCode, 400)
    t.match(res.json(), { error: 'EVENT_TOO_DEEP', field: '/transactions/1', message: /\/transactions\/1 Nested 40 levels deep; at most 32 allowed/ })
    t.same(await drain(reader), [], 'not even the fine event was published')
  })

  t.test('a body over WEBHOOK_MAX_BODY_BYTES is a 413 JSON error, nothing published', async t => {
    const big = { transactions: [transaction('txn-big', 'authorization', { padding: 'x'.repeat(5000) })] }
    const res = await post(big)
    t.equal(res.statusCode, 413)
    t.same(res.json(), { error: 'PAYLOAD_TOO_LARGE', message: 'the body is larger than 4096 bytes' })
    t.same(await drain(reader), [])
  })

  t.test('any content type is read as the raw JSON body', async t => {
    const res = await post({ transactions: [transaction('txn-ct')] }, { 'content-type': 'text/plain' })
    t.equal(res.statusCode, 200)
    t.equal((await drain(reader)).length, 1)
  })

  t.test('metrics count batches, events by family and refusals', async t => {
    const text = (await app.inject({ method: 'GET', url: '/metrics' })).body
    t.equal(metricValue(text, 'webhook_events_published_total', { family: 'transactions' }), 3 + 3 + 10 + 1)
    t.equal(metricValue(text, 'webhook_events_published_total', { family: 'other' }), 1, 'unknown families share one label')
    t.equal(metricValue(text, 'webhook_batches_total', { family: 'pings', outcome: 'ping' }), 1)
    t.equal(metricValue(text, 'webhook_batches_total', { family: 'transactions', outcome: 'accepted' }), 4)
    t.equal(metricValue(text, 'webhook_invalid_requests_total', { error: 'BATCH_TOO_LARGE' }), 1)
    t.equal(metricValue(text, 'webhook_invalid_requests_total', { error: 'PAYLOAD_TOO_LARGE' }), 1)
    t.ok(metricValue(text, 'webhook_publish_duration_seconds_count', { outcome: 'confirmed' }) >= 6)
  })
})

t.test('the contract topology is missing (publish refused by the broker): 503, not accepted', async t => {
  // A vhost where nobody declared cards.events: the broker refuses the publish.
  const url = await createTestVhost(t, 'notopo')
  const { post } = await build(t, { amqpUrl: url, declareTopology: false })
  const res = await post({ transactions: [transaction('txn-no-exchange')] })
  t.equal(res.statusCode, 503)
  t.equal(res.headers['retry-after'], '5', 'WEBHOOK_RETRY_AFTER_S, default 5')
  t.equal(res.json().error, 'BROKER_UNAVAILABLE')
})

t.test('graceful shutdown: an in-flight batch is confirmed and answered before the app closes', async t => {
  const url = await createTestVhost(t, 'shutdown')
  const reader = await bindTestQueue(t, url)
  const { app, connections } = await build(t, { amqpUrl: url })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0

  // A real socket (not inject), so close() has a request in flight to wait for.
  const inFlight = fetch(`http://127.0.0.1:${port}/v1/webhooks/marqeta`, {
    method: 'POST',
    headers: { authorization: AUTH, 'content-type': 'application/json' },
    body: JSON.stringify({ transactions: Array.from({ length: 10 }, (_, i) => transaction(`txn-shutdown-${i}`)) })
  })
  // Close as soon as the request reached the server.
  await new Promise<void>(resolve => { app.server.once('request', () => { resolve() }) })
  const closing = app.close()
  const res = await inFlight
  t.equal(res.status, 200)
  await closing
  await connections.close()
  t.equal((await drain(reader)).length, 10, 'every event of the in-flight batch was published')
})
