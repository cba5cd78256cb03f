import t from 'tap'
import { swaggerValidator } from './swagger.js'
t.test('x', async (t) => {
  const v = swaggerValidator('jit_program_response')
  t.notOk(v({ jit_funding: { token: 'a' } }))
  console.log(v.errors)
  t.ok(v({ jit_funding: { token: 'a', method: 'pgfs.authorization', user_token: 'u', amount: 1 } }), JSON.stringify(v.errors))
})
