import t from 'tap'
import { createTestVhost, waitFor } from '@jit/test-support'
import { build, deleteVhost, metricValue, vhostOf } from './helper.js'

t.test('GET /health, /ready and /metrics', async t => {
  const url = await createTestVhost(t, 'health')
  const { app } = await build(t, { amqpUrl: url })

  const health = await app.inject({ method: 'GET', url: '/health' })
  t.equal(health.statusCode, 200)
  t.same(health.json(), { status: 'ok', service: 'webhook-ingest' })

  const ready = await app.inject({ method: 'GET', url: '/ready' })
  t.equal(ready.statusCode, 200)
  t.match(ready.json(), { status: 'ready', ok: true, service: 'webhook-ingest', dependencies: { rabbitmq: { up: true, required: true } } })
  t.same(Object.keys(ready.json().dependencies), ['rabbitmq'], 'stateless: no database, no cache')

  const metrics = await app.inject({ method: 'GET', url: '/metrics' })
  t.equal(metrics.statusCode, 200)
  t.match(metrics.headers['content-type'], /^text\/plain/)
  t.match(metrics.body, /# TYPE webhook_batches_total counter/)
  t.match(metrics.body, /# TYPE webhook_auth_failures_total counter/)
  t.match(metrics.body, /# TYPE webhook_publish_duration_seconds histogram/)
  t.match(metrics.body, /process_cpu_user_seconds_total\{service="webhook-ingest"\}/, 'default metrics with the service label')
  t.equal(metricValue(metrics.body, 'webhook_events_published_total'), 0)

  // The ops routes need no credentials and are untouched by the webhook route's auth hooks.
  t.equal((await app.inject({ method: 'GET', url: '/nope' })).statusCode, 404)
  t.same((await app.inject({ method: 'GET', url: '/nope' })).json().error, 'NOT_FOUND')

  // Broker gone: not ready (a load balancer stops sending us webhooks), still alive.
  await deleteVhost(vhostOf(url))
  await waitFor(async () => (await app.inject({ method: 'GET', url: '/ready' })).statusCode === 503, 10_000, '/ready 503')
  const notReady = await app.inject({ method: 'GET', url: '/ready' })
  t.match(notReady.json(), { status: 'unavailable', ok: false, dependencies: { rabbitmq: { up: false } } })
  t.equal((await app.inject({ method: 'GET', url: '/health' })).statusCode, 200)
})
