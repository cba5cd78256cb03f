import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { connect } from 'node:net'
import postgres from 'postgres'
import { freePort, type Teardownable } from '@jit/test-support'

// Private PostgreSQL and RabbitMQ servers for tests that stop, restart or flush them, so no other
// test file sharing the machine's servers is hit. Both run as
// their system users, as the packaged servers do; each lives in a temporary directory removed at
// teardown. (A private Redis is @jit/test-support's startPrivateRedis.)

const run = promisify(execFile)

/** Resolves once something accepts TCP connections on the port, or rejects after `timeoutMs`. */
export async function waitForPort (port: number, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs
  while (Date.now() < until) {
    const open = await new Promise<boolean>(resolve => {
      const socket = connect(port, '127.0.0.1')
      socket.once('connect', () => { socket.destroy(); resolve(true) })
      socket.once('error', () => resolve(false))
    })
    if (open) return
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  throw new Error(`nothing listens on port ${port} after ${timeoutMs} ms`)
}

function uid (user: string): number {
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find(l => l.startsWith(`${user}:`))
  if (line === undefined) throw new Error(`no system user ${user}: is the server installed?`)
  return Number(line.split(':')[2])
}

function ownedDir (prefix: string, user: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  chownSync(dir, uid(user), uid(user))
  return dir
}

async function exited (child: ChildProcess | undefined): Promise<void> {
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return
  await new Promise<void>(resolve => child.once('exit', () => resolve()))
}

export interface PrivateServer {
  port: number
  url: string
  /** Stops the server cleanly and waits until it is gone. */
  stop: () => Promise<void>
  start: () => Promise<void>
}

function pgBin (): string {
  const versions = readdirSync('/usr/lib/postgresql').sort((a, b) => Number(b) - Number(a))
  if (versions[0] === undefined) throw new Error('PostgreSQL server binaries not found under /usr/lib/postgresql')
  return `/usr/lib/postgresql/${versions[0]}/bin`
}

/**
 * A private PostgreSQL cluster (initdb as `postgres`, trust auth, loopback only) with one empty
 * database `database`. fsync is off: a restart here is a clean or crash restart of the process,
 * not of the machine, so nothing written is lost, and the cluster is thrown away after the test.
 */
export async function startPrivatePostgres (t: Teardownable, database = 'jit'): Promise<PrivateServer> {
  const dir = ownedDir('jit-rel-pg-', 'postgres')
  const data = join(dir, 'data')
  const port = await freePort()
  const bin = pgBin()
  const asPostgres = async (cmd: string, args: string[]): Promise<void> => { await run('runuser', ['-u', 'postgres', '--', join(bin, cmd), ...args], { cwd: dir }) }
  await asPostgres('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8'])
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c shared_buffers=32MB -c max_connections=80`
  const start = async (): Promise<void> => { await asPostgres('pg_ctl', ['-D', data, '-l', join(dir, 'log'), '-w', '-t', '60', '-o', options, 'start']) }
  const stop = async (): Promise<void> => { await asPostgres('pg_ctl', ['-D', data, '-m', 'fast', '-w', '-t', '60', 'stop']) }
  await start()
  const admin = postgres(`postgres://postgres@127.0.0.1:${port}/postgres`, { max: 1, onnotice: () => {} })
  try {
    await admin.unsafe(`create database "${database}"`)
  } finally {
    await admin.end({ timeout: 5 })
  }
  t.teardown(async () => {
    await stop().catch(() => {})
    rmSync(dir, { recursive: true, force: true })
  })
  return { port, url: `postgres://postgres@127.0.0.1:${port}/${database}`, stop, start }
}

/**
 * A private RabbitMQ node (its own node name, AMQP and distribution ports, data and log
 * directories, no plugins), run as `rabbitmq` in the foreground as this process's child, so
 * stopping it is a SIGTERM (a clean broker shutdown) and it cannot outlive the test.
 */
export async function startPrivateRabbitmq (t: Teardownable): Promise<PrivateServer> {
  const dir = ownedDir('jit-rel-rmq-', 'rabbitmq')
  const port = await freePort()
  const distPort = await freePort()
  const node = `jitrel${process.pid}@localhost`
  writeFileSync(join(dir, 'rabbitmq.conf'), `listeners.tcp.local = 127.0.0.1:${port}\nloopback_users.guest = true\n`)
  writeFileSync(join(dir, 'enabled_plugins'), '[].\n')
  mkdirSync(join(dir, 'log'))
  for (const f of ['rabbitmq.conf', 'enabled_plugins', 'log']) chownSync(join(dir, f), uid('rabbitmq'), uid('rabbitmq'))
  const env = {
    HOME: '/var/lib/rabbitmq',
    RABBITMQ_NODENAME: node,
    RABBITMQ_CONFIG_FILE: join(dir, 'rabbitmq.conf'),
    RABBITMQ_DIST_PORT: String(distPort),
    RABBITMQ_MNESIA_BASE: join(dir, 'mnesia'),
    RABBITMQ_LOG_BASE: join(dir, 'log'),
    RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, 'enabled_plugins'),
    RABBITMQ_PID_FILE: join(dir, 'pid')
  }
  let child: ChildProcess | undefined
  const start = async (): Promise<void> => {
    child = spawn('runuser', ['-u', 'rabbitmq', '--', 'env', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), '/usr/lib/rabbitmq/bin/rabbitmq-server'], { cwd: dir, stdio: 'ignore' })
    await waitForPort(port, 90_000)
  }
  const stop = async (): Promise<void> => {
    const running = child
    child = undefined
    if (running === undefined) return
    // the broker's own pid (runuser and the start script are between us and it)
    const pid = Number(readFileSync(join(dir, 'pid'), 'utf8').trim())
    process.kill(pid, 'SIGTERM')
    await exited(running)
  }
  await start()
  t.teardown(async () => {
    await stop().catch(() => {})
    rmSync(dir, { recursive: true, force: true })
  })
  return { port, url: `amqp://guest:guest@127.0.0.1:${port}`, stop, start }
}
