import t from 'tap'
import { Type } from '@sinclair/typebox'
import {
  ConfigError, CommonConfig, JitAuthorizerConfig, TxnWorkerConfig, WebhookIngestConfig, loadConfig, describeConfig,
  StringEnum, Secret, type JitAuthorizerConfigT
} from '../src/index.js'

const STRONG = 'jit:Str0ng-Secret-Value-9f8e7d'

function problemsOf (fn: () => unknown): Array<{ variable: string, message: string }> {
  try {
    fn()
  } catch (err) {
    if (err instanceof ConfigError) return err.problems
    throw err
  }
  throw new Error('expected a ConfigError')
}

t.test('defaults are applied to every absent variable', async t => {
  const config: JitAuthorizerConfigT = loadConfig(JitAuthorizerConfig, { JIT_BASIC_AUTH: STRONG })
  t.equal(config.HOST, '0.0.0.0')
  t.equal(config.PORT, 3001)
  t.equal(config.LOG_LEVEL, 'info')
  t.equal(config.DEPLOY_ENV, 'production')
  t.equal(config.DATABASE_URL, 'postgres://postgres@127.0.0.1:5432/jit')
  t.equal(config.DATABASE_POOL_MIN, 5)
  t.equal(config.DATABASE_POOL_MAX, 20)
  t.equal(config.REDIS_URL, 'redis://127.0.0.1:6379')
  t.equal(config.REDIS_KEY_PREFIX, 'jit:')
  t.equal(config.AMQP_URL, 'amqp://guest:guest@127.0.0.1:5672')
  t.equal(config.CACHE_TTL_USER_S, 3600)
  t.equal(config.ARCHIVE_RETENTION_DAYS, 400)
  t.equal(config.PROGRAM_TIMEZONE, 'UTC')
  t.equal(config.JIT_DECISION_BUDGET_MS, 1500)
  t.equal(config.JIT_OVERLOAD_RESPONSE, 'decline')
  t.equal(config.JIT_MAX_EVENT_LOOP_DELAY_MS, 1000)
  t.equal(config.JIT_BASIC_AUTH, STRONG)
  t.notOk('MONGO_URL' in config, 'an absent optional variable is not a key')
  t.notOk('JIT_BASIC_AUTH_PREVIOUS' in config)

  t.equal(loadConfig(WebhookIngestConfig, { WEBHOOK_BASIC_AUTH: STRONG }).PORT, 3002)
  const worker = loadConfig(TxnWorkerConfig, { OPERATOR_BASIC_AUTH: STRONG })
  t.equal(worker.PORT, 3003)
  t.equal(worker.HOLD_EXPIRY_MCC_DAYS, '3351-3441:30,3501-3999:30,7011:30,7512:30')
  t.equal(worker.WORKER_PREFETCH, 20)
})

t.test('values are converted to the schema types', async t => {
  // variable: [the environment's text, the value loaded]
  const converted: Record<string, [string, unknown]> = {
    PORT: ['8080', 8080],
    LOG_LEVEL: ['debug', 'debug'],
    DEPLOY_ENV: ['staging', 'staging'],
    JIT_OVERLOAD_RESPONSE: ['unavailable', 'unavailable'],
    JIT_DECISION_BUDGET_MS: ['2900', 2900],
    JIT_DECISION_GRACE_MS: ['100', 100],
    MONGO_URL: ['mongodb://127.0.0.1:27017/jit', 'mongodb://127.0.0.1:27017/jit'],
    PROGRAM_TIMEZONE: ['Europe/Paris', 'Europe/Paris']
  }
  const env = Object.fromEntries(Object.entries(converted).map(([name, [text]]) => [name, text]))
  const config = loadConfig(JitAuthorizerConfig, { JIT_BASIC_AUTH: STRONG, ...env, UNRELATED: 'ignored' }) as Record<string, unknown>
  for (const [name, [, value]] of Object.entries(converted)) t.equal(config[name], value, name)
  t.equal(typeof config.PORT, 'number')
  t.notOk('UNRELATED' in config)
})

t.test('booleans and numbers convert, and malformed ones are named', async t => {
  const schema = Type.Object({
    FLAG: Type.Boolean({ default: false }),
    ON: Type.Boolean(),
    RATIO: Type.Number({ default: 0.5 })
  })
  t.same(loadConfig(schema, { ON: '1' }), { FLAG: false, ON: true, RATIO: 0.5 })
  t.same(loadConfig(schema, { FLAG: 'true', ON: 'false', RATIO: '0.25' }), { FLAG: true, ON: false, RATIO: 0.25 })
  const problems = problemsOf(() => loadConfig(schema, { FLAG: 'yes', ON: 'TRUE', RATIO: '1e3' }))
  t.same(problems.map(p => p.variable), ['FLAG', 'ON', 'RATIO'])
  t.match(problems[0]?.message, /true, false, 1 or 0/)
  t.match(problems[2]?.message, /must be a number/)
})

