import t from 'tap'
import { Registry } from 'prom-client'
import { createMetricsRegistry, createProfiler } from '../src/index.js'
import { fakeClock } from './helpers.js'

t.test('the Prometheus text has histograms in seconds, counters and thresholds, and no windowed gauges', async (t) => {
  const clock = fakeClock(0)
  const profiler = createProfiler({ stages: ['user', 'decision'], now: clock.now, thresholds: { decision: { warnMs: 40, criticalMs: 90 } } })
  t.type(profiler.registry, Registry, 'a registry of its own when none is given')

  let text = await profiler.metrics()
  // Series exist at zero before anything happens, so alerts see 0 rather than no data.
  for (const line of [
    '# TYPE jit_stage_duration_seconds histogram',
    'jit_stage_duration_seconds_count{stage="decision"} 0',
    'jit_latency_breaches_total{stage="total",level="critical"} 0',
    'jit_latency_threshold_seconds{stage="decision",level="warning"} 0.04',
    'jit_latency_threshold_seconds{stage="decision",level="critical"} 0.09',
    'jit_latency_threshold_seconds{stage="total",level="critical"} 0.1'
  ]) t.match(text, line)

  const timer = profiler.start()
  clock.advance(3)
  timer.mark('user')
  clock.advance(70)
  timer.mark('decision')
  timer.end('approved')

  text = await profiler.metrics()
  for (const line of [
    'jit_stage_duration_seconds_bucket{le="0.005",stage="user"} 1',
    'jit_stage_duration_seconds_bucket{le="0.0025",stage="user"} 0',
    'jit_stage_duration_seconds_bucket{le="0.075",stage="decision"} 1',
    'jit_stage_duration_seconds_bucket{le="0.05",stage="decision"} 0',
    'jit_stage_duration_seconds_bucket{le="1.5",stage="decision"} 1',
    'jit_stage_duration_seconds_sum{stage="user"} 0.003',
    '# TYPE jit_request_duration_seconds histogram',
    'jit_request_duration_seconds_bucket{le="0.1"} 1',
    'jit_request_duration_seconds_count 1',
    'jit_latency_breaches_total{stage="decision",level="warning"} 1',
    'jit_latency_breaches_total{stage="total",level="warning"} 1',
    'jit_decisions_total{outcome="approved",reason="none"} 1'
  ]) t.match(text, line)
  // Prometheus conventions: no milliseconds, no quantile gauges, no ratio since start.
  t.notMatch(text, /_ms[{ ]/, 'no millisecond metric')
  t.notMatch(text, /quantile=/, 'no quantile label')
  t.notMatch(text, /rate/, 'no rate gauge: PromQL computes rates from the counters')

  // The window only feeds snapshot(); the cumulative histogram keeps counting.
  clock.advance(120_000)
  text = await profiler.metrics()
  t.match(text, 'jit_request_duration_seconds_count 1')
  t.equal(profiler.snapshot().total.count, 0, 'the window has slid past')
})

t.test('two apps in one process each have their own registry', async (t) => {
  const a = createMetricsRegistry({ service: 'a' })
  const b = createMetricsRegistry({ service: 'b' })
  const pa = createProfiler({ stages: ['user'], registry: a, now: fakeClock().now })
  const pb = createProfiler({ stages: ['user'], registry: b, now: fakeClock().now })
  t.equal(pa.registry, a)
  pa.recordStage('user', 1)
  pa.recordStage('user', 1)
  pb.recordStage('user', 1)
  const textA = await pa.metrics()
  const textB = await pb.metrics()
  t.match(textA, 'jit_stage_duration_seconds_count{service="a",stage="user"} 2')
  t.match(textB, 'jit_stage_duration_seconds_count{service="b",stage="user"} 1')
  t.match(textA, /process_cpu_user_seconds_total\{service="a"\}/, 'default Node metrics are on the app registry')
  t.match(textB, /nodejs_eventloop_lag_seconds\{service="b"\}/)

  // Two profilers on one registry need different names; the same name is a clear error.
  const pc = createProfiler({ name: 'cache', stages: ['get'], registry: a, now: fakeClock().now })
  pc.recordStage('get', 0.5)
  t.match(await a.metrics(), 'cache_stage_duration_seconds_count{service="a",stage="get"} 1')
  t.throws(() => createProfiler({ stages: ['user'], registry: a }), /already been registered/)
})

t.test('createMetricsRegistry requires a service label', async (t) => {
  // @ts-expect-error the service label is required
  t.throws(() => createMetricsRegistry(), /service label/)
  t.throws(() => createMetricsRegistry({ service: '' }), /service label/)
  const registry = createMetricsRegistry({ service: 'jit-authorizer' })
  const text = await registry.metrics()
  t.match(text, /^process_cpu_user_seconds_total\{service="jit-authorizer"\} \d/m)
  t.match(registry.contentType, /text\/plain/)
})
