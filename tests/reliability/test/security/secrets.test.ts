import t from 'tap'
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { JitAuthorizerConfig, TxnWorkerConfig, WebhookIngestConfig, loadConfig, readEnvFile } from '@jit/config'
import { createTestVhost, freePort } from '@jit/test-support'

// The example configuration the project ships (.env.example) holds placeholder secrets. Each
// service, started as in production (node services/<name>/dist/server.js), must refuse them unless
// DEPLOY_ENV=local, and say which variables are wrong without printing their values.
const root = fileURLToPath(new URL('../../../../', import.meta.url))
const example = readEnvFile(join(root, '.env.example'), {})
const SECRET_VARS = {
  'jit-authorizer': ['JIT_BASIC_AUTH'],
  'webhook-ingest': ['WEBHOOK_BASIC_AUTH', 'WEBHOOK_HMAC_SECRET'],
  'txn-worker': ['OPERATOR_BASIC_AUTH']
} as const
// an empty working directory: no .env file of a developer is read
const cwd = mkdtempSync(join(tmpdir(), 'jit-rel-secrets-'))
t.teardown(() => rmSync(cwd, { recursive: true, force: true }))

interface Exit { code: number | null, stderr: string, stdout: string }

async function runService (name: string, env: Record<string, string>, untilMs = 20_000): Promise<Exit> {
  const server = join(root, 'services', name, 'dist', 'server.js')
  if (!existsSync(server)) throw new Error(`${server} is missing: build first (pnpm build)`)
  return await new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [server], { cwd, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    let stderr = ''
    let stdout = ''
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
    const timer = setTimeout(() => { child.kill('SIGKILL') }, untilMs)
    child.on('error', reject)
    child.on('exit', (code) => { clearTimeout(timer); resolve({ code, stderr, stdout }) })
  })
}

t.test('the example file holds placeholder secrets for every service', async t => {
  for (const vars of Object.values(SECRET_VARS)) {
    for (const v of vars) t.match(example[v] ?? '', /change-me|example|placeholder/i, `${v} in .env.example is a placeholder`)
  }
})

for (const deployEnv of ['production', 'staging', undefined]) {
  t.test(`with DEPLOY_ENV=${deployEnv ?? '(unset)'} each service refuses the example secrets at boot`, async t => {
    await Promise.all(Object.entries(SECRET_VARS).map(async ([name, vars]) => {
      const env: Record<string, string> = { ...example as Record<string, string> }
      if (deployEnv === undefined) delete env.DEPLOY_ENV
      else env.DEPLOY_ENV = deployEnv
      // unreachable dependencies: the refusal must come before any connection is tried
      env.DATABASE_URL = 'postgres://nobody@127.0.0.1:1/none'
      env.AMQP_URL = 'amqp://nobody:x@127.0.0.1:1'
      const exit = await runService(name, env)
      t.not(exit.code, 0, `${name} exits with an error`)
      t.not(exit.code, null, `${name} exits by itself`)
      for (const v of vars) {
        t.match(exit.stderr, v, `${name} names ${v}`)
        const value = example[v] ?? ''
        const password = value.slice(value.indexOf(':') + 1)
        t.notOk(exit.stderr.includes(password) || exit.stdout.includes(password), `${name} does not print the value of ${v}`)
      }
    }))
  })
}

t.test('with DEPLOY_ENV=local the example secrets are accepted, and a service starts with them', async t => {
  const env = { ...example as Record<string, string>, DEPLOY_ENV: 'local' }
  t.doesNotThrow(() => loadConfig(JitAuthorizerConfig, env), 'jit-authorizer accepts them')
  t.doesNotThrow(() => loadConfig(WebhookIngestConfig, env), 'webhook-ingest accepts them')
  t.doesNotThrow(() => loadConfig(TxnWorkerConfig, env), 'txn-worker accepts them')
  t.throws(() => loadConfig(WebhookIngestConfig, { ...env, DEPLOY_ENV: 'production' }), 'the same values outside local are refused')

  // webhook-ingest needs only RabbitMQ: start it for real on a vhost of its own and ask /health
  const port = await freePort()
  const amqpUrl = await createTestVhost(t, 'secrets')
  const child = spawn(process.execPath, [join(root, 'services', 'webhook-ingest', 'dist', 'server.js')], {
    cwd,
    env: { PATH: process.env.PATH ?? '', ...env, AMQP_URL: amqpUrl, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'pipe']
  })
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  const exited = new Promise(resolve => child.once('exit', resolve))
  t.teardown(async () => { if (child.exitCode === null) { child.kill('SIGTERM'); await exited } })
  let status = 0
  for (let i = 0; i < 100 && status !== 200 && child.exitCode === null; i++) {
    status = await fetch(`http://127.0.0.1:${port}/health`).then(r => r.status, () => 0)
    if (status !== 200) await new Promise(resolve => setTimeout(resolve, 100))
  }
  t.equal(status, 200, `webhook-ingest runs with the example secrets under DEPLOY_ENV=local ${stderr}`)
})
