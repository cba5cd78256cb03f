import { spawn, execFile, type ChildProcess } from 'node:child_process'
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { request as httpsRequest, Agent } from 'node:https'
import { request as httpRequest } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import type { Teardownable } from '@jit/test-support'
import { sleep } from '@jit/test-support'

const run = promisify(execFile)

/** The repository root. */
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url))

/** Placeholder credentials of .env.example (accepted with DEPLOY_ENV=local only). */
export const CREDENTIALS = {
  jit: 'jit:example-change-me-Passw0rd-2026',
  webhook: 'marqeta:example-change-me-Passw0rd-2026',
  hmacSecret: 'example-change-me-hmac-secret',
  operator: 'operator:example-change-me-Passw0rd-2026'
}

export function basic (userPassword: string): string {
  return 'Basic ' + Buffer.from(userPassword).toString('base64')
}

/** Kills `child` when this process exits, should the teardowns not run. */
// Children still running when this process ends (a crash skips the teardowns) are killed, so no
// service or nginx outlives its test.
const children = new Set<ChildProcess>()
process.on('exit', () => { for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL') })
export function track (child: ChildProcess): void {
  children.add(child)
  child.once('exit', () => children.delete(child))
}

/** A temporary directory removed at teardown. */
export function tempDir (t: Teardownable, label: string): string {
  const dir = mkdtempSync(join(tmpdir(), `jit-${label}-`))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  return dir
}

/** A service running as its own process (the built `dist/server.js`), with its JSON log lines. */
export interface ServiceProcess {
  name: string
  port: number
  child: ChildProcess
  /** Every JSON log line so far. */
  logs: Array<Record<string, unknown>>
  exited: Promise<number | null>
}

/**
 * Starts `services/<name>/dist/server.js` in an empty working directory (no .env) with exactly
 * `env` (plus PATH), and waits for its `/ready` to answer 200. Killed at teardown.
 */
export async function startService (t: Teardownable, name: string, port: number, env: Record<string, string>, cwd: string): Promise<ServiceProcess> {
  const child = spawn(process.execPath, [join(ROOT, 'services', name, 'dist', 'server.js')], {
    cwd,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', DEPLOY_ENV: 'local', HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  track(child)
  const logs: Array<Record<string, unknown>> = []
  let stderr = ''
  let partial = ''
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n')
    partial = lines.pop() ?? ''
    for (const line of lines) {
      try { logs.push(JSON.parse(line) as Record<string, unknown>) } catch { /* not a log line */ }
    }
  })
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
  const exited = new Promise<number | null>(resolve => child.once('exit', code => resolve(code)))
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL')
      await exited
    }
  })
  const service: ServiceProcess = { name, port, child, logs, exited }
  const deadline = Date.now() + 60_000
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}: ${stderr}${JSON.stringify(logs.slice(-3))}`)
    const status = await plainStatus(port, '/ready').catch(() => 0)
    if (status === 200) return service
    if (Date.now() > deadline) throw new Error(`${name} not ready within 60 s: ${stderr}`)
    await sleep(100)
  }
}

async function plainStatus (port: number, path: string): Promise<number> {
  return await new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, timeout: 2000 }, res => { res.resume(); resolve(res.statusCode ?? 0) })
    req.on('error', reject)
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.end()
  })
}

/** What the loopback rendering replaces; every key must occur in the file, so drift fails loudly. */
export interface NginxRendering {
  dir: string
  certDir: string
  /** Container host:port of an upstream server -> loopback port. */
  upstreams: Record<string, number>
  processorPort: number
  operatorPort: number
  /** Replace `set $jit_require_client_cert off;` with on. */
  requireClientCert?: boolean
}

/**
 * Renders infra/nginx/nginx.conf for loopback: upstream host names to 127.0.0.1 ports, the
 * listeners to loopback ports, certificates, pid, logs and temporary files under `dir`. Nothing
 * else changes, so the test exercises the deployed configuration.
 */
export function renderNginx (r: NginxRendering): string {
  let conf = readFileSync(join(ROOT, 'infra/nginx/nginx.conf'), 'utf8')
  const replace = (from: string, to: string, all = false): void => {
    if (!conf.includes(from)) throw new Error(`infra/nginx/nginx.conf no longer contains ${JSON.stringify(from)}: update the test's rendering`)
    conf = all ? conf.split(from).join(to) : conf.replace(from, to)
  }
  replace('pid /run/nginx.pid;', `pid ${r.dir}/nginx.pid;`)
  replace('error_log /dev/stderr warn;', `error_log ${r.dir}/error.log warn;`)
  replace('access_log /dev/stdout jit_json;', `access_log ${r.dir}/access.log jit_json;\n  client_body_temp_path ${r.dir}/body;\n  proxy_temp_path ${r.dir}/proxy;\n  fastcgi_temp_path ${r.dir}/fastcgi;\n  uwsgi_temp_path ${r.dir}/uwsgi;\n  scgi_temp_path ${r.dir}/scgi;`)
  replace('/etc/nginx/certs/', `${r.certDir}/`, true)
  replace('listen 8443 ssl;', `listen 127.0.0.1:${r.processorPort} ssl;`)
  replace('listen 9443 ssl;', `listen 127.0.0.1:${r.operatorPort} ssl;`)
  for (const [from, port] of Object.entries(r.upstreams)) replace(`server ${from}`, `server 127.0.0.1:${port}`, true)
  if (r.requireClientCert === true) replace('set $jit_require_client_cert off;', 'set $jit_require_client_cert on;')
  const file = join(r.dir, 'nginx.conf')
  writeFileSync(file, conf)
  copyFileSync(join(ROOT, 'infra/nginx/probe.conf'), join(r.dir, 'probe.conf'))
  return file
}

