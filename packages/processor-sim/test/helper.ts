import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { createTestDatabase, createTestVhost, createTestRedisPrefix, freePort, waitFor, type Teardownable } from '@jit/test-support'

const ROOT = fileURLToPath(new URL('../../../', import.meta.url))
const TSX = fileURLToPath(new URL('../node_modules/tsx/dist/esm/index.mjs', import.meta.url))

/** The three services running as their own processes, and what the simulator needs to reach them. */
export interface RunningServices {
  env: Record<string, string>
  gatewayUrl: string
  ingestUrl: string
  workerUrl: string
  /** Output of each service (for a failure message). */
  logs: () => string
}

/**
 * Starts jit-authorizer, webhook-ingest and txn-worker as real processes from their sources (tsx on
 * the @jit/source condition, as `pnpm dev` runs them) against this test file's own database, vhost
 * and key prefix, on free ports, and waits until each answers /ready.
 */
export async function startServices (t: Teardownable, extra: Record<string, string> = {}): Promise<RunningServices> {
  const children: ChildProcess[] = []
  const output: string[] = []
  // registered first: the processes stop before their database and vhost are dropped
  t.teardown(async () => {
    await Promise.all(children.map(async child => {
      if (child.exitCode !== null) return
      const exited = new Promise(resolve => child.once('exit', resolve))
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
      await exited
      clearTimeout(timer)
    }))
  })
  const [gatewayPort, ingestPort, workerPort] = [await freePort(), await freePort(), await freePort()]
  const env: Record<string, string> = {
    DEPLOY_ENV: 'local',
    LOG_LEVEL: 'warn',
    DATABASE_URL: await createTestDatabase(t, 'sim'),
    AMQP_URL: await createTestVhost(t, 'sim'),
    REDIS_KEY_PREFIX: createTestRedisPrefix(t, 'sim'),
    DATABASE_POOL_MIN: '1',
    DATABASE_POOL_MAX: '6',
    OUTBOX_RELAY_INTERVAL_MS: '50',
    PARK_RETRY_INTERVAL_MS: '100',
    JIT_BASIC_AUTH: 'jit-sim-test:Sim-Test-Only-Passw0rd!',
    WEBHOOK_BASIC_AUTH: 'hooks-sim-test:Sim-Test-Only-Passw0rd!',
    WEBHOOK_HMAC_SECRET: 'sim-test-only-hmac-secret',
    OPERATOR_BASIC_AUTH: 'ops-sim-test:Sim-Test-Only-Passw0rd!',
    ...extra
  }
  const ports: Record<string, number> = { 'jit-authorizer': gatewayPort, 'webhook-ingest': ingestPort, 'txn-worker': workerPort }
  for (const [service, port] of Object.entries(ports)) {
    const child = spawn(process.execPath, ['--import', TSX, '--conditions=@jit/source', 'src/server.ts'], {
      cwd: `${ROOT}services/${service}`,
      env: { PATH: process.env.PATH ?? '', ...env, HOST: '127.0.0.1', PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe']
    })
    const keep = (chunk: Buffer): void => { output.push(`[${service}] ${chunk.toString()}`); if (output.length > 200) output.shift() }
    child.stdout?.on('data', keep)
    child.stderr?.on('data', keep)
    children.push(child)
  }
  const urls = Object.values(ports).map(p => `http://127.0.0.1:${p}`)
  await waitFor(async () => {
    const dead = children.find(c => c.exitCode !== null)
    if (dead !== undefined) throw new Error(`a service exited with ${String(dead.exitCode)}:\n${output.join('')}`)
    const ready = await Promise.all(urls.map(async u => await fetch(`${u}/ready`).then(r => r.status === 200, () => false)))
    return ready.every(Boolean) ? true : null
  }, 90_000, 'the three services to be ready')
  return { env, gatewayUrl: urls[0] as string, ingestUrl: urls[1] as string, workerUrl: urls[2] as string, logs: () => output.join('') }
}

/** Runs `jit-ops` (txn-worker's operations CLI) from source as its own process. */
export async function runJitOps (args: string[], env: Record<string, string>, stdin = ''): Promise<{ code: number | null, out: string, err: string }> {
  const child = spawn(process.execPath, ['--import', TSX, '--conditions=@jit/source', 'src/cli.ts', ...args], {
    cwd: `${ROOT}services/txn-worker`,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['pipe', 'pipe', 'pipe']
  })
  let out = ''
  let err = ''
  child.stdout.on('data', (c: Buffer) => { out += c.toString() })
  child.stderr.on('data', (c: Buffer) => { err += c.toString() })
  child.stdin.end(stdin)
  const code = await new Promise<number | null>(resolve => child.once('exit', resolve))
  return { code, out, err }
}
