/**
 * @jit/connections: one owner of every connection of a process. Connects PostgreSQL, Redis,
 * RabbitMQ and the document archive from config, applies migrations and declares the topology,
 * reports each dependency's health for `/ready`, and closes everything in order on shutdown
 * (`closeOnSignal`, the same in every service).
 * Each service's server.ts owns its instance (start, then close after the app); `opsRoutes` serves
 * `/health`, `/ready` and `/metrics` from it, and `httpErrors` gives every service one error shape.
 * @packageDocumentation
 */
export {
  createConnections,
  type Connections,
  type ConnectionsOptions,
  type ConnectionsUse,
  type DependencyHealth,
  type HealthReport,
  type ShutdownStage
} from './connections.js'
export { ConnectionsStartError, type DependencyFailure, type DependencyName } from './errors.js'
export { registerConnectionMetrics, type ConnectionMetricsOptions } from './metrics.js'
export { opsRoutes, type OpsRoutesOptions } from './plugin.js'
export { closeOnSignal, type CloseOnSignalOptions } from './shutdown.js'
export { REQUEST_ID_HEADER, requestIdEcho, requestIdOptions } from './request-id.js'
export { errorAnswer, httpErrors, type HttpErrorsOptions } from './http-errors.js'
