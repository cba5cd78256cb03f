import t from 'tap'
import { CommonConfig, loadConfig, parseDelays } from '../src/index.js'

t.test('retry delays are a list of positive integers, their count the number of retries', async t => {
  t.same(parseDelays('1000,5000,25000'), [1000, 5000, 25000])
  t.same(parseDelays(loadConfig(CommonConfig, {}).AMQP_RETRY_DELAYS_MS), [1000, 5000, 25000], 'the default is the contract\'s 1 s, 5 s, 25 s')
  t.same(parseDelays(loadConfig(CommonConfig, { AMQP_RETRY_DELAYS_MS: '100' }).AMQP_RETRY_DELAYS_MS), [100])
  t.throws(() => parseDelays('100,0'), /not a delay/)
  for (const bad of ['', '1000,', '-5', '1.5', '100 200']) {
    t.throws(() => loadConfig(CommonConfig, { AMQP_RETRY_DELAYS_MS: bad === '' ? ',' : bad }), /AMQP_RETRY_DELAYS_MS/, `${JSON.stringify(bad)} is refused naming the variable`)
  }
})

t.test('a backoff that starts above its cap is refused', async t => {
  t.throws(() => loadConfig(CommonConfig, { AMQP_TRANSIENT_RETRY_MS: '6000', AMQP_TRANSIENT_RETRY_MAX_MS: '5000' }), /AMQP_TRANSIENT_RETRY_MS/)
  t.throws(() => loadConfig(CommonConfig, { AMQP_RECONNECT_MIN_MS: '9000' }), /AMQP_RECONNECT_MIN_MS/)
})
