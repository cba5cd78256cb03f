import { Registry, collectDefaultMetrics } from 'prom-client'

/**
 * Creates a Prometheus registry of the app's own, with the default Node.js process metrics
 * (event loop lag, heap, GC, handles) collected on it.
 *
 * Never use prom-client's global registry: building an app twice in one process (every test
 * does) would register the same metric names twice and throw. Each app creates one registry
 * here, hands it to {@link createProfiler} and its other instruments, and serves it on `/metrics`.
 *
 * Every series carries a `service` label (Prometheus conventions here: dashboards and alerts
 * group by it, and the same metric names are exported by several services), so it is required.
 *
 * @param defaultLabels - labels added to every series of the registry: `service`, and any other
 *   (e.g. `instance` when several run on one host)
 * @example
 * ```ts
 * const registry = createMetricsRegistry({ service: 'jit-authorizer' })
 * const profiler = createProfiler({ stages: ['user', 'card', 'limits', 'decision'], registry })
 * app.get('/metrics', async (_req, reply) => reply.type(registry.contentType).send(await registry.metrics()))
 * ```
 */
export function createMetricsRegistry (defaultLabels: { service: string } & Record<string, string>): Registry {
  if (typeof defaultLabels?.service !== 'string' || !/^[a-z][a-z0-9-]*$/.test(defaultLabels.service)) {
    throw new TypeError(`createMetricsRegistry needs a service label (lowercase, dashes), got ${JSON.stringify(defaultLabels?.service)}`)
  }
  const registry = new Registry()
  registry.setDefaultLabels(defaultLabels)
  collectDefaultMetrics({ register: registry })
  return registry
}
