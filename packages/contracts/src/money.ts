/**
 * Exact money at the processor boundary.
 *
 * Inside the system money is an integer number of minor units (cents, yen, fils). The processor
 * speaks decimal major units (`42.5` means $42.50), sometimes as a JSON number, sometimes as a
 * string. Conversion in either direction goes through decimal strings and BigInt only, never
 * through binary floating-point arithmetic, so `0.1 + 0.2` can never quietly become 30 cents.
 */

/** Why an amount was refused. */
export type MoneyErrorCode =
  | 'NOT_A_NUMBER'
  | 'NOT_EXACT'
  | 'NEGATIVE'
  | 'ZERO'
  | 'OUT_OF_RANGE'
  | 'UNKNOWN_CURRENCY'

/**
 * An amount or currency that cannot be used exactly. Services map it to a 4xx (or, on the JIT
 * route, a 402 `INVALID_AMOUNT`); it is never a reason to round.
 */
export class MoneyError extends Error {
  /** Machine-readable reason. */
  readonly code: MoneyErrorCode

  constructor (code: MoneyErrorCode, message: string) {
    super(message)
    this.name = 'MoneyError'
    this.code = code
  }
}

/**
 * ISO 4217 minor-unit exponents of the active currencies (list of 2024/2025, including
 * XCG, ZWG, SLE, VED). Funds codes and metals without a minor unit (XAU, XDR, XXX...) are
 * deliberately absent: nobody spends them on a card, and an absent code is an error rather than
 * a guess.
 */
const EXPONENT_0 = [
  'BIF', 'CLP', 'DJF', 'GNF', 'ISK', 'JPY', 'KMF', 'KRW', 'PYG', 'RWF', 'UGX', 'UYI', 'VND',
  'VUV', 'XAF', 'XOF', 'XPF'
]
const EXPONENT_3 = ['BHD', 'IQD', 'JOD', 'KWD', 'LYD', 'OMR', 'TND']
const EXPONENT_4 = ['CLF', 'UYW']
const EXPONENT_2 = [
  'AED', 'AFN', 'ALL', 'AMD', 'ANG', 'AOA', 'ARS', 'AUD', 'AWG', 'AZN', 'BAM', 'BBD', 'BDT',
  'BGN', 'BMD', 'BND', 'BOB', 'BOV', 'BRL', 'BSD', 'BTN', 'BWP', 'BYN', 'BZD', 'CAD', 'CDF',
  'CHE', 'CHF', 'CHW', 'CNY', 'COP', 'COU', 'CRC', 'CUP', 'CVE', 'CZK', 'DKK', 'DOP', 'DZD',
  'EGP', 'ERN', 'ETB', 'EUR', 'FJD', 'FKP', 'GBP', 'GEL', 'GHS', 'GIP', 'GMD', 'GTQ', 'GYD',
  'HKD', 'HNL', 'HTG', 'HUF', 'IDR', 'ILS', 'INR', 'IRR', 'JMD', 'KES', 'KGS', 'KHR', 'KPW',
  'KYD', 'KZT', 'LAK', 'LBP', 'LKR', 'LRD', 'LSL', 'MAD', 'MDL', 'MGA', 'MKD', 'MMK', 'MNT',
  'MOP', 'MRU', 'MUR', 'MVR', 'MWK', 'MXN', 'MXV', 'MYR', 'MZN', 'NAD', 'NGN', 'NIO', 'NOK',
  'NPR', 'NZD', 'PAB', 'PEN', 'PGK', 'PHP', 'PKR', 'PLN', 'QAR', 'RON', 'RSD', 'RUB', 'SAR',
  'SBD', 'SCR', 'SDG', 'SEK', 'SGD', 'SHP', 'SLE', 'SLL', 'SOS', 'SRD', 'SSP', 'STN', 'SVC',
  'SYP', 'SZL', 'THB', 'TJS', 'TMT', 'TOP', 'TRY', 'TTD', 'TWD', 'TZS', 'UAH', 'USD', 'USN',
  'UYU', 'UZS', 'VED', 'VES', 'WST', 'XCD', 'XCG', 'YER', 'ZAR', 'ZMW', 'ZWG', 'ZWL'
]

const EXPONENTS: ReadonlyMap<string, number> = new Map([
  ...EXPONENT_0.map((c) => [c, 0] as const),
  ...EXPONENT_2.map((c) => [c, 2] as const),
  ...EXPONENT_3.map((c) => [c, 3] as const),
  ...EXPONENT_4.map((c) => [c, 4] as const)
])

/** Every ISO 4217 code this package knows, sorted. */
export const KNOWN_CURRENCIES: readonly string[] = Object.freeze([...EXPONENTS.keys()].sort())

