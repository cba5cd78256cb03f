import { Type, type Static, type StringOptions, type TOptional, type TProperties, type TSchema, type TString } from '@sinclair/typebox'
import { BasicAuthSecret, Secret, StringEnum, UrlString } from './keywords.js'

const ms = (description: string, defaultValue: number, minimum = 1, maximum?: number) =>
  Type.Integer({ description, default: defaultValue, minimum, ...(maximum === undefined ? {} : { maximum }) })

/** Log levels pino accepts. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const

/** Deployment environments; only `local` accepts example placeholder secrets. */
export const DEPLOY_ENVS = ['production', 'staging', 'local'] as const

/** Variables every service reads: process, PostgreSQL, Redis, RabbitMQ, MongoDB, outbox, profiler. */
export const CommonConfig = Type.Object({
  HOST: Type.String({ description: 'Interface the HTTP server listens on', default: '0.0.0.0', minLength: 1 }),
  LOG_LEVEL: StringEnum(LOG_LEVELS, { description: 'pino log level', default: 'info' }),
  DEPLOY_ENV: StringEnum(DEPLOY_ENVS, { description: 'Deployment environment; only local accepts example placeholder secrets and weak passwords', default: 'production' }),

  DATABASE_URL: UrlString(['postgres:', 'postgresql:'], { description: 'PostgreSQL connection URL (the ledger, outbox and parked messages)', default: 'postgres://postgres@127.0.0.1:5432/jit' }),
  DATABASE_POOL_MIN: Type.Integer({ description: 'Connections kept open in the PostgreSQL pool', default: 5, minimum: 0, atMost: 'DATABASE_POOL_MAX' }),
  DATABASE_POOL_MAX: Type.Integer({ description: 'Most connections in the PostgreSQL pool', default: 20, minimum: 1 }),
  DATABASE_CONNECT_TIMEOUT_MS: ms('Give up opening a PostgreSQL connection after this many ms', 5000),
  DATABASE_STATEMENT_TIMEOUT_MS: ms('PostgreSQL statement_timeout in ms', 5000),
  DATABASE_SLOW_QUERY_MS: ms('Queries slower than this many ms are logged as slow', 200),

  REDIS_URL: UrlString(['redis:', 'rediss:'], { description: 'Redis connection URL (cache only, never the authority)', default: 'redis://127.0.0.1:6379' }),
  REDIS_KEY_PREFIX: Type.String({ description: 'Prefix of every Redis key', default: 'jit:' }),
  REDIS_COMMAND_TIMEOUT_MS: ms('A Redis command slower than this many ms counts as a cache miss', 100),
  CACHE_TTL_USER_S: ms('Cache TTL of a user, seconds', 3600),
  CACHE_TTL_CARD_S: ms('Cache TTL of a card, seconds', 900),
  CACHE_TTL_LIMITS_S: ms('Cache TTL of spending limits, seconds', 300),

  AMQP_URL: UrlString(['amqp:', 'amqps:'], { description: 'RabbitMQ connection URL; its path selects the vhost', default: 'amqp://guest:guest@127.0.0.1:5672' }),
  // Retry, backoff and reconnection: every tunable wait of the message path is here, not in a constant.
  AMQP_RETRY_DELAYS_MS: Type.String({ description: 'Delays of the retries of a failed message, ms, comma-separated; their count is the number of retries before <queue>.dead (they are queue arguments: delete the <queue>.retry.N queues of an existing vhost before changing them)', default: '1000,5000,25000', pattern: '^[1-9][0-9]{0,8}(,[1-9][0-9]{0,8}){0,9}$' }),
  AMQP_TRANSIENT_RETRY_MS: Type.Integer({ description: 'First pause before a message that failed on an outage (PostgreSQL down, Redis not confirming) is requeued, ms; doubles while the outage lasts', default: 250, minimum: 1, atMost: 'AMQP_TRANSIENT_RETRY_MAX_MS' }),
  AMQP_TRANSIENT_RETRY_MAX_MS: ms('Longest pause before such a requeue, ms', 5000),
  AMQP_RECONNECT_MIN_MS: Type.Integer({ description: 'First wait before reconnecting to RabbitMQ, ms; doubles up to AMQP_RECONNECT_MAX_MS', default: 200, minimum: 1, atMost: 'AMQP_RECONNECT_MAX_MS' }),
  AMQP_RECONNECT_MAX_MS: ms('Longest wait between attempts to reconnect to RabbitMQ, ms', 5000),
  AMQP_REQUEUE_PAUSE_MS: ms('Pause before a consumed message whose retry or dead-letter copy could not be published is requeued, ms (a broker refusing publishes must not become a hot loop)', 1000),
  AMQP_PUBLISH_ACQUIRE_TIMEOUT_MS: ms('While RabbitMQ is unreachable, how long a publish or declare waits for the connection before it fails, ms (the outbox relay retries its batch; webhook-ingest\'s route waits WEBHOOK_BROKER_WAIT_MS instead)', 10000),
  AMQP_TOPOLOGY_RETRY_MS: ms('After a start without RabbitMQ, the wait before the topology declaration is tried again when it failed, ms', 1000),
  AMQP_QUEUE_STATS_CACHE_MS: ms('How long a reading of the queue depths (one passive declare per queue) is reused by /ready, /health and /metrics, ms', 5000, 0),
  REDIS_RECONNECT_MAX_MS: ms('Longest wait between attempts to reconnect to Redis, ms (the cache is skipped meanwhile)', 2000),
  REDIS_CONNECT_TIMEOUT_MS: ms('Give up opening a Redis connection after this many ms (start goes on without the cache, which keeps reconnecting); the operator console\'s sessions client too', 1000),
  REDIS_PING_INTERVAL_MS: Type.Integer({ description: 'How often an idle Redis connection is pinged, ms (at most REDIS_SOCKET_TIMEOUT_MS, so a healthy idle socket never times out)', default: 1000, minimum: 1, atMost: 'REDIS_SOCKET_TIMEOUT_MS' }),
  REDIS_SOCKET_TIMEOUT_MS: ms('A Redis socket silent this long, ms, is a dead or hung server: it is dropped, its commands fail and the cache reconnects', 5000),
  REDIS_TOMBSTONE_MS: ms('How long an invalidated cache key stays a tombstone, ms: a fill from a load that started before the invalidation cannot write its possibly old value back meanwhile (keep it above the longest load)', 5000),
  REDIS_INVALIDATION_TIMEOUT_MS: ms('Longest wait of one cache invalidation command, ms (the longer of this and REDIS_COMMAND_TIMEOUT_MS; invalidations are off the decision path and their callers would rather wait than retry)', 1000),

  MONGO_URL: Type.Optional(UrlString(['mongodb:', 'mongodb+srv:'], { description: 'MongoDB URL of the document archive; empty or absent: the archive uses PostgreSQL' })),
  MONGO_POOL_MIN: Type.Integer({ description: 'Connections kept open in the MongoDB pool', default: 2, minimum: 0, atMost: 'MONGO_POOL_MAX' }),
  MONGO_POOL_MAX: Type.Integer({ description: 'Most connections in the MongoDB pool', default: 10, minimum: 1 }),
  MONGO_SERVER_SELECTION_TIMEOUT_MS: Type.Optional(Type.Integer({ description: 'How long a MongoDB operation (and start) waits for a usable server, ms; empty: DATABASE_CONNECT_TIMEOUT_MS', minimum: 1 })),
  ARCHIVE_RETENTION_DAYS: ms('Days archived documents are kept', 400),

  HEALTH_PROBE_TIMEOUT_MS: ms('Longest a single dependency probe of /ready and /health may take before the dependency counts as down, ms', 2000),
  SHUTDOWN_TIMEOUT_MS: ms('Longest graceful shutdown before the process exits anyway, ms', 10000),
  SHUTDOWN_DRAIN_MS: ms('On SIGTERM, how long /ready answers 503 while the service keeps serving, before it closes its listener, ms (cover the orchestrator\'s readiness period)', 5000, 0),
  OUTBOX_RELAY_INTERVAL_MS: ms('How often the outbox relay polls for unpublished events, ms', 200),
  OUTBOX_RELAY_BATCH: ms('Most outbox events published per relay round', 100),
  PROFILER_WARN_MS: Type.Integer({ description: 'Operations slower than this many ms are logged as warnings', default: 50, minimum: 1, atMost: 'PROFILER_CRITICAL_MS' }),
  PROFILER_CRITICAL_MS: ms('Operations slower than this many ms are logged as critical', 100),
  PROGRAM_TIMEZONE: Type.String({ description: 'IANA time zone of the card program, for spending-limit periods', default: 'UTC', check: 'timezone' })
})

