import t from 'tap'
import { Type } from '@sinclair/typebox'
import { compileValidator, registerFormats } from '../src/index.js'

t.test('compileValidator returns the value or the first errors with JSON pointers', async (t) => {
  const schema = Type.Object({
    a: Type.String(),
    nested: Type.Object({ n: Type.Integer({ minimum: 1 }) }),
    list: Type.Array(Type.String())
  }, { additionalProperties: false })
  const check = compileValidator(schema)
  const value = { a: 'x', nested: { n: 2 }, list: ['y'] }
  const ok = check(value)
  t.same(ok, { ok: true, value })
  if (ok.ok) t.equal(ok.value, value, 'the same object, neither coerced nor copied')

  const bad = check({ a: 1, nested: { n: 0 }, list: ['y', 2], extra: true })
  t.notOk(bad.ok)
  if (!bad.ok) {
    const paths = bad.errors.map((e) => e.path)
    t.ok(paths.includes('/a'))
    t.ok(paths.includes('/nested/n'))
    t.ok(paths.includes('/list/1'))
    t.ok(paths.includes('/extra'))
    t.ok(bad.errors.every((e) => typeof e.message === 'string' && e.message.length > 0))
  }
  const few = compileValidator(schema, { maxErrors: 2 })({ a: 1, nested: { n: 0 }, list: [1, 2, 3] })
  t.equal(few.ok ? 0 : few.errors.length, 2, 'maxErrors caps the list')
  const root = check('nope')
  t.equal(root.ok ? null : root.errors[0]?.path, '', 'root errors have the empty pointer')
})

t.test('no coercion: a string where a number belongs is an error', async (t) => {
  const check = compileValidator(Type.Object({ n: Type.Number() }))
  t.notOk(check({ n: '1' }).ok)
  t.notOk(check({ n: NaN }).ok, 'NaN is not a number here')
})

t.test('date-time format is registered', async (t) => {
  registerFormats()
  registerFormats()
  const check = compileValidator(Type.String({ format: 'date-time' }))
  for (const v of ['2025-01-02T03:04:05Z', '2025-01-02T03:04:05.678Z', '2025-01-02T03:04:05+02:00']) t.ok(check(v).ok, v)
  for (const v of ['2025-01-02', '2025-13-02T03:04:05Z', '2025-01-02T03:04:05', 'yesterday', '2025-02-30T00:00:00Z x']) t.notOk(check(v).ok, v)
})