/** Default ceiling of {@link parseAmount}: 10^13 minor units (100 billion dollars). */
export const DEFAULT_MAX_MINOR = 10_000_000_000_000

/**
 * Largest magnitude {@link formatAmount} accepts: a decimal of at most 15 significant digits
 * survives a round trip through an IEEE double, so 10^15 - 1 minor units is the limit of an
 * exact JSON number.
 */
export const MAX_EXACT_JSON_MINOR = 999_999_999_999_999

/**
 * The number of decimal places of an ISO 4217 currency (USD 2, JPY 0, BHD 3, CLF 4).
 *
 * @param code - three upper-case letters, as the processor sends it (`"USD"`)
 * @throws MoneyError `UNKNOWN_CURRENCY` when the code is malformed or not in the table: an
 *   unknown currency is never assumed to have 2 decimals.
 * @example currencyExponent('JPY') // 0
 */
export function currencyExponent (code: string): number {
  const exponent = typeof code === 'string' ? EXPONENTS.get(code) : undefined
  if (exponent === undefined) {
    const shown = typeof code === 'string' ? JSON.stringify(code.slice(0, 8)) : typeof code
    throw new MoneyError('UNKNOWN_CURRENCY', `unknown or malformed currency code ${shown}: expected an ISO 4217 code such as "USD"`)
  }
  return exponent
}

/** Whether `code` is a currency this package can convert. */
export function isKnownCurrency (code: unknown): code is string {
  return typeof code === 'string' && EXPONENTS.has(code)
}

/** Options of {@link parseAmount}. */
export interface ParseAmountOptions {
  /** Accept amounts below zero (signed adjustments). @default false */
  allowNegative?: boolean
  /** Accept zero (account verifications and balance inquiries carry 0). @default true */
  allowZero?: boolean
  /** Largest accepted magnitude in minor units, a positive safe integer. @default 10^13 */
  max?: number
}

// A plain decimal: optional minus, digits, optional fraction. No '+', no exponent, no
// whitespace, no '.5' or '5.'. Leading zeros ('01.50') are accepted: they cannot change the value,
// and refusing them would only turn a harmless formatting quirk into a decline.
const DECIMAL = /^(-?)(\d+)(?:\.(\d+))?$/
// What String(number) produces for |n| >= 1e21 or 0 < |n| < 1e-6.
const EXPONENTIAL = /^(-?)(\d)(?:\.(\d+))?e([+-]\d+)$/
// Longer inputs are refused before any work, so a megabyte of digits costs nothing.
const MAX_INPUT_LENGTH = 64

/** Rewrites `1.5e-7` / `1e+21` as a plain decimal string, digit by digit. */
function expandExponential (text: string): string | null {
  const m = EXPONENTIAL.exec(text)
  if (m === null) return null
  const sign = m[1] ?? ''
  const digits = (m[2] ?? '') + (m[3] ?? '')
  const pointAt = 1 + Number(m[4])
  if (pointAt <= 0) return `${sign}0.${'0'.repeat(-pointAt)}${digits}`
  if (pointAt >= digits.length) return sign + digits + '0'.repeat(pointAt - digits.length)
  return `${sign}${digits.slice(0, pointAt)}.${digits.slice(pointAt)}`
}

/**
 * Parses a processor amount in major units into integer minor units, exactly.
 *
 * Accepts a finite JSON number or a plain decimal string (`"12.50"`, `"12"`, `"0.5"`). A number
 * is read through its shortest round-trip decimal form (`String(n)`), so `42.5` is 4250 and
 * `0.1 + 0.2` (`0.30000000000000004`) is refused as not exact rather than rounded to 30.
 * Fraction digits beyond the currency's exponent are accepted only when they are zeros
 * (`"12.500"` USD is 1250). `-0` is 0.
 *
 * @param value - the amount as received
 * @param currency - ISO 4217 code giving the exponent
 * @returns a safe integer number of minor units
 * @throws MoneyError with code `NOT_A_NUMBER` (not a finite number or plain decimal string:
 *   `NaN`, `null`, `''`, `'1e3'`, `' 1'`, `'+1'`, `true`), `NEGATIVE`, `NOT_EXACT` (more
 *   decimals than the currency has), `OUT_OF_RANGE` (magnitude above `max`), `ZERO` (when
 *   `allowZero` is false) or `UNKNOWN_CURRENCY`.
 * @example parseAmount('12.50', 'USD') // 1250
 * @example parseAmount(42.5, 'USD') // 4250
 */
