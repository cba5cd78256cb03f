// A shed whose TIMEOUT record fails on its own data (a test-only trigger raises 22023 for tokens
// 'poison-%', as an over-long field would) queued beside an ordinary one: the recorder writes the
// others apart from it, so the ordinary one is recorded within seconds and its repeat gets the
// answer it was given; a later shed is not held back either.
import t from 'tap'
import { build, jitBody } from '../helper.js'
import { sleep, rowOf, tokenOf, compare, ONE_CONNECTION, warmCards, busyConnection } from './support.js'

t.test('poison shed beside an ordinary one', async t => {
  const h = await build(t, ONE_CONNECTION)
  await h.db.sql.unsafe(`create or replace function test_poison() returns trigger language plpgsql as $f$ begin
      if new.jit_token like 'poison-%' then raise exception 'poison' using errcode = '22023'; end if;
      return new; end $f$;
    create trigger test_poison before insert on decisions for each row execute function test_poison()`)
  const [a, b] = await warmCards(t, h, 'poison-shed')
  const p = await h.fundedCard('poison-shed-p', 100000)
  const busy = busyConnection(h, 1.5)
  await sleep(30)
  const first = jitBody(a, 10)
  const poison = jitBody(p, 10, { token: 'poison-1' })
  const normal = jitBody(b, 10)
  const pending = h.jit(first)
  const [pa, na] = await Promise.all([h.jit(poison), h.jit(normal)])
  t.comment(`poison answered ${pa.status} ${pa.body.jit_funding.memo}; normal answered ${na.status} ${na.body.jit_funding.memo}`)
  await pending
  await busy
  await sleep(4000)
  const at5 = await rowOf(h, tokenOf(normal))
  t.comment(`normal's record ~5 s later (PostgreSQL healthy): ${at5 === null ? 'NOTHING' : at5.outcome}`)
  t.not(at5, null, 'the ordinary shed is recorded within seconds while PostgreSQL is healthy')
  const repeatEarly = await h.jit(normal)
  t.same(repeatEarly.body, na.body, 'a repeat at ~5 s gets the answer given')
  // a later shed, 5 s after the poison one, in a flush of its own
  const c3 = await h.fundedCard('poison-shed-c', 100000)
  t.equal((await h.jit(jitBody(c3, 1))).status, 200, 'warm c')
  const busy2 = busyConnection(h, 1.5)
  await sleep(30)
  const first2 = h.jit(jitBody(a, 11))
  const late = jitBody(c3, 10)
  const lateAnswer = await h.jit(late)
  await first2
  await busy2
  await sleep(3000)
  const lateRow = await rowOf(h, tokenOf(late))
  t.comment(`a shed answered ${lateAnswer.status} 5 s after the poison one, its record 3 s after the connection freed: ${lateRow === null ? 'NOTHING' : lateRow.outcome}`)
  t.not(lateRow, null, 'a later shed is not blocked by the poison one')
  const repeat = await h.jit(normal)
  const cmp = await compare(h, normal, na)
  t.ok(cmp.ok, `the first answer is the record: ${cmp.detail}`)
  t.same(repeat.body, na.body, 'a later repeat gets the first answer')
  t.equal(await h.available(b.user), 100000 - 100 - ((await rowOf(h, tokenOf(normal)))?.outcome === 'approved' ? 1000 : 0), 'money exact against the record')
  t.same(await h.invariants(), [])
})
