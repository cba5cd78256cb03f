import { spawn, type ChildProcess } from 'node:child_process'
import { createServer } from 'node:net'
import { createClient } from 'redis'
import { uniqueTestName } from './names.js'
import type { Teardownable } from './teardown.js'

export const sharedRedisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'

/**
 * A key prefix of this test file's own on the shared Redis; its keys are deleted at teardown.
 */
export function createTestRedisPrefix (t: Teardownable, label = 'r'): string {
  const prefix = uniqueTestName(label) + ':'
  t.teardown(async () => {
    const client = createClient({ url: sharedRedisUrl })
    await client.connect()
    try {
      for await (const keys of client.scanIterator({ MATCH: prefix + '*', COUNT: 500 })) {
        const batch = Array.isArray(keys) ? keys : [keys]
        if (batch.length > 0) await client.del(batch)
      }
    } finally {
      await client.quit()
    }
  })
  return prefix
}

/** A free TCP port on the loopback interface. */
export async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}

export interface PrivateRedis {
  url: string
  port: number
  /** Stops the server (SIGKILL-free: SIGTERM, waits for exit). */
  stop: () => Promise<void>
  /** Starts it again on the same port. */
  start: () => Promise<void>
}

/**
 * A private redis-server for tests that stop or slow Redis, so files sharing the main one are
 * not hit. Killed at teardown.
 */
export async function startPrivateRedis (t: Teardownable): Promise<PrivateRedis> {
  const port = await freePort()
  let child: ChildProcess | undefined
  const start = async (): Promise<void> => {
    child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' })
    for (let i = 0; i < 100; i++) {
      const probe = createClient({ url: `redis://127.0.0.1:${port}`, socket: { reconnectStrategy: false } })
      probe.on('error', () => {})
      try {
        await probe.connect()
        await probe.ping()
        await probe.quit()
        return
      } catch {
        await new Promise(resolve => setTimeout(resolve, 50))
      }
    }
    throw new Error(`private redis on port ${port} did not start`)
  }
  const stop = async (): Promise<void> => {
    const running = child
    child = undefined
    if (running === undefined || running.exitCode !== null) return
    await new Promise<void>(resolve => {
      running.once('exit', () => resolve())
      running.kill('SIGTERM')
    })
  }
  await start()
  t.teardown(stop)
  return { url: `redis://127.0.0.1:${port}`, port, stop, start }
}
