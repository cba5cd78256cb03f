/**
 * A seeded pseudo-random generator and the realistic fields the processor puts on a transaction
 * (card acceptor, MCC, network, POS), so a simulated run is repeatable: one seed, one run.
 */

/** Uniform numbers from a seed (mulberry32: small, fast, good enough for test data). */
export interface SimRandom {
  /** A number in [0, 1). */
  next: () => number
  /** A whole number in [min, max]. */
  int: (min: number, max: number) => number
  pick: <T>(items: readonly T[]) => T
}

export function createRandom (seed = 1): SimRandom {
  let state = seed >>> 0
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0
    let x = state
    x = Math.imul(x ^ (x >>> 15), x | 1)
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61)
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
  return {
    next,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    pick: items => items[Math.floor(next() * items.length)] as (typeof items)[number]
  }
}

/** A merchant as the processor describes it in `card_acceptor`. */
export interface SimMerchant {
  mid: string
  mcc: string
  name: string
  city: string
  state: string
  postal_code: string
  country_code: string
}

const MERCHANTS: ReadonlyArray<Omit<SimMerchant, 'mid'>> = [
  { mcc: '5411', name: 'Corner Grocery', city: 'Oakland', state: 'CA', postal_code: '94612', country_code: 'USA' },
  { mcc: '5812', name: 'Harbor Bistro', city: 'Seattle', state: 'WA', postal_code: '98101', country_code: 'USA' },
  { mcc: '5814', name: 'Quick Burger', city: 'Austin', state: 'TX', postal_code: '73301', country_code: 'USA' },
  { mcc: '5541', name: 'Fuel Stop 24', city: 'Denver', state: 'CO', postal_code: '80202', country_code: 'USA' },
  { mcc: '5732', name: 'Circuit Electronics', city: 'San Jose', state: 'CA', postal_code: '95113', country_code: 'USA' },
  { mcc: '4121', name: 'City Rides', city: 'New York', state: 'NY', postal_code: '10001', country_code: 'USA' },
  { mcc: '5942', name: 'Book Nook', city: 'Portland', state: 'OR', postal_code: '97204', country_code: 'USA' },
  { mcc: '7011', name: 'Lakeside Hotel', city: 'Chicago', state: 'IL', postal_code: '60601', country_code: 'USA' },
  { mcc: '5999', name: 'Online Market', city: 'Boston', state: 'MA', postal_code: '02108', country_code: 'USA' }
]

const NETWORKS: ReadonlyArray<{ network: string, subnetwork: string }> = [
  { network: 'VISA', subnetwork: 'VISANET' },
  { network: 'MASTERCARD', subnetwork: 'MASTERCARDDEBIT' },
  { network: 'VISA', subnetwork: 'VISANETDEBIT' }
]

/** The realistic, non-decision fields of one transaction. */
export interface SimTransactionFields {
  card_acceptor: SimMerchant
  network: string
  subnetwork: string
  pos: { pan_entry_mode: string, card_presence: boolean, cardholder_presence: boolean, terminal_type?: string }
}

/** Draws merchant, network and point-of-sale fields; the same seed gives the same sequence. */
export function transactionFields (random: SimRandom, over: { mcc?: string } = {}): SimTransactionFields {
  const index = random.int(0, MERCHANTS.length - 1)
  const merchant = MERCHANTS[index] as Omit<SimMerchant, 'mid'>
  const ecommerce = merchant.mcc === '5999' || random.next() < 0.2
  const net = random.pick(NETWORKS)
  return {
    card_acceptor: { mid: String(100000000000000 + index * 7919 + random.int(0, 999)).padStart(15, '0'), ...merchant, ...(over.mcc === undefined ? {} : { mcc: over.mcc }) },
    network: net.network,
    subnetwork: net.subnetwork,
    pos: ecommerce
      ? { pan_entry_mode: 'MAG_STRIPE', card_presence: false, cardholder_presence: false, terminal_type: 'ECOMMERCE' }
      : { pan_entry_mode: random.pick(['CHIP', 'CONTACTLESS', 'CHIP']), card_presence: true, cardholder_presence: true, terminal_type: 'POS' }
  }
}

/** An amount in minor units typical of card spend: mostly small, now and then larger. */
export function spendAmount (random: SimRandom, maxMinor = 20_000): number {
  const r = random.next()
  const minor = r < 0.7 ? random.int(150, 4_000) : r < 0.95 ? random.int(4_000, 12_000) : random.int(12_000, maxMinor)
  return Math.min(minor, maxMinor)
}