export function parseAmount (value: unknown, currency: string, opts: ParseAmountOptions = {}): number {
  const exponent = currencyExponent(currency)
  const max = opts.max ?? DEFAULT_MAX_MINOR
  if (!Number.isSafeInteger(max) || max <= 0) {
    throw new TypeError(`parseAmount: max must be a positive safe integer, got ${String(max)}`)
  }

  let text: string
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new MoneyError('NOT_A_NUMBER', 'amount must be a finite number')
    const shortest = String(value)
    text = expandExponential(shortest) ?? shortest
  } else if (typeof value === 'string') {
    if (value.length > MAX_INPUT_LENGTH) throw new MoneyError('OUT_OF_RANGE', `amount is longer than ${MAX_INPUT_LENGTH} characters`)
    text = value
  } else {
    throw new MoneyError('NOT_A_NUMBER', `amount must be a number or a decimal string, got ${value === null ? 'null' : typeof value}`)
  }

  const m = DECIMAL.exec(text)
  if (m === null) throw new MoneyError('NOT_A_NUMBER', 'amount must be a plain decimal such as "12.50" (no sign "+", exponent or spaces)')
  const negative = m[1] === '-'
  const integerDigits = (m[2] ?? '').replace(/^0+(?=\d)/, '')
  const fraction = m[3] ?? ''
  const significantFraction = fraction.replace(/0+$/, '')
  const isZero = /^0*$/.test(integerDigits) && significantFraction === ''

  if (negative && !isZero && opts.allowNegative !== true) {
    throw new MoneyError('NEGATIVE', 'amount must not be negative')
  }
  if (significantFraction.length > exponent) {
    throw new MoneyError('NOT_EXACT', `amount has more than ${exponent} decimal place${exponent === 1 ? '' : 's'}, the precision of ${currency}`)
  }
  // 17+ integer digits cannot be in range whatever the exponent: stop before building big numbers.
  if (integerDigits.length > 16) throw new MoneyError('OUT_OF_RANGE', `amount exceeds the maximum of ${formatAmountString(max, currency)} ${currency}`)

  const magnitude = BigInt(integerDigits + significantFraction.padEnd(exponent, '0'))
  if (magnitude > BigInt(max)) {
    throw new MoneyError('OUT_OF_RANGE', `amount exceeds the maximum of ${formatAmountString(max, currency)} ${currency}`)
  }
  if (magnitude === 0n) {
    if (opts.allowZero === false) throw new MoneyError('ZERO', 'amount must be greater than zero')
    return 0
  }
  const minor = Number(magnitude)
  return negative ? -minor : minor
}

/**
 * Formats integer minor units as a plain decimal string with exactly the currency's decimals.
 *
 * @example formatAmountString(1050, 'USD') // "10.50"
 * @example formatAmountString(-5, 'BHD') // "-0.005"
 * @throws MoneyError `NOT_A_NUMBER` (not finite), `NOT_EXACT` (not an integer), `OUT_OF_RANGE`
 *   (not a safe integer) or `UNKNOWN_CURRENCY`
 */
export function formatAmountString (minor: number, currency: string): string {
  const exponent = currencyExponent(currency)
  if (typeof minor !== 'number' || !Number.isFinite(minor)) throw new MoneyError('NOT_A_NUMBER', 'minor units must be a finite number')
  if (!Number.isInteger(minor)) throw new MoneyError('NOT_EXACT', 'minor units must be an integer')
  if (!Number.isSafeInteger(minor)) throw new MoneyError('OUT_OF_RANGE', 'minor units must be a safe integer')
  const sign = minor < 0 ? '-' : ''
  const digits = String(Math.abs(minor)).padStart(exponent + 1, '0')
  if (exponent === 0) return sign + digits
  return `${sign}${digits.slice(0, -exponent)}.${digits.slice(-exponent)}`
}

/**
 * Formats integer minor units as the JSON number of major units the processor expects
 * (`1050` USD -> `10.5`, `1` -> `0.01`), built from the exact decimal string so it is the double
 * nearest to the decimal value, and `parseAmount(formatAmount(x, c), c) === x`.
 *
 * @throws MoneyError as {@link formatAmountString}, and `OUT_OF_RANGE` above
 *   {@link MAX_EXACT_JSON_MINOR} in magnitude, where a double could no longer carry the value
 *   exactly.
 */
export function formatAmount (minor: number, currency: string): number {
  const text = formatAmountString(minor, currency)
  if (Math.abs(minor) > MAX_EXACT_JSON_MINOR) {
    throw new MoneyError('OUT_OF_RANGE', 'amount is too large to be sent exactly as a JSON number')
  }
  return Number(text)
}
