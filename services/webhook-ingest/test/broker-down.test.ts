import t from 'tap'
import { createTestVhost, waitFor } from '@jit/test-support'
import { addVhost, bindTestQueue, build, deleteVhost, drain, metricValue, transaction, vhostOf } from './helper.js'

// Only this file's own vhost is deleted: the broker and every other test file's vhost stay up.
t.test('broker unavailable: 503 with the configured Retry-After, nothing reported accepted; recovers after', async t => {
  const url = await createTestVhost(t, 'down')
  const vhost = vhostOf(url)
  const reader = await bindTestQueue(t, url)
  // WEBHOOK_RETRY_AFTER_S off its default (5), so the header is seen to come from the setting
  const { app, connections, post } = await build(t, { amqpUrl: url, env: { WEBHOOK_BROKER_WAIT_MS: '1000', WEBHOOK_PUBLISH_TIMEOUT_MS: '5000', WEBHOOK_RETRY_AFTER_S: '17' } })
  // A second instance that waits longer for the broker than for the confirms: its 503 comes at
  // WEBHOOK_PUBLISH_TIMEOUT_MS.
  const patient = await build(t, { amqpUrl: url, env: { WEBHOOK_BROKER_WAIT_MS: '20000', WEBHOOK_PUBLISH_TIMEOUT_MS: '300' } })
  const brokerUp = async (): Promise<boolean> => (await connections.health()).ok
  const batch = { transactions: [transaction('txn-down-1'), transaction('txn-down-2', 'authorization.clearing')] }

  t.equal((await post(batch)).statusCode, 200, 'accepted while the broker is up')
  t.equal((await drain(reader)).length, 2)
  await reader.close()

  await deleteVhost(vhost)
  await waitFor(async () => !(await brokerUp()), 10_000, 'broker connection lost')

  let started = Date.now()
  const res = await post(batch)
  t.ok(Date.now() - started < 4000, `answered after WEBHOOK_BROKER_WAIT_MS (1000), not the 5000 ms publish timeout (${Date.now() - started} ms)`)
  t.equal(res.statusCode, 503)
  t.equal(res.headers['retry-after'], '17')
  t.same(res.json(), { error: 'BROKER_UNAVAILABLE', message: 'the events could not be durably accepted; retry the whole batch later' })
  t.equal((await app.inject({ method: 'GET', url: '/ready' })).statusCode, 503)

  started = Date.now()
  const cut = await patient.post(batch)
  t.equal(cut.statusCode, 503, 'the confirms waited for WEBHOOK_PUBLISH_TIMEOUT_MS')
  t.ok(Date.now() - started < 3000, `answered after WEBHOOK_PUBLISH_TIMEOUT_MS (300), not the 20000 ms broker wait (${Date.now() - started} ms)`)
  // closed now: its publish, still waiting for the broker, must not land once the vhost is back
  await patient.app.close()
  await patient.connections.close()

  const pings = await post({ pings: [{ token: 'marqeta', payload: 'healthcheck' }] })
  t.equal(pings.statusCode, 200, 'pings need no broker')

  const text = (await app.inject({ method: 'GET', url: '/metrics' })).body
  t.equal(metricValue(text, 'webhook_batches_total', { family: 'transactions', outcome: 'unavailable' }), 1)
  t.equal(metricValue(text, 'webhook_events_published_total', { family: 'transactions' }), 2, 'only the first batch counted as published')
  t.equal(metricValue(text, 'webhook_publish_duration_seconds_count', { outcome: 'failed' }), 1)

  // The broker comes back (the vhost is re-created and declared): the processor's retry succeeds.
  await addVhost(vhost)
  const again = await bindTestQueue(t, url)
  await waitFor(brokerUp, 20_000, 'publisher reconnected')
  const retried = await post(batch)
  t.equal(retried.statusCode, 200)
  const got = await drain(again)
  t.same(got.map(m => (m.body as { token: string }).token).sort(), ['txn-down-1', 'txn-down-2'])
})
