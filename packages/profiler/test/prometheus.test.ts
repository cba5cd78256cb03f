import t from 'tap'
import { Registry } from 'prom-client'
import { createMetricsRegistry, createProfiler } from '../src/index.js'
import { fakeClock } from './helpers.js'

t.test('the Prometheus text has the histograms, counters and window gauges', async (t) => {
  const clock = fakeClock(0)
  const profiler = createProfiler({ stages: ['user', 'decision'], now: clock.now })
  t.type(profiler.registry, Registry, 'a registry of its own when none is given')

  let text = await profiler.metrics()
  // Series exist at zero before anything happens, so alerts see 0 rather than no data.
  t.match(text, '# TYPE jit_stage_duration_ms histogram')
  t.match(text, 'jit_stage_duration_ms_count{stage="decision"} 0')
  t.match(text, 'jit_latency_breaches_total{stage="total",level="critical"} 0')
  t.notMatch(text, 'jit_stage_latency_window_ms{', 'no quantiles from an empty window')
  t.match(text, /^jit_approval_rate_window nan$/im, 'no rate before any decision: NaN (0/0), not a misleading 0')

  const timer = profiler.start()
  clock.advance(3)
  timer.mark('user')
  clock.advance(70)
  timer.mark('decision')
  timer.end('approved')

  text = await profiler.metrics()
  t.match(text, 'jit_stage_duration_ms_bucket{le="5",stage="user"} 1')
  t.match(text, 'jit_stage_duration_ms_bucket{le="2",stage="user"} 0')
  t.match(text, 'jit_stage_duration_ms_bucket{le="100",stage="decision"} 1')
  t.match(text, 'jit_stage_duration_ms_bucket{le="50",stage="decision"} 0')
  t.match(text, 'jit_stage_duration_ms_bucket{le="1500",stage="decision"} 1')
  t.match(text, 'jit_stage_duration_ms_sum{stage="user"} 3')
  t.match(text, '# TYPE jit_request_duration_ms histogram')
  t.match(text, 'jit_request_duration_ms_bucket{le="100"} 1')
  t.match(text, 'jit_request_duration_ms_count 1')
  t.match(text, 'jit_latency_breaches_total{stage="decision",level="warning"} 1')
  t.match(text, 'jit_latency_breaches_total{stage="total",level="warning"} 1')
  t.match(text, 'jit_decisions_total{outcome="approved",reason="none"} 1')
  t.match(text, 'jit_stage_latency_window_ms{stage="user",quantile="0.5"} 3')
  t.match(text, 'jit_stage_latency_window_ms{stage="decision",quantile="1"} 70')
  t.match(text, 'jit_request_latency_window_ms{quantile="0.99"} 73')
  t.match(text, 'jit_approval_rate_window 1')

  // The gauges follow the window: once it has slid past, the quantiles disappear.
  clock.advance(120_000)
  text = await profiler.metrics()
  t.notMatch(text, 'jit_stage_latency_window_ms{')
  t.match(text, 'jit_request_duration_ms_count 1', 'the cumulative histogram keeps counting')
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
  t.match(textA, 'jit_stage_duration_ms_count{service="a",stage="user"} 2')
  t.match(textB, 'jit_stage_duration_ms_count{service="b",stage="user"} 1')
  t.match(textA, /process_cpu_user_seconds_total\{service="a"\}/, 'default Node metrics are on the app registry')
  t.match(textB, /nodejs_eventloop_lag_seconds\{service="b"\}/)

  // Two profilers on one registry need different names; the same name is a clear error.
  const pc = createProfiler({ name: 'cache', stages: ['get'], registry: a, now: fakeClock().now })
  pc.recordStage('get', 0.5)
  t.match(await a.metrics(), 'cache_stage_duration_ms_count{service="a",stage="get"} 1')
  t.throws(() => createProfiler({ stages: ['user'], registry: a }), /already been registered/)
})

t.test('createMetricsRegistry without labels', async (t) => {
  const registry = createMetricsRegistry()
  const text = await registry.metrics()
  t.match(text, /^process_cpu_user_seconds_total \d/m)
  t.match(registry.contentType, /text\/plain/)
})
