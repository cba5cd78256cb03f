import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { uniqueTestName } from './names.js'
import type { Teardownable } from './teardown.js'

const run = promisify(execFile)

export const sharedAmqpBase = process.env.TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672'

/**
 * A RabbitMQ vhost of this test file's own (names inside a vhost are the contract's, unchanged),
 * deleted at teardown. Returns the AMQP URL that selects it.
 */
export async function createTestVhost (t: Teardownable, label = 'vh'): Promise<string> {
  const vhost = uniqueTestName(label)
  await run('rabbitmqctl', ['-q', 'add_vhost', vhost])
  await run('rabbitmqctl', ['-q', 'set_permissions', '-p', vhost, 'guest', '.*', '.*', '.*'])
  t.teardown(async () => {
    await run('rabbitmqctl', ['-q', 'delete_vhost', vhost]).catch(() => {})
  })
  return `${sharedAmqpBase}/${encodeURIComponent(vhost)}`
}
