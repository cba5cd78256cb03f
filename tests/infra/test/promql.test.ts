import t from 'tap'
import { metricNames, operands } from './promql.js'

t.test('metricNames reads metrics, not functions, labels or durations', async t => {
  t.same(metricNames('histogram_quantile(0.99, sum by (le, stage) (rate(jit_stage_duration_seconds_bucket{stage="decision"}[5m])))'), ['jit_stage_duration_seconds_bucket'])
  t.same(metricNames('sum(rate(a_total[1m])) / (sum(rate(b_total[1m])) + sum(rate(c_total[1m])))').sort(), ['a_total', 'b_total', 'c_total'])
  t.same(metricNames('min by (service, dependency) (jit_dependency_up{required="true"}) == 0'), ['jit_dependency_up'])
  t.same(metricNames('up{job=~"a|b"} == 0 and on (instance) x'), ['up', 'x'])
})

t.test('operands splits at top-level comparisons and set operators', async t => {
  t.same(operands('max(x) > 30'), ['max(x)'])
  t.same(operands('(a / b) < 0.7 * (c / d) and sum(rate(e[10m])) > 0.05'), ['(a / b)', '(c / d)', 'sum(rate(e[10m]))'])
  t.same(operands('histogram_quantile(0.99, sum by (le) (rate(x_bucket[5m]))) > scalar(max(y{level="critical"}))'),
    ['histogram_quantile(0.99, sum by (le) (rate(x_bucket[5m])))', 'scalar(max(y{level="critical"}))'])
  t.same(operands('up{job=~"a|b"} == 0'), ['up{job=~"a|b"}'])
})
