import t, { type Test } from 'tap'
import {
  MoneyError,
  currencyExponent,
  isKnownCurrency,
  parseAmount,
  formatAmount,
  formatAmountString,
  KNOWN_CURRENCIES,
  DEFAULT_MAX_MINOR,
  MAX_EXACT_JSON_MINOR,
  type MoneyErrorCode,
  type ParseAmountOptions
} from '../src/index.js'

function caught (fn: () => unknown): unknown {
  try {
    fn()
  } catch (err) {
    return err
  }
  return undefined
}

function failsWith (t: Test, value: unknown, currency: string, code: MoneyErrorCode, opts?: ParseAmountOptions): void {
  const err = caught(() => parseAmount(value, currency, opts))
  const shown = typeof value === 'bigint' ? `${value}n` : (JSON.stringify(value) ?? String(value))
  t.ok(err instanceof MoneyError && err.code === code, `${shown} ${currency} -> ${code}`, { found: err })
}

// A deterministic generator, so a failure reproduces.
function lcg (seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    return s / 2 ** 32
  }
}

t.test('currencyExponent follows ISO 4217', async (t) => {
  for (const c of ['USD', 'EUR', 'GBP', 'CAD', 'CHF', 'MXN', 'INR', 'BRL', 'CNY']) t.equal(currencyExponent(c), 2, c)
  for (const c of ['JPY', 'KRW', 'VND', 'CLP', 'ISK', 'XOF', 'XAF', 'UGX']) t.equal(currencyExponent(c), 0, c)
  for (const c of ['BHD', 'KWD', 'OMR', 'JOD', 'TND', 'IQD', 'LYD']) t.equal(currencyExponent(c), 3, c)
  t.equal(currencyExponent('CLF'), 4)
  t.ok(KNOWN_CURRENCIES.length > 150, 'a reasonably complete table')
  t.ok(isKnownCurrency('USD'))
  t.notOk(isKnownCurrency('usd'))
  t.notOk(isKnownCurrency(840))
})

t.test('unknown or malformed currencies are errors, never a default of 2', async (t) => {
  for (const c of ['XYZ', 'usd', 'US', 'USDD', '', ' USD', 'XAU', 'XXX']) {
    const err = caught(() => currencyExponent(c))
    t.ok(err instanceof MoneyError && err.code === 'UNKNOWN_CURRENCY', JSON.stringify(c))
  }
  t.throws(() => currencyExponent(undefined as unknown as string), { code: 'UNKNOWN_CURRENCY' })
  failsWith(t, '1.00', 'ABC', 'UNKNOWN_CURRENCY')
  t.throws(() => formatAmount(100, 'ABC'), { code: 'UNKNOWN_CURRENCY' })
})

t.test('parseAmount reads decimal strings exactly', async (t) => {
  t.equal(parseAmount('12.50', 'USD'), 1250)
  t.equal(parseAmount('12.5', 'USD'), 1250)
  t.equal(parseAmount('12', 'USD'), 1200)
  t.equal(parseAmount('0.5', 'USD'), 50)
  t.equal(parseAmount('0.1', 'USD'), 10)
  t.equal(parseAmount('0.01', 'USD'), 1)
  t.equal(parseAmount('12.500', 'USD'), 1250, 'trailing zeros beyond the exponent do not change the value')
  t.equal(parseAmount('01.50', 'USD'), 150, 'leading zeros are accepted (documented): they cannot change the value')
  t.equal(parseAmount('100', 'JPY'), 100)
  t.equal(parseAmount('100.0', 'JPY'), 100)
  t.equal(parseAmount('1.234', 'BHD'), 1234)
  t.equal(parseAmount('0.001', 'KWD'), 1)
  t.equal(parseAmount('99999999999.99', 'USD'), 9999999999999)
})