/** A service's variables: the common ones, its HTTP port (`defaultPort` unless set), then its own. */
function serviceConfig<P extends TProperties> (defaultPort: number, properties: P) {
  return Type.Object({
    ...CommonConfig.properties,
    PORT: Type.Integer({ description: `HTTP port (default ${defaultPort} for this service)`, default: defaultPort, minimum: 1, maximum: 65535 }),
    ...properties
  })
}

type Rotatable<N extends string, S extends TSchema> = { [K in N]: S } & { [K in `${N}_PREVIOUS`]: TOptional<TString> }

/**
 * `NAME` and `NAME_PREVIOUS`: a secret and the one it replaces, still accepted during a rotation
 * (optional, of the same `kind`; empty: none). `previous` says what it is ('JIT user:password').
 */
function rotatable<N extends string, S extends TSchema> (name: N, current: S, kind: (options: StringOptions) => TString, previous: string): Rotatable<N, S> {
  return {
    [name]: current,
    [`${name}_PREVIOUS`]: Type.Optional(kind({ description: `Previous ${previous}, still accepted during a rotation; empty: none` }))
  } as Rotatable<N, S>
}

/** jit-authorizer: answers the processor's Gateway JIT funding requests. */
export const JitAuthorizerConfig = serviceConfig(3001, {
  ...rotatable('JIT_BASIC_AUTH', BasicAuthSecret({ description: 'user:password the processor sends on JIT funding requests' }), BasicAuthSecret, 'JIT user:password'),
  JIT_DECISION_BUDGET_MS: ms('Time budget of one JIT decision, ms (the processor waits about 3 s)', 1500, 50, 2900),
  JIT_DECISION_GRACE_MS: Type.Integer({
    description: 'After the deadline, how long the authorizer waits for a cancelled decision\'s outcome before it answers an unrecorded decline, ms (budget + grace must stay within the processor\'s 3 s)',
    default: 500,
    minimum: 0,
    sumAtMost: { with: 'JIT_DECISION_BUDGET_MS', max: 3000, because: 'the processor stops waiting after 3 s' }
  }),
  JIT_BATCH_MAX: Type.Integer({ description: 'Most decisions sent to PostgreSQL in one batch (one statement, one commit)', default: 64, minimum: 1, maximum: 64 }),
  JIT_BATCH_CONCURRENCY: Type.Integer({ description: 'Decision batches in flight at once; requests arriving meanwhile form the next batch', default: 2, minimum: 1, maximum: 64, atMost: 'DATABASE_POOL_MAX' }),
  JIT_OVERLOAD_RESPONSE: StringEnum(['decline', 'unavailable'] as const, { description: 'Answer when shedding load: decline (fast 402) or unavailable (503, the processor stands in)', default: 'decline' }),
  JIT_MAX_EVENT_LOOP_DELAY_MS: ms('Event-loop delay above which the service sheds load, ms', 1000),
  // A TIMEOUT decline answered without the database (an overload shed, a decision that could not
  // be sent) is recorded afterwards, so a repeat of its token gets the same answer.
  JIT_SHED_RETRY_MS: ms('How long the record of a TIMEOUT decline answered without the database is retried while PostgreSQL refuses it, ms; then it is dropped and a repeat of its token is decided afresh (the processor repeats within seconds)', 60000),
  JIT_SHED_RECORD_BUDGET_MS: ms('Longest lock wait of one such record (its token claimed by a concurrent repeat), ms', 1000),
  JIT_SHED_CLOSE_WAIT_MS: ms('On shutdown, how long the records still queued may take to be written, ms (what is left is logged)', 2000, 0),
  JIT_SHED_FLUSH_MS: ms('How often the queued records are written, ms (a repeat of a shed token arriving before its record is answered from memory)', 250),
  JIT_SHED_QUEUE_MAX: ms('Most records waiting to be written; beyond, the oldest are dropped (jit_shed_recorded_total{result="dropped"})', 10000),
  JIT_LOCAL_CACHE_TTL_MS: ms('How long users, cards and limits are served from process memory, ms (the decision statement compares every revision read, so a stale entry costs a retry, never an answer; longer keeps more heap)', 5000)
})

