import { randomBytes } from 'node:crypto'

/**
 * A name unique to this test file run: package, process id, tap child id and a random suffix.
 * Safe as a PostgreSQL identifier, a RabbitMQ vhost and a Redis key prefix.
 * turbo runs packages in parallel and TAP_CHILD_ID restarts at 1 in each, hence the pid.
 */
export function uniqueTestName (label = 'test'): string {
  const pkg = (process.env.npm_package_name ?? 'pkg').replace(/^@jit\//, '')
  const child = process.env.TAP_CHILD_ID ?? '0'
  const raw = `jit_${pkg}_${label}_${process.pid}_${child}_${randomBytes(3).toString('hex')}`
  return raw.toLowerCase().replace(/[^a-z0-9_]/g, '_').slice(0, 60)
}
