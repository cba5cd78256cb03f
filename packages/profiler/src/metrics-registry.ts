import { Registry, collectDefaultMetrics } from 'prom-client'

/**
 * Creates a Prometheus registry of the app's own, with the default Node.js process metrics
 * (event loop lag, heap, GC, handles) collected on it.
 *
 * Never use prom-client's global registry: building an app twice in one process (every test
 * does) would register the same metric names twice and throw. Each app creates one registry
 * here, hands it to {@link createProfiler} and its other instruments, and serves it on `/metrics`.
 *
 * @param defaultLabels - labels added to every series of the registry, e.g. `{ service: 'jit-authorizer' }`
 * @example
 * ```ts
 * const registry = createMetricsRegistry({ service: 'jit-authorizer' })
 * const profiler = createProfiler({ stages: ['user', 'card', 'limits', 'decision'], registry })
 * app.get('/metrics', async (_req, reply) => reply.type(registry.contentType).send(await registry.metrics()))
 * ```
 */
export function createMetricsRegistry (defaultLabels?: Record<string, string>): Registry {
  const registry = new Registry()
  if (defaultLabels !== undefined && Object.keys(defaultLabels).length > 0) registry.setDefaultLabels(defaultLabels)
  collectDefaultMetrics({ register: registry })
  return registry
}