/** webhook-ingest: receives the processor's webhooks. */
export const WebhookIngestConfig = serviceConfig(3002, {
  ...rotatable('WEBHOOK_BASIC_AUTH', BasicAuthSecret({ description: 'user:password the processor sends on webhooks' }), BasicAuthSecret, 'webhook user:password'),
  ...rotatable('WEBHOOK_HMAC_SECRET', Type.Optional(Secret({ description: 'Secret of the X-Marqeta-Signature HMAC of the raw body; empty: no signature required' })), Secret, 'HMAC secret'),
  WEBHOOK_MAX_BODY_BYTES: ms('Largest webhook body accepted, bytes', 1048576),
  WEBHOOK_PUBLISH_TIMEOUT_MS: ms('Longest wait for the broker\'s confirms of a batch before it is answered 503, ms', 10000),
  WEBHOOK_BROKER_WAIT_MS: ms('While RabbitMQ is unreachable, how long a publish waits for the connection before it fails and the batch is answered 503, ms', 5000),
  WEBHOOK_RETRY_AFTER_S: ms('Retry-After of a 503, seconds: how long the processor is asked to wait before it sends the batch again', 5, 0),
  WEBHOOK_CONNECTION_TIMEOUT_MS: ms('HTTP socket timeout, ms: a client that idles or trickles bytes this long is disconnected', 30000),
  WEBHOOK_REQUEST_TIMEOUT_MS: ms('Longest time to receive a whole request, ms', 30000),
  WEBHOOK_KEEP_ALIVE_TIMEOUT_MS: ms('How long an idle keep-alive connection is kept, ms (above the proxy\'s upstream keepalive_timeout, 60 s in nginx, so the proxy closes idle sockets first)', 65000)
})

