import t from 'tap'
import { maskCardNumbers } from '../src/index.js'

/** Appends the Luhn check digit to `partial`, so tests can build valid numbers of any length. */
function withCheckDigit (partial: string): string {
  for (let check = 0; check <= 9; check++) {
    const candidate = partial + String(check)
    let sum = 0
    for (let i = 0; i < candidate.length; i++) {
      let d = Number(candidate[candidate.length - 1 - i])
      if (i % 2 === 1) {
        d *= 2
        if (d > 9) d -= 9
      }
      sum += d
    }
    if (sum % 10 === 0) return candidate
  }
  throw new Error('unreachable')
}

/** Same digits with the check digit off by one: fails Luhn. */
function invalidate (pan: string): string {
  const last = Number(pan.at(-1))
  return pan.slice(0, -1) + String((last + 1) % 10)
}

function deepFreeze<T> (value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v)
    Object.freeze(value)
  }
  return value
}

t.test('Luhn-valid 13-19 digit runs are masked to first 6 and last 4', async t => {
  t.equal(maskCardNumbers('4111111111111111'), '411111******1111')
  t.equal(maskCardNumbers('5555555555554444'), '555555******4444')
  t.equal(maskCardNumbers('378282246310005'), '378282*****0005', '15 digits (Amex)')
  t.equal(maskCardNumbers('4222222222222'), '422222***2222', '13 digits')
  const nineteen = withCheckDigit('627180000000000000')
  t.equal(nineteen.length, 19)
  t.equal(maskCardNumbers(nineteen), nineteen.slice(0, 6) + '*********' + nineteen.slice(-4), '19 digits')
  t.equal(maskCardNumbers('card 4111111111111111 declined'), 'card 411111******1111 declined', 'inside text')
  t.equal(maskCardNumbers('pan=4111111111111111;exp=1225'), 'pan=411111******1111;exp=1225', 'bounded by punctuation')
  t.equal(maskCardNumbers('x4111111111111111y'), 'x411111******1111y', 'bounded by letters')
  t.equal(maskCardNumbers('4111111111111111 and 5555555555554444'), '411111******1111 and 555555******4444', 'two in one string')
})

t.test('digit runs that are not card numbers are left alone', async t => {
  t.equal(maskCardNumbers('4111111111111112'), '4111111111111112', 'fails Luhn')
  t.equal(maskCardNumbers(invalidate('378282246310005')), invalidate('378282246310005'))
  const twelve = withCheckDigit('42222222222')
  t.equal(twelve.length, 12)
  t.equal(maskCardNumbers(twelve), twelve, '12 digits: too short, even when Luhn-valid')
  const twenty = withCheckDigit('4111111111111111111')
  t.equal(twenty.length, 20)
  t.equal(maskCardNumbers(twenty), twenty, '20 digits in one run: too long')
  t.equal(maskCardNumbers('1234.56'), '1234.56', 'amount as text')
  t.equal(maskCardNumbers('2024-03-01T12:00:00.000Z'), '2024-03-01T12:00:00.000Z', 'timestamps')
  t.equal(maskCardNumbers('+1 415 555 0100'), '+1 415 555 0100', 'phone numbers')
})

t.test('spaces and dashes between groups', async t => {
  t.equal(maskCardNumbers('4111 1111 1111 1111'), '411111******1111')
  t.equal(maskCardNumbers('4111-1111-1111-1111'), '411111******1111')
  t.equal(maskCardNumbers('3782-822463-10005'), '378282*****0005', 'Amex grouping')
  t.equal(maskCardNumbers('4111 - 1111 - 1111 - 1111'), '411111******1111', 'spaced dashes')
  t.equal(maskCardNumbers('paid 4111 1111 1111 1111 on 2024'), 'paid 411111******1111 on 2024',
    'a PAN followed by another number is still found')
  t.equal(maskCardNumbers('ref 12 4111 1111 1111 1111'), 'ref 12 411111******1111', 'and preceded by one')
  t.equal(maskCardNumbers('4111 1111 1111 1112'), '4111 1111 1111 1112', 'grouped but Luhn-invalid')
})