t.test('parseAmount reads numbers through their shortest decimal form', async (t) => {
  t.equal(parseAmount(42.5, 'USD'), 4250)
  t.equal(parseAmount(0.1, 'USD'), 10)
  t.equal(parseAmount(1.1, 'USD'), 110, '1.1 * 100 is 110.00000000000001 in floating point; not here')
  t.equal(parseAmount(4.35, 'USD'), 435, '4.35 * 100 is 434.99999999999994 in floating point; not here')
  t.equal(parseAmount(19.99, 'EUR'), 1999)
  t.equal(parseAmount(0, 'USD'), 0)
  t.equal(parseAmount(-0, 'USD'), 0)
  t.ok(Object.is(parseAmount(-0, 'USD'), 0), '-0 becomes +0')
  t.equal(parseAmount(1e-3, 'BHD'), 1)
})

t.test('parseAmount refuses what is not exact', async (t) => {
  failsWith(t, 0.1 + 0.2, 'USD', 'NOT_EXACT')
  failsWith(t, 1.005, 'USD', 'NOT_EXACT')
  failsWith(t, '1.005', 'USD', 'NOT_EXACT')
  failsWith(t, 1e-7, 'USD', 'NOT_EXACT')
  failsWith(t, 5e-7, 'USD', 'NOT_EXACT')
  failsWith(t, '100.5', 'JPY', 'NOT_EXACT')
  failsWith(t, 100.5, 'JPY', 'NOT_EXACT')
  failsWith(t, '1.2345', 'BHD', 'NOT_EXACT')
  failsWith(t, '0.001', 'USD', 'NOT_EXACT')
  const err = caught(() => parseAmount('1.005', 'USD')) as MoneyError
  t.match(err.message, /2 decimal places/, 'the message says why')
})

t.test('parseAmount refuses what is not a number', async (t) => {
  for (const v of [NaN, Infinity, -Infinity, null, undefined, '', 'abc', true, false, {}, [], [1], '1e3', '1E3',
    ' 1', '1 ', '+1', '.5', '5.', '1,00', '1.2.3', '0x10', '١٢', '--1', '-', '12.50 USD', 10n]) {
    failsWith(t, v, 'USD', 'NOT_A_NUMBER')
  }
})

t.test('parseAmount signs and zero', async (t) => {
  failsWith(t, -5, 'USD', 'NEGATIVE')
  failsWith(t, '-0.01', 'USD', 'NEGATIVE')
  t.equal(parseAmount(-5, 'USD', { allowNegative: true }), -500)
  t.equal(parseAmount('-12.34', 'USD', { allowNegative: true }), -1234)
  t.equal(parseAmount('-0.00', 'USD'), 0, 'negative zero is zero, not negative')
  t.equal(parseAmount('0', 'USD'), 0, 'zero allowed by default')
  failsWith(t, 0, 'USD', 'ZERO', { allowZero: false })
  failsWith(t, '0.00', 'USD', 'ZERO', { allowZero: false })
  failsWith(t, -0, 'USD', 'ZERO', { allowZero: false })
  t.equal(parseAmount('0.01', 'USD', { allowZero: false }), 1)
})

t.test('parseAmount range', async (t) => {
  t.equal(DEFAULT_MAX_MINOR, 10 ** 13)
  t.equal(parseAmount('100000000000', 'USD'), 10 ** 13, 'exactly the default max')
  failsWith(t, '100000000000.01', 'USD', 'OUT_OF_RANGE')
  failsWith(t, 1e21, 'USD', 'OUT_OF_RANGE')
  failsWith(t, 1e300, 'USD', 'OUT_OF_RANGE')
  failsWith(t, Number.MAX_VALUE, 'USD', 'OUT_OF_RANGE')
  failsWith(t, '9'.repeat(40), 'USD', 'OUT_OF_RANGE')
  failsWith(t, '1'.repeat(100), 'USD', 'OUT_OF_RANGE')
  failsWith(t, -1e21, 'USD', 'OUT_OF_RANGE', { allowNegative: true })
  failsWith(t, -1e21, 'USD', 'NEGATIVE')
  failsWith(t, '10.01', 'USD', 'OUT_OF_RANGE', { max: 1000 })
  t.equal(parseAmount('10.00', 'USD', { max: 1000 }), 1000)
  t.equal(parseAmount('90071992547409.91', 'USD', { max: Number.MAX_SAFE_INTEGER }), Number.MAX_SAFE_INTEGER)
  failsWith(t, '90071992547409.92', 'USD', 'OUT_OF_RANGE', { max: Number.MAX_SAFE_INTEGER })
  t.throws(() => parseAmount('1', 'USD', { max: 0 }), TypeError)
  t.throws(() => parseAmount('1', 'USD', { max: 2 ** 60 }), TypeError)
  t.throws(() => parseAmount('1', 'USD', { max: 1.5 }), TypeError)
})

