import type { Sql } from './types.js'
import { RESERVED_ACCOUNT_PATTERN } from './reserved.js'

export interface InvariantViolation {
  invariant: string
  detail: Record<string, unknown>
}

/**
 * The ledger invariants (docs/ledger.md "Invariants") that the stored state can prove, checked in one read
 * (run after every test that moves money, by benchmarks, and by the operations CLI):
 * held = sum of open hold remainders; balance = sum of the account's journal lines; every journal
 * entry balances; holds add up and never hold money once closed; declined tokens hold nothing;
 * available below the credit line only with an overdrawn event; no decision left pending; no
 * funding account named like a counter-account (reserved.ts).
 */
export async function checkLedgerInvariants (sql: Sql): Promise<InvariantViolation[]> {
  const rows = await sql<InvariantViolation[]>`
    select 'held = sum of open holds' as invariant,
      jsonb_build_object('account', a.account_token, 'held', a.held, 'open_holds', coalesce(h.total, 0)) as detail
    from accounts a
    left join (select account_token, sum(remaining)::bigint as total from holds where state = 'OPEN' group by account_token) h
      using (account_token)
    where a.held <> coalesce(h.total, 0)
    union all
    select 'balance = sum of journal lines',
      jsonb_build_object('account', a.account_token, 'balance', a.balance, 'journal', coalesce(j.total, 0))
    from accounts a
    left join (select account_token, sum(amount)::bigint as total from journal_lines group by account_token) j
      using (account_token)
    where a.balance <> coalesce(j.total, 0)
    union all
    select 'journal entry balances', jsonb_build_object('entry', entry_id, 'sum', sum(amount)::bigint)
    from journal_lines group by entry_id having sum(amount) <> 0 or count(*) < 2
    union all
    select 'hold adds up', jsonb_build_object('hold', hold_token, 'authorized', authorized, 'captured', captured,
      'released', released, 'remaining', remaining, 'state', state)
    from holds
    where remaining < 0 or (state <> 'OPEN' and remaining <> 0) or captured + released + remaining <> authorized
    union all
    select 'declined means no hold', jsonb_build_object('jit_token', d.jit_token, 'hold_state', h.state, 'remaining', h.remaining)
    from decisions d join holds h on h.hold_token = d.jit_token
    where d.outcome = 'declined' and (h.state = 'OPEN' and h.remaining > 0) and not h.forced
    union all
    select 'overdraft only when forced and evented', jsonb_build_object('account', a.account_token, 'available', a.balance - a.held)
    from accounts a
    where a.balance - a.held < -a.credit_line
      and not exists (select 1 from outbox o where o.routing_key = 'ledger.account.overdrawn' and o.payload->>'account_token' = a.account_token)
    union all
    select 'no decision left pending', jsonb_build_object('jit_token', jit_token)
    from decisions where outcome = 'pending'
    union all
    select 'no funding account carries a reserved counter-account name', jsonb_build_object('account', account_token)
    from accounts where account_token ~ ${RESERVED_ACCOUNT_PATTERN.source}
  `
  return rows.map(r => ({ invariant: r.invariant, detail: r.detail }))
}