/** `nginx -t` on a rendered file; throws with nginx's message when it fails. */
export async function checkNginx (file: string, dir: string): Promise<string> {
  const { stderr } = await run('nginx', ['-t', '-p', dir, '-c', file])
  return stderr
}

/** Runs nginx in the foreground on a rendered file until teardown; resolves once it listens. */
export async function startNginx (t: Teardownable, file: string, dir: string, port: number): Promise<ChildProcess> {
  const child = spawn('nginx', ['-p', dir, '-c', file, '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] })
  track(child)
  let stderr = ''
  child.stderr?.setEncoding('utf8').on('data', (c: string) => { stderr += c })
  const exited = new Promise<void>(resolve => child.once('exit', () => resolve()))
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM')
      await exited
    }
  })
  const deadline = Date.now() + 10_000
  for (;;) {
    if (child.exitCode !== null) {
      await sleep(50) // its last words on stderr may arrive after the exit
      throw new Error(`nginx exited with ${child.exitCode}: ${stderr}${errorLog(dir)}`)
    }
    try {
      await tlsRequest({ port, path: '/__nothing', ca: '' })
      return child
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`nginx not listening within 10 s: ${String(err)} ${stderr}${errorLog(dir)}`)
      await sleep(50)
    }
  }
}

export interface TlsRequest {
  port: number
  path: string
  method?: string
  headers?: Record<string, string>
  body?: string | Buffer
  /** PEM of the CA to trust; '' skips verification (only to see whether nginx listens). */
  ca: string
  cert?: string
  key?: string
  agent?: Agent
  timeoutMs?: number
}

export interface TlsResponse { status: number, headers: Record<string, string | string[] | undefined>, body: string }

/** One HTTPS request to nginx on 127.0.0.1 (server name localhost, as the dev certificate says). */
export async function tlsRequest (r: TlsRequest): Promise<TlsResponse> {
  return await new Promise((resolve, reject) => {
    const req = httpsRequest({
      host: '127.0.0.1',
      servername: 'localhost',
      port: r.port,
      path: r.path,
      method: r.method ?? 'GET',
      headers: { ...(r.body === undefined ? {} : { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(r.body)) }), ...r.headers },
      ...(r.ca === '' ? { rejectUnauthorized: false } : { ca: r.ca }),
      ...(r.cert === undefined ? {} : { cert: r.cert, key: r.key }),
      ...(r.agent === undefined ? { agent: false } : { agent: r.agent }),
      timeout: r.timeoutMs ?? 10_000
    }, res => {
      let body = ''
      res.setEncoding('utf8').on('data', (c: string) => { body += c }).on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
    })
    req.on('error', reject)
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.end(r.body)
  })
}

/** nginx's access log lines (JSON) so far. */
export function accessLog (dir: string): Array<Record<string, unknown>> {
  let text = ''
  try { text = readFileSync(join(dir, 'access.log'), 'utf8') } catch { return [] }
  return text.split('\n').filter(l => l !== '').map(l => JSON.parse(l) as Record<string, unknown>)
}

function errorLog (dir: string): string {
  try { return readFileSync(join(dir, 'error.log'), 'utf8') } catch { return '' }
}

/** The environment of every service process of a test: its own database, vhost and key prefix. */
export function serviceEnv (databaseUrl: string, amqpUrl: string, redisUrl: string, redisPrefix: string): Record<string, string> {
  return {
    DATABASE_URL: databaseUrl,
    DATABASE_POOL_MIN: '0',
    DATABASE_POOL_MAX: '4',
    REDIS_URL: redisUrl,
    REDIS_KEY_PREFIX: redisPrefix,
    AMQP_URL: amqpUrl,
    SHUTDOWN_TIMEOUT_MS: '3000',
    SHUTDOWN_DRAIN_MS: '1500',
    JIT_BASIC_AUTH: CREDENTIALS.jit,
    WEBHOOK_BASIC_AUTH: CREDENTIALS.webhook,
    WEBHOOK_HMAC_SECRET: CREDENTIALS.hmacSecret,
    OPERATOR_BASIC_AUTH: CREDENTIALS.operator
  }
}

/** A plain HTTP request to a service on 127.0.0.1 (its own port, not through nginx). */
export async function plainRequest (port: number, path: string, opts: { method?: string, headers?: Record<string, string>, body?: string } = {}): Promise<{ status: number, body: string }> {
  return await new Promise((resolve, reject) => {
    const req = httpRequest({
      host: '127.0.0.1',
      port,
      path,
      method: opts.method ?? 'GET',
      headers: { ...(opts.body === undefined ? {} : { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(opts.body)) }), ...opts.headers },
      timeout: 10_000
    }, res => {
      let body = ''
      res.setEncoding('utf8').on('data', (c: string) => { body += c }).on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
    req.on('error', reject)
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.end(opts.body)
  })
}
