import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { pino, type Logger } from 'pino'
import { createTestVhost, type Teardownable } from '@jit/test-support'
import { createAmqp, EVENTS_EXCHANGE, type Amqp, type AmqpOptions, type Publisher, type QueueDefinition, type TopologyOptions } from '../src/index.js'

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

/** A test's own queue on `cards.events`, bound with one routing key. */
export function ownQueue (name: string, routingKey: string): QueueDefinition {
  return { name, bindings: [{ exchange: EVENTS_EXCHANGE, routingKey }] }
}

/**
 * A broker of a test file's own: its vhost, the given topology declared, one publisher; closed at
 * teardown. `options` are the connection's (e.g. `requeuePauseMs`).
 */
export async function testBroker (t: Teardownable, connectionName: string, topology: TopologyOptions, options: Partial<AmqpOptions> = {}): Promise<{ amqp: Amqp, publisher: Publisher }> {
  const amqp = createAmqp({ url: await createTestVhost(t), logger: silentLogger, connectionName, topology, ...options })
  t.teardown(() => amqp.close())
  await amqp.declareTopology()
  return { amqp, publisher: amqp.createPublisher() }
}
