import t from 'tap'
import { createTestVhost, waitFor } from '@jit/test-support'
import { RETRY_AFTER_SECONDS } from '../src/app.js'
import { addVhost, bindTestQueue, build, deleteVhost, drain, metricValue, transaction, vhostOf } from './helper.js'

// Only this file's own vhost is deleted: the broker and every other test file's vhost stay up.
t.test('broker unavailable: 503 with Retry-After, nothing reported accepted; recovers after', async t => {
  const url = await createTestVhost(t, 'down')
  const vhost = vhostOf(url)
  const reader = await bindTestQueue(t, url)
  const { app, connections, post } = await build(t, { amqpUrl: url, acquireTimeoutMs: 1000, publishTimeoutMs: 5000 })
  const brokerUp = async (): Promise<boolean> => (await connections.health()).ok
  const batch = { transactions: [transaction('txn-down-1'), transaction('txn-down-2', 'authorization.clearing')] }

  t.equal((await post(batch)).statusCode, 200, 'accepted while the broker is up')
  t.equal((await drain(reader)).length, 2)
  await reader.close()

  await deleteVhost(vhost)
  await waitFor(async () => !(await brokerUp()), 10_000, 'broker connection lost')

  const res = await post(batch)
  t.equal(res.statusCode, 503)
  t.equal(res.headers['retry-after'], String(RETRY_AFTER_SECONDS))
  t.same(res.json(), { error: 'BROKER_UNAVAILABLE', message: 'the events could not be durably accepted; retry the whole batch later' })
  t.equal((await app.inject({ method: 'GET', url: '/ready' })).statusCode, 503)

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