/**
 * The processor's Core API client of `jit-ops processor setup` and `reconcile` (each attempt is
 * retried on 429, 5xx and network failures with exponential backoff).
 */
export const MarqetaClientConfig = Type.Object({
  MARQETA_TIMEOUT_MS: ms('Timeout of one Core API attempt of jit-ops processor setup and reconcile, ms', 10000),
  MARQETA_BACKOFF_MS: ms('First backoff before a Core API call is retried (429, 5xx, network failure), ms; doubles each retry, with jitter, a Retry-After honoured', 250)
})

/** txn-worker: applies transaction events to the ledger and expires holds. */
export const TxnWorkerConfig = serviceConfig(3003, {
  ...rotatable('OPERATOR_BASIC_AUTH', BasicAuthSecret({ description: 'user:password of the operator endpoints' }), BasicAuthSecret, 'operator user:password'),
  CONSOLE_OPERATORS: Type.Optional(Secret({ description: 'Operator console accounts: comma-separated user:hash pairs (each hash from jit-ops operators hash); empty: the OPERATOR_BASIC_AUTH user and password', pattern: '^[A-Za-z0-9._@-]{1,64}:scrypt\\.[A-Za-z0-9._-]+(,[A-Za-z0-9._@-]{1,64}:scrypt\\.[A-Za-z0-9._-]+)*$' })),
  CONSOLE_SESSION_SECRET: Type.Optional(Secret({ description: 'Secret signing operator console session cookies (at least 32 characters); empty: derived from OPERATOR_BASIC_AUTH', minLength: 32 })),
  CONSOLE_SESSION_IDLE_S: ms('An operator console session ends after this many seconds without a request', 1800, 60),
  CONSOLE_SESSION_ABSOLUTE_S: ms('An operator console session ends this many seconds after sign-in, whatever the activity', 43200, 60),
  CONSOLE_PROMETHEUS_URL: Type.Optional(UrlString(['http:', 'https:'], { description: 'Prometheus the console health page reads the JIT stage p99 from; empty: not shown' })),
  CONSOLE_PROMETHEUS_TIMEOUT_MS: ms('Longest wait for Prometheus\'s answer on the console health page, ms (past it the page says Prometheus is unreachable)', 2000),
  ...MarqetaClientConfig.properties,
  WORKER_PREFETCH: ms('RabbitMQ prefetch of the worker\'s commands queue (about 2 x concurrency)', 20),
  WORKER_CONCURRENCY: ms('Commands the worker handles at once', 10),
  // A command's cache entries are invalidated again after its commit; a Redis that still refuses
  // after these attempts requeues the command (it is answered once an invalidation succeeds).
  COMMAND_INVALIDATION_ATTEMPTS: ms('Attempts at one cache invalidation after a command commits, before the command is requeued', 3),
  COMMAND_INVALIDATION_RETRY_MS: ms('Wait before the next such attempt, ms, times the attempt number', 100),
  // One transaction and one commit per batch instead of per message: a hot account's row lock is
  // taken once per batch. The batched queues prefetch twice this, so the next batch is delivered
  // while one commits.
  WORKER_BATCH_MAX: ms('Most messages of the transactions, webhooks and jit-funding queues applied in one database transaction (their prefetch is twice this, three times for transactions)', 100),
  // 14 days: the processor redelivers for about that long, beyond the 7-day hold expiry; a clearing
  // that outlives it is applied as a forced debit, anything else is dead-lettered with its reason.
  PARK_HORIZON_S: ms('How long a message that cannot apply yet is parked and re-tried, seconds (cover the processor redelivery window)', 1209600),
  PARK_RETRY_INTERVAL_MS: ms('How often parked messages are re-tried, ms', 1000),
  PARK_BACKOFF_MS: Type.Integer({ description: 'Wait before a parked message is re-tried after an attempt that still could not apply it, ms; doubles per attempt up to PARK_BACKOFF_MAX_MS', default: 5000, minimum: 1, atMost: 'PARK_BACKOFF_MAX_MS' }),
  PARK_BACKOFF_MAX_MS: ms('Longest wait between attempts of a parked message, ms', 300000),
  HOLD_EXPIRY_DAYS: ms('Days before an unsettled hold expires', 7),
  HOLD_EXPIRY_MCC_DAYS: Type.String({ description: 'Hold expiry by MCC: comma-separated MCC or MCC-MCC range : days; none: no overrides', default: '3351-3441:30,3501-3999:30,7011:30,7512:30', check: 'mcc-days' }),
  HOLD_EXPIRY_SWEEP_INTERVAL_S: ms('How often expired holds are swept, seconds', 60)
})

/** Configuration common to every service. */
export type CommonConfigT = Static<typeof CommonConfig>
/** jit-authorizer configuration. */
export type JitAuthorizerConfigT = Static<typeof JitAuthorizerConfig>
/** webhook-ingest configuration. */
export type WebhookIngestConfigT = Static<typeof WebhookIngestConfig>
/** The processor's Core API client settings of jit-ops. */
export type MarqetaClientConfigT = Static<typeof MarqetaClientConfig>
/** txn-worker configuration. */
export type TxnWorkerConfigT = Static<typeof TxnWorkerConfig>