t.test('an empty string for an optional variable means absent, and for a defaulted one the default', async t => {
  const config = loadConfig(WebhookIngestConfig, {
    WEBHOOK_BASIC_AUTH: STRONG,
    WEBHOOK_HMAC_SECRET: '',
    WEBHOOK_BASIC_AUTH_PREVIOUS: '',
    MONGO_URL: '',
    PORT: ''
  })
  t.notOk('WEBHOOK_HMAC_SECRET' in config)
  t.notOk('WEBHOOK_BASIC_AUTH_PREVIOUS' in config)
  t.notOk('MONGO_URL' in config)
  t.equal(config.PORT, 3002)
})

t.test('a missing required secret names the variable', async t => {
  const error = t.throws(() => loadConfig(JitAuthorizerConfig, {})) as ConfigError
  t.type(error, ConfigError)
  t.equal(error.name, 'ConfigError')
  t.same(error.problems.map(p => p.variable), ['JIT_BASIC_AUTH'])
  t.match(error.problems[0]?.message, /is required/)
  t.match(error.message, /JIT_BASIC_AUTH: is required/)
  t.same(problemsOf(() => loadConfig(JitAuthorizerConfig, { JIT_BASIC_AUTH: '' })).map(p => p.variable), ['JIT_BASIC_AUTH'])
})

t.test('integers must be integers', async t => {
  for (const raw of ['12abc', '1.5', ' 12', '0x10', '1e3', '99999999999999999999']) {
    const problems = problemsOf(() => loadConfig(JitAuthorizerConfig, { JIT_BASIC_AUTH: STRONG, PORT: raw }))
    t.same(problems.map(p => p.variable), ['PORT'], `PORT=${raw}`)
    t.match(problems[0]?.message, /must be an integer/)
  }
  t.throws(() => loadConfig(CommonConfig, { DATABASE_POOL_MAX: '12abc' }), /DATABASE_POOL_MAX: must be an integer \(got '12abc'\)/)
})

t.test('range constraints are enforced', async t => {
  const low = problemsOf(() => loadConfig(JitAuthorizerConfig, { JIT_BASIC_AUTH: STRONG, JIT_DECISION_BUDGET_MS: '49' }))
  t.same(low.map(p => p.variable), ['JIT_DECISION_BUDGET_MS'])
  t.match(low[0]?.message, /50/)
  const high = problemsOf(() => loadConfig(JitAuthorizerConfig, { JIT_BASIC_AUTH: STRONG, JIT_DECISION_BUDGET_MS: '2901' }))
  t.match(high[0]?.message, /2900/)
  t.same(problemsOf(() => loadConfig(JitAuthorizerConfig, { JIT_BASIC_AUTH: STRONG, PORT: '70000' })).map(p => p.variable), ['PORT'])
  t.same(problemsOf(() => loadConfig(CommonConfig, { CACHE_TTL_CARD_S: '0' })).map(p => p.variable), ['CACHE_TTL_CARD_S'])
})

t.test('a decision budget plus grace beyond the processor\'s 3 s is refused', async t => {
  const over = problemsOf(() => loadConfig(JitAuthorizerConfig, { JIT_BASIC_AUTH: STRONG, JIT_DECISION_BUDGET_MS: '2800', JIT_DECISION_GRACE_MS: '201' }))
  t.same(over.map(p => p.variable), ['JIT_DECISION_GRACE_MS'])
  t.match(over[0]?.message, /plus JIT_DECISION_BUDGET_MS must not exceed 3000 \(2800 \+ 201 = 3001\)/)
  t.equal(loadConfig(JitAuthorizerConfig, { JIT_BASIC_AUTH: STRONG, JIT_DECISION_BUDGET_MS: '2800', JIT_DECISION_GRACE_MS: '200' }).JIT_DECISION_GRACE_MS, 200)
  t.same(problemsOf(() => loadConfig(JitAuthorizerConfig, { JIT_BASIC_AUTH: STRONG, JIT_BATCH_MAX: '65' })).map(p => p.variable), ['JIT_BATCH_MAX'])
})

t.test('a pool minimum above its maximum is refused', async t => {
  const problems = problemsOf(() => loadConfig(CommonConfig, { DATABASE_POOL_MIN: '8', DATABASE_POOL_MAX: '4', PROFILER_WARN_MS: '500' }))
  t.same(problems.map(p => p.variable), ['DATABASE_POOL_MIN', 'PROFILER_WARN_MS'])
  t.match(problems[0]?.message, /must not exceed DATABASE_POOL_MAX/)
  t.equal(loadConfig(CommonConfig, { DATABASE_POOL_MIN: '4', DATABASE_POOL_MAX: '4' }).DATABASE_POOL_MIN, 4)
})

