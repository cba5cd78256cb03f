import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { pino, type Logger } from 'pino'

const run = promisify(execFile)

/** Tests log nothing; failures show through assertions. */
export const silentLogger: Logger = pino({ level: 'silent' })

export function vhostOf (amqpUrl: string): string {
  return decodeURIComponent(new URL(amqpUrl).pathname.slice(1))
}

/**
 * Closes the broker connections of one vhost only: other test files share the broker, so never
 * close_all_connections.
 */
export async function closeVhostConnections (vhost: string): Promise<number> {
  const { stdout } = await run('rabbitmqctl', ['-q', 'list_connections', 'pid', 'vhost'])
  let closed = 0
  for (const line of stdout.split('\n')) {
    const [pid, vh] = line.trim().split('\t')
    if (pid === undefined || vh !== vhost || !pid.startsWith('<')) continue
    await run('rabbitmqctl', ['-q', 'close_connection', pid, 'test: dropping the connection'])
    closed++
  }
  return closed
}
