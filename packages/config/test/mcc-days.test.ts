import t from 'tap'
import { parseMccDays } from '../src/index.js'

t.test('parses single MCCs and inclusive ranges', async t => {
  t.same(parseMccDays('3351-3441:30,3501-3999:30,7011:30,7512:30'), [
    { from: 3351, to: 3441, days: 30 },
    { from: 3501, to: 3999, days: 30 },
    { from: 7011, to: 7011, days: 30 },
    { from: 7512, to: 7512, days: 30 }
  ])
  t.same(parseMccDays(' 5812:1 , 0742-0743:365'), [{ from: 5812, to: 5812, days: 1 }, { from: 742, to: 743, days: 365 }])
  t.same(parseMccDays('none'), [])
})

t.test('refuses malformed entries, naming them', async t => {
  t.throws(() => parseMccDays(''), /entry ''/)
  t.throws(() => parseMccDays('7011'), /entry '7011' must be MCC:days/)
  t.throws(() => parseMccDays('701:30'), /'701:30'/)
  t.throws(() => parseMccDays('7011:30,'), /entry ''/)
  t.throws(() => parseMccDays('7011:abc'), /'7011:abc'/)
  t.throws(() => parseMccDays('7011:1.5'), /'7011:1.5'/)
  t.throws(() => parseMccDays('3999-3501:30'), /ends before it starts/)
  t.throws(() => parseMccDays('7011:0'), /1 to 365 days/)
  t.throws(() => parseMccDays('7011:366'), /1 to 365 days/)
  t.throws(() => parseMccDays('3500-3600:30,3599:10'), /'3599:10' overlaps 3500-3600/)
})
