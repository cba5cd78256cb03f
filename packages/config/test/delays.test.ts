import t from 'tap'
import type { TObject } from '@sinclair/typebox'
import { CommonConfig, JitAuthorizerConfig, MarqetaClientConfig, TxnWorkerConfig, WebhookIngestConfig, loadConfig, parseDelays } from '../src/index.js'

t.test('retry delays are a list of positive integers, their count the number of retries', async t => {
  t.same(parseDelays('1000,5000,25000'), [1000, 5000, 25000])
  t.same(parseDelays(loadConfig(CommonConfig, {}).AMQP_RETRY_DELAYS_MS), [1000, 5000, 25000], 'the default is the contract\'s 1 s, 5 s, 25 s')
  t.same(parseDelays(loadConfig(CommonConfig, { AMQP_RETRY_DELAYS_MS: '100' }).AMQP_RETRY_DELAYS_MS), [100])
  t.throws(() => parseDelays('100,0'), /not a delay/)
  for (const bad of ['', '1000,', '-5', '1.5', '100 200']) {
    t.throws(() => loadConfig(CommonConfig, { AMQP_RETRY_DELAYS_MS: bad === '' ? ',' : bad }), /AMQP_RETRY_DELAYS_MS/, `${JSON.stringify(bad)} is refused naming the variable`)
  }
})

t.test('a backoff that starts above its cap is refused', async t => {
  t.throws(() => loadConfig(CommonConfig, { AMQP_TRANSIENT_RETRY_MS: '6000', AMQP_TRANSIENT_RETRY_MAX_MS: '5000' }), /AMQP_TRANSIENT_RETRY_MS/)
  t.throws(() => loadConfig(CommonConfig, { AMQP_RECONNECT_MIN_MS: '9000' }), /AMQP_RECONNECT_MIN_MS/)
})

t.test('a Redis ping interval above the socket timeout is refused (a healthy idle socket would time out)', async t => {
  t.throws(() => loadConfig(CommonConfig, { REDIS_PING_INTERVAL_MS: '6000' }), /REDIS_PING_INTERVAL_MS/)
  t.equal(loadConfig(CommonConfig, { REDIS_PING_INTERVAL_MS: '6000', REDIS_SOCKET_TIMEOUT_MS: '8000' }).REDIS_PING_INTERVAL_MS, 6000)
})

// The waits that were constants of their modules: each default is the former constant (behaviour
// unchanged), and a value set is the value loaded.
t.test('retry, backoff and timeout settings: their defaults, and a value set is loaded', async t => {
  // variable: [schema, default, a value set]
  const settings: Record<string, [TObject, number, number]> = {
    AMQP_REQUEUE_PAUSE_MS: [CommonConfig, 1000, 250],
    REDIS_CONNECT_TIMEOUT_MS: [CommonConfig, 1000, 300],
    REDIS_PING_INTERVAL_MS: [CommonConfig, 1000, 2000],
    REDIS_SOCKET_TIMEOUT_MS: [CommonConfig, 5000, 9000],
    JIT_SHED_RETRY_MS: [JitAuthorizerConfig, 60000, 120000],
    JIT_SHED_RECORD_BUDGET_MS: [JitAuthorizerConfig, 1000, 400],
    JIT_SHED_CLOSE_WAIT_MS: [JitAuthorizerConfig, 2000, 0],
    WEBHOOK_PUBLISH_TIMEOUT_MS: [WebhookIngestConfig, 10000, 3000],
    WEBHOOK_BROKER_WAIT_MS: [WebhookIngestConfig, 5000, 1500],
    WEBHOOK_RETRY_AFTER_S: [WebhookIngestConfig, 5, 30],
    WEBHOOK_CONNECTION_TIMEOUT_MS: [WebhookIngestConfig, 30000, 10000],
    WEBHOOK_REQUEST_TIMEOUT_MS: [WebhookIngestConfig, 30000, 15000],
    WEBHOOK_KEEP_ALIVE_TIMEOUT_MS: [WebhookIngestConfig, 65000, 75000],
    AMQP_PUBLISH_ACQUIRE_TIMEOUT_MS: [CommonConfig, 10000, 3000],
    AMQP_TOPOLOGY_RETRY_MS: [CommonConfig, 1000, 200],
    AMQP_QUEUE_STATS_CACHE_MS: [CommonConfig, 5000, 0],
    HEALTH_PROBE_TIMEOUT_MS: [CommonConfig, 2000, 500],
    REDIS_TOMBSTONE_MS: [CommonConfig, 5000, 8000],
    REDIS_INVALIDATION_TIMEOUT_MS: [CommonConfig, 1000, 3000],
    JIT_SHED_FLUSH_MS: [JitAuthorizerConfig, 250, 100],
    JIT_SHED_QUEUE_MAX: [JitAuthorizerConfig, 10000, 500],
    JIT_LOCAL_CACHE_TTL_MS: [JitAuthorizerConfig, 5000, 1000],
    CONSOLE_PROMETHEUS_TIMEOUT_MS: [TxnWorkerConfig, 2000, 700],
    MARQETA_TIMEOUT_MS: [MarqetaClientConfig, 10000, 4000],
    MARQETA_BACKOFF_MS: [MarqetaClientConfig, 250, 50]
  }
  const secrets = { JIT_BASIC_AUTH: 'jit:Str0ng-Secret-Value-9f8e7d', WEBHOOK_BASIC_AUTH: 'hooks:Str0ng-Secret-Value-9f8e7d', OPERATOR_BASIC_AUTH: 'ops:Str0ng-Secret-Value-9f8e7d' }
  for (const [name, [schema, defaultValue, set]] of Object.entries(settings)) {
    t.equal((loadConfig(schema, secrets) as Record<string, unknown>)[name], defaultValue, `${name} defaults to ${defaultValue}`)
    t.equal((loadConfig(schema, { ...secrets, [name]: String(set) }) as Record<string, unknown>)[name], set, `${name}=${set} is loaded`)
    t.throws(() => loadConfig(schema, { ...secrets, [name]: '-1' }), new RegExp(name), `${name} refuses a negative wait`)
  }
})

t.test('the MongoDB server selection timeout is DATABASE_CONNECT_TIMEOUT_MS unless set', async t => {
  t.equal(loadConfig(CommonConfig, {}).MONGO_SERVER_SELECTION_TIMEOUT_MS, undefined)
  t.equal(loadConfig(CommonConfig, { MONGO_SERVER_SELECTION_TIMEOUT_MS: '' }).MONGO_SERVER_SELECTION_TIMEOUT_MS, undefined)
  t.equal(loadConfig(CommonConfig, { MONGO_SERVER_SELECTION_TIMEOUT_MS: '1500' }).MONGO_SERVER_SELECTION_TIMEOUT_MS, 1500)
  t.throws(() => loadConfig(CommonConfig, { MONGO_SERVER_SELECTION_TIMEOUT_MS: '0' }), /MONGO_SERVER_SELECTION_TIMEOUT_MS/)
})

t.test('the jit-ops Core API client settings are in the worker\'s schema too', async t => {
  for (const name of Object.keys(MarqetaClientConfig.properties)) t.ok(name in TxnWorkerConfig.properties, name)
})