t.test('an unknown enum value is refused with the choices', async t => {
  const problems = problemsOf(() => loadConfig(CommonConfig, { LOG_LEVEL: 'verbose' }))
  t.same(problems.map(p => p.variable), ['LOG_LEVEL'])
  t.match(problems[0]?.message, /one of fatal, error, warn, info, debug, trace, silent \(got 'verbose'\)/)
  t.throws(() => loadConfig(JitAuthorizerConfig, { JIT_BASIC_AUTH: STRONG, JIT_OVERLOAD_RESPONSE: 'Decline' }), /JIT_OVERLOAD_RESPONSE/)
  t.throws(() => loadConfig(CommonConfig, { DEPLOY_ENV: 'dev' }), /DEPLOY_ENV/)
})

t.test('URLs, time zones and MCC lists are checked', async t => {
  const problems = problemsOf(() => loadConfig(TxnWorkerConfig, {
    OPERATOR_BASIC_AUTH: STRONG,
    DATABASE_URL: 'mysql://127.0.0.1/jit',
    REDIS_URL: 'not a url',
    PROGRAM_TIMEZONE: 'Mars/Olympus',
    HOLD_EXPIRY_MCC_DAYS: '3351-3441:30,701:30'
  }))
  t.same(problems.map(p => p.variable), ['DATABASE_URL', 'REDIS_URL', 'PROGRAM_TIMEZONE', 'HOLD_EXPIRY_MCC_DAYS'])
  t.match(problems[0]?.message, /postgres:\/\/ or postgresql:\/\//)
  t.match(problems[3]?.message, /'701:30'/)
  t.equal(loadConfig(TxnWorkerConfig, { OPERATOR_BASIC_AUTH: STRONG, HOLD_EXPIRY_MCC_DAYS: 'none' }).HOLD_EXPIRY_MCC_DAYS, 'none')
})

t.test('several problems are reported together', async t => {
  const error = t.throws(() => loadConfig(TxnWorkerConfig, {
    PORT: '1.5',
    LOG_LEVEL: 'loud',
    WORKER_CONCURRENCY: 'ten'
  })) as ConfigError
  t.type(error, ConfigError)
  t.same(error.problems.map(p => p.variable).sort(), ['LOG_LEVEL', 'OPERATOR_BASIC_AUTH', 'PORT', 'WORKER_CONCURRENCY'])
  t.match(error.message, /4 problems/)
  for (const name of ['LOG_LEVEL', 'OPERATOR_BASIC_AUTH', 'PORT', 'WORKER_CONCURRENCY']) t.match(error.message, name)
})

t.test('a placeholder secret is refused in production and staging but accepted with DEPLOY_ENV=local', async t => {
  const env = { JIT_BASIC_AUTH: 'jit:example-change-me-Passw0rd-2026', JIT_BASIC_AUTH_PREVIOUS: 'old:placeholder-Passw0rd-2025-xyz' }
  for (const deployEnv of [undefined, 'production', 'staging']) {
    const problems = problemsOf(() => loadConfig(JitAuthorizerConfig, { ...env, DEPLOY_ENV: deployEnv }))
    t.same(problems.map(p => p.variable), ['JIT_BASIC_AUTH', 'JIT_BASIC_AUTH_PREVIOUS'], `DEPLOY_ENV=${deployEnv}`)
    t.match(problems[0]?.message, /placeholder/)
    t.notMatch(problems[0]?.message, /Passw0rd/, 'the secret is never echoed')
  }
  const local = loadConfig(JitAuthorizerConfig, { ...env, DEPLOY_ENV: 'local' })
  t.equal(local.JIT_BASIC_AUTH, env.JIT_BASIC_AUTH)
  t.equal(local.JIT_BASIC_AUTH_PREVIOUS, env.JIT_BASIC_AUTH_PREVIOUS)

  const hmac = problemsOf(() => loadConfig(WebhookIngestConfig, { WEBHOOK_BASIC_AUTH: STRONG, WEBHOOK_HMAC_SECRET: 'ChangeMe', WEBHOOK_HMAC_SECRET_PREVIOUS: 'real-but-old-7f3a' }))
  t.same(hmac.map(p => p.variable), ['WEBHOOK_HMAC_SECRET'])
})

t.test('an invalid DEPLOY_ENV does not relax the secret checks', async t => {
  const problems = problemsOf(() => loadConfig(JitAuthorizerConfig, { DEPLOY_ENV: 'Local', JIT_BASIC_AUTH: 'jit:example-change-me-Passw0rd-2026' }))
  t.same(problems.map(p => p.variable), ['DEPLOY_ENV', 'JIT_BASIC_AUTH'])
})

t.test('a weak Basic-auth password is refused outside local', async t => {
  const short = problemsOf(() => loadConfig(TxnWorkerConfig, { OPERATOR_BASIC_AUTH: 'ops:Sh0rt-pass!' }))
  t.same(short.map(p => p.variable), ['OPERATOR_BASIC_AUTH'])
  t.match(short[0]?.message, /at least 20 characters/)
  t.notMatch(short[0]?.message, /Sh0rt/)
  const plain = problemsOf(() => loadConfig(TxnWorkerConfig, { OPERATOR_BASIC_AUTH: 'ops:alllowercaseletters-and-long' }))
  t.match(plain[0]?.message, /an uppercase letter, a digit/)
  t.equal(loadConfig(TxnWorkerConfig, { OPERATOR_BASIC_AUTH: 'ops:short', DEPLOY_ENV: 'local' }).OPERATOR_BASIC_AUTH, 'ops:short')
})

t.test('a malformed Basic-auth value is refused everywhere, local included', async t => {
  for (const value of ['no-colon-at-all', ':password-without-user', 'user:']) {
    const problems = problemsOf(() => loadConfig(JitAuthorizerConfig, { DEPLOY_ENV: 'local', JIT_BASIC_AUTH: value }))
    t.same(problems.map(p => p.variable), ['JIT_BASIC_AUTH'], value)
    t.match(problems[0]?.message, /user:password/)
  }
})

t.test('the returned object is frozen', async t => {
  const config = loadConfig(JitAuthorizerConfig, { JIT_BASIC_AUTH: STRONG })
  t.ok(Object.isFrozen(config))
  t.throws(() => { (config as { PORT: number }).PORT = 1 }, TypeError)
  t.equal(config.PORT, 3001)
})

t.test('loadConfig reads process.env when no environment is given', async t => {
  // No variable of this schema is expected in the test environment, so only defaults apply.
  const schema = Type.Object({ JIT_CONFIG_TEST_ONLY_UNSET_VARIABLE: Type.Integer({ default: 7 }) })
  t.same(loadConfig(schema), { JIT_CONFIG_TEST_ONLY_UNSET_VARIABLE: 7 })
})

t.test('custom schemas built from the helpers behave the same', async t => {
  const schema = Type.Object({
    MODE: StringEnum(['a', 'b'] as const, { default: 'a' }),
    TOKEN: Type.Optional(Secret())
  })
  t.same(loadConfig(schema, { MODE: 'b', TOKEN: 'real-token' }), { MODE: 'b', TOKEN: 'real-token' })
  t.throws(() => loadConfig(schema, { TOKEN: 'my-placeholder' }), /TOKEN: is an example placeholder/)
  t.throws(() => loadConfig(Type.Object({ LIST: Type.Array(Type.String()) }), { LIST: 'x' }), /unsupported kind Array/)
})

t.test('describeConfig lists every variable with its default and secrecy', async t => {
  const vars = describeConfig(JitAuthorizerConfig)
  const auth = vars.find(v => v.name === 'JIT_BASIC_AUTH')
  t.same(auth && { required: auth.required, secret: auth.secret }, { required: true, secret: true })
  t.equal(vars.find(v => v.name === 'PORT')?.default, 3001)
  t.equal(vars.find(v => v.name === 'MONGO_URL')?.required, false)
  for (const v of [...vars, ...describeConfig(WebhookIngestConfig), ...describeConfig(TxnWorkerConfig)]) {
    t.ok(v.description !== undefined && v.description.length > 0, `${v.name} is described`)
  }
})

t.test('the static types are precise', async t => {
  type Config = ReturnType<typeof loadConfig<typeof JitAuthorizerConfig>>
  const config: Config = loadConfig(JitAuthorizerConfig, { JIT_BASIC_AUTH: STRONG })
  t.equal(config.JIT_OVERLOAD_RESPONSE, 'decline')
  // Compile-time checks (pnpm typecheck): enums are literal unions, optional secrets may be absent.
  const overloadIsUnion: string extends typeof config.JIT_OVERLOAD_RESPONSE ? false : true = true
  const levelIsUnion: string extends typeof config.LOG_LEVEL ? false : true = true
  const previousMayBeAbsent: undefined extends typeof config.JIT_BASIC_AUTH_PREVIOUS ? true : false = true
  const portIsNumber: typeof config.PORT extends number ? true : false = true
  t.ok(overloadIsUnion && levelIsUnion && previousMayBeAbsent && portIsNumber)
})
