/** The dependencies a {@link Connections} owns, as named in health reports and errors. */
export type DependencyName = 'postgres' | 'redis' | 'rabbitmq' | 'archive'

/** One dependency that could not be started. */
export interface DependencyFailure {
  dependency: DependencyName
  /** Human-readable: names the server (PostgreSQL, RabbitMQ, MongoDB ...) and the step. */
  message: string
  cause: unknown
}

/**
 * Why `start()` rejected. The message names every dependency that failed (PostgreSQL, RabbitMQ,
 * MongoDB ...) with its URL, password redacted, so one boot log line says what to fix.
 */
export class ConnectionsStartError extends Error {
  /** The first dependency that failed, in the order postgres, rabbitmq, archive. */
  readonly dependency: DependencyName
  readonly failures: DependencyFailure[]

  constructor (service: string, failures: DependencyFailure[]) {
    const first = failures[0]
    if (first === undefined) throw new TypeError('ConnectionsStartError needs at least one failure')
    super(`${service} could not start its dependencies: ${failures.map(f => f.message).join('; ')}`, { cause: first.cause })
    this.name = 'ConnectionsStartError'
    this.dependency = first.dependency
    this.failures = failures
  }
}
