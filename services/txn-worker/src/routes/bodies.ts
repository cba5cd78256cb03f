import type { HoldSummary } from '@jit/ledger'
import { money } from '../console/data.js'

/** What {@link holdSummaryBody} answers: the hold's own fields, its amounts renamed `_minor`. */
export type HoldSummaryBody = Pick<HoldSummary, 'hold_token' | 'account_token' | 'user_token' | 'card_token' | 'currency' | 'mcc' | 'state' | 'forced'> & {
  authorized_minor: number
  captured_minor: number
  released_minor: number
  remaining_minor: number
  remaining: string | null
  opened_at: string
  last_activity_at: string
  closed_at: string | null
}

/**
 * The fields a hold has in every operator answer (the operator API's hold and the console's
 * hold list): amounts in minor units under `_minor`, the remaining amount also as a decimal
 * string, times as ISO strings. Each route adds what only it shows.
 */
export function holdSummaryBody (h: HoldSummary): HoldSummaryBody {
  return {
    hold_token: h.hold_token,
    account_token: h.account_token,
    user_token: h.user_token,
    card_token: h.card_token,
    currency: h.currency,
    mcc: h.mcc,
    state: h.state,
    forced: h.forced,
    authorized_minor: h.authorized,
    captured_minor: h.captured,
    released_minor: h.released,
    remaining_minor: h.remaining,
    remaining: money(h.remaining, h.currency),
    opened_at: h.opened_at.toISOString(),
    last_activity_at: h.last_activity_at.toISOString(),
    closed_at: h.closed_at === null ? null : h.closed_at.toISOString()
  }
}