t.test('formatAmount and formatAmountString', async (t) => {
  t.equal(formatAmount(1050, 'USD'), 10.5)
  t.equal(formatAmount(1, 'USD'), 0.01)
  t.equal(formatAmount(0, 'USD'), 0)
  t.equal(formatAmount(-250, 'USD'), -2.5)
  t.equal(formatAmount(435, 'USD'), 4.35)
  t.equal(formatAmount(100, 'JPY'), 100)
  t.equal(formatAmount(1234, 'BHD'), 1.234)
  t.equal(formatAmountString(1050, 'USD'), '10.50')
  t.equal(formatAmountString(1, 'USD'), '0.01')
  t.equal(formatAmountString(0, 'USD'), '0.00')
  t.equal(formatAmountString(-0, 'USD'), '0.00')
  t.equal(formatAmountString(-5, 'BHD'), '-0.005')
  t.equal(formatAmountString(-123456, 'USD'), '-1234.56')
  t.equal(formatAmountString(100, 'JPY'), '100')
  t.equal(formatAmountString(7, 'CLF'), '0.0007')
  t.equal(formatAmountString(Number.MAX_SAFE_INTEGER, 'USD'), '90071992547409.91')
  t.throws(() => formatAmountString(1.5, 'USD'), { code: 'NOT_EXACT' })
  t.throws(() => formatAmountString(NaN, 'USD'), { code: 'NOT_A_NUMBER' })
  t.throws(() => formatAmountString(2 ** 60, 'USD'), { code: 'OUT_OF_RANGE' })
  t.throws(() => formatAmount(MAX_EXACT_JSON_MINOR + 1, 'USD'), { code: 'OUT_OF_RANGE' })
  t.equal(formatAmount(MAX_EXACT_JSON_MINOR, 'USD'), 9999999999999.99)
})

t.test('round trips: parse(format(x)) === x', async (t) => {
  const rnd = lcg(20240601)
  let checked = 0
  for (const currency of ['USD', 'JPY', 'BHD', 'CLF']) {
    for (let i = 0; i < 5000; i++) {
      // Spread magnitudes over 0..10^13 so small and large values are both covered.
      const digits = 1 + Math.floor(rnd() * 13)
      const minor = Math.floor(rnd() * 10 ** digits) * (rnd() < 0.3 ? -1 : 1)
      const asNumber = parseAmount(formatAmount(minor, currency), currency, { allowNegative: true })
      const asString = parseAmount(formatAmountString(minor, currency), currency, { allowNegative: true })
      if (asNumber !== minor || asString !== minor) {
        t.fail(`round trip of ${minor} ${currency}: ${asNumber} / ${asString}`)
        return
      }
      checked++
    }
  }
  t.equal(checked, 20000, 'every random value round-tripped through number and string')
  for (const minor of [0, 1, 9, 10, 99, 100, 101, MAX_EXACT_JSON_MINOR, 10 ** 13, 123456789012345]) {
    t.equal(parseAmount(formatAmount(minor, 'USD'), 'USD', { max: MAX_EXACT_JSON_MINOR }), minor, `edge ${minor}`)
  }
})

t.test('MoneyError is an Error with a code', async (t) => {
  const err = new MoneyError('ZERO', 'nope')
  t.ok(err instanceof Error)
  t.equal(err.name, 'MoneyError')
  t.equal(err.code, 'ZERO')
  t.equal(err.message, 'nope')
})
