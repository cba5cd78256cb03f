import { randomUUID } from 'node:crypto'
import { COMMANDS_EXCHANGE, type Amqp, type Publisher } from '@jit/amqp'
import type { Database } from '@jit/postgres'
import { redriveDeadLetters, type RedriveResult } from '../ops/dead-letters.js'

/** An operator's write, as recorded in `operator_actions`. */
export interface OperatorAction {
  id: number
  operator: string
  action: 'dead_letter.redrive' | 'dead_letter.redrive_all' | 'hold.release'
  target: string
  detail: Record<string, unknown>
  outcome: 'requested' | 'done' | 'failed'
  result: Record<string, unknown> | null
  requested_at: Date
  finished_at: Date | null
}

/** What the console's writes need. */
export interface ActionDeps {
  db: Database
  amqp: Amqp
  publisher: Publisher
}

async function record (db: Database, operator: string, action: OperatorAction['action'], target: string, detail: Record<string, unknown>): Promise<number> {
  const [row] = await db.sql<Array<{ id: number }>>`
    insert into operator_actions (operator, action, target, detail)
    values (${operator}, ${action}, ${target}, ${db.sql.json(detail as never)}) returning id`
  return (row as { id: number }).id
}

async function finish (db: Database, id: number, outcome: 'done' | 'failed', result: Record<string, unknown>): Promise<void> {
  await db.sql`update operator_actions set outcome = ${outcome}, result = ${db.sql.json(result as never)}, finished_at = now() where id = ${id}`
}

/**
 * Re-drives one dead letter (by `message_id`) or all of a dead queue back to the queue it failed
 * in. Recorded before it runs (who, what, when), finished with the broker's result: a crash in
 * between leaves a `requested` row, never an unrecorded action.
 */
export async function redriveAsOperator (deps: ActionDeps, operator: string, queue: string, messageId: string | null): Promise<{ id: number, result: RedriveResult | null }> {
  const id = await record(deps.db, operator, messageId === null ? 'dead_letter.redrive_all' : 'dead_letter.redrive', queue, messageId === null ? {} : { message_id: messageId })
  try {
    const result = await redriveDeadLetters(deps.amqp, { queue, ...(messageId === null ? {} : { messageId }) })
    const moved = result.redriven > 0 || messageId === null
    await finish(deps.db, id, moved ? 'done' : 'failed', moved ? { ...result } : { ...result, error: 'no dead letter with this message id' })
    return { id, result }
  } catch (err) {
    await finish(deps.db, id, 'failed', { error: err instanceof Error ? err.message : String(err) })
    return { id, result: null }
  }
}

/**
 * Releases a hold the way every other service asks for it: a `hold.release` command on
 * `cards.commands` (audited by the command log and answered by `command.applied`), whose
 * `message_id` is kept on the action so its answer can be shown.
 */
export async function releaseHoldAsOperator (deps: ActionDeps, operator: string, jitToken: string, reason: string): Promise<number> {
  const messageId = `console-${randomUUID()}`
  const id = await record(deps.db, operator, 'hold.release', jitToken, { reason, command_message_id: messageId })
  try {
    await deps.publisher.publish('hold.release', { jit_token: jitToken, reason, operator: `console:${operator}` }, { exchange: COMMANDS_EXCHANGE, messageId, mandatory: true })
  } catch (err) {
    await finish(deps.db, id, 'failed', { error: err instanceof Error ? err.message : String(err) })
  }
  return id
}

/**
 * An action with its outcome. A `hold.release` still `requested` is settled here from the
 * worker's command log once the command was processed (applied or rejected, with its reason).
 */
export async function loadAction (db: Database, id: number): Promise<OperatorAction | null> {
  const [row] = await db.sql<OperatorAction[]>`select * from operator_actions where id = ${id}`
  if (row === undefined) return null
  const messageId = row.detail.command_message_id
  if (row.outcome === 'requested' && row.action === 'hold.release' && typeof messageId === 'string') {
    const [cmd] = await db.sql<Array<{ outcome: string, answer: Record<string, unknown> }>>`
      select outcome, answer from worker_commands where message_id = ${messageId}`
    if (cmd !== undefined) {
      const outcome = cmd.outcome === 'rejected' ? 'failed' : 'done'
      await finish(db, id, outcome, { command_outcome: cmd.outcome, answer: cmd.answer })
      return { ...row, outcome, result: { command_outcome: cmd.outcome, answer: cmd.answer }, finished_at: new Date() }
    }
  }
  return row
}

/** The newest actions (id below `beforeId` when given), at most `limit`. */
export async function listActions (db: Database, opts: { beforeId?: number, limit: number }): Promise<OperatorAction[]> {
  return [...await db.sql<OperatorAction[]>`
    select * from operator_actions ${opts.beforeId === undefined ? db.sql`` : db.sql`where id < ${opts.beforeId}`}
    order by id desc limit ${opts.limit}`]
}