t.test('fields named like a PAN are masked whatever their digits', async t => {
  const masked = maskCardNumbers({
    pan: '1234567890123456',
    card_number: '4111 1111 1111 1112',
    primary_account_number: 1234567890123456,
    primaryAccountNumber: '12345678901234567',
    PAN: '1234',
    other: '1234567890123456'
  })
  t.same(masked, {
    pan: '123456******3456',
    card_number: '411111******1112',
    primary_account_number: '123456******3456',
    primaryAccountNumber: '123456*******4567',
    PAN: '****',
    other: '1234567890123456'
  })
  t.same(maskCardNumbers({ pan: null, card_number: undefined }), { pan: null, card_number: undefined }, 'empty values stay empty')
  t.same(maskCardNumbers({ pan: '411111******1111' }), { pan: '411111******1111' }, 'masking twice changes nothing')
  t.same(maskCardNumbers({ pan: { value: '4111111111111111' } }), { pan: { value: '411111******1111' } },
    'an object under a PAN name is still searched')
})

t.test('nested objects and arrays, at any depth', async t => {
  const input = {
    data: [
      { card: { pan: '4111111111111111' }, notes: ['ok', 'retry with 5555-5555-5555-4444'] },
      [[{ deep: 'x 378282246310005 y' }]]
    ],
    count: 3
  }
  t.same(maskCardNumbers(input), {
    data: [
      { card: { pan: '411111******1111' }, notes: ['ok', 'retry with 555555******4444'] },
      [[{ deep: 'x 378282*****0005 y' }]]
    ],
    count: 3
  })
})

t.test('the input is never modified and a new object is returned', async t => {
  const input = deepFreeze({ a: { pan: '4111111111111111', list: ['4111111111111111'] }, plain: 'nothing here' })
  const output = maskCardNumbers(input)
  t.not(output, input)
  t.not(output.a, input.a)
  t.not(output.a.list, input.a.list)
  t.equal(input.a.pan, '4111111111111111', 'the frozen input is intact')
  const clean = { x: 1, y: ['a'] }
  const copy = maskCardNumbers(clean)
  t.same(copy, clean)
  t.not(copy, clean, 'a copy even when nothing is masked')
  copy.y.push('b')
  t.same(clean.y, ['a'], 'the copy shares nothing')
})

t.test('tokens and amounts are untouched', async t => {
  const uuid = '7c5b9e2e-1a0f-4b7e-9a35-6c1f1d9e3b2a'
  const digitsOnlyUuid = '41111111-1111-1111-1111-111111111111'
  const input = {
    token: uuid,
    other: digitsOnlyUuid,
    text: `see ${digitsOnlyUuid} and ${uuid}`,
    user_token: 'user_01HZX3K9Q2',
    amount: 1234.56,
    big_amount: 999999999999,
    gpa_order: { amount: '10.00', currency_code: 'USD' },
    created_time: '2024-03-01T12:00:00Z'
  }
  t.same(maskCardNumbers(input), input)
})

t.test('numbers that are card numbers, and other value types', async t => {
  t.equal(maskCardNumbers(4111111111111111), '411111******1111', 'a Luhn-valid integer becomes a masked string')
  t.equal(maskCardNumbers(4111111111111112), 4111111111111112, 'an invalid one stays a number')
  t.equal(maskCardNumbers(4111111111111111n), '411111******1111', 'bigint')
  t.equal(maskCardNumbers(12.5), 12.5)
  t.equal(maskCardNumbers(null), null)
  t.equal(maskCardNumbers(true), true)

  const date = new Date('2024-01-01T00:00:00Z')
  const out = maskCardNumbers({ date, map: new Map([['pan', '4111111111111111'], ['k', 'x 5555555555554444']]), set: new Set(['4111111111111111']) })
  t.not(out.date, date)
  t.equal(out.date.getTime(), date.getTime(), 'dates are copied')
  t.same([...out.map], [['pan', '411111******1111'], ['k', 'x 555555******4444']], 'maps')
  t.same([...out.set], ['411111******1111'], 'sets')

  const buffer = Buffer.from('4111111111111111')
  const copied = maskCardNumbers({ buffer }).buffer
  t.not(copied, buffer)
  t.ok(copied.equals(buffer), 'binary values are copied, not interpreted')

  const cyclic: Record<string, unknown> = { pan: '4111111111111111' }
  cyclic.self = cyclic
  const maskedCycle = maskCardNumbers(cyclic)
  t.equal(maskedCycle.self, maskedCycle, 'cycles are preserved, not followed forever')
  t.equal(maskedCycle.pan, '411111******1111')
})
