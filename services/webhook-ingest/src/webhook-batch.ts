import { MAX_WEBHOOK_BATCH, WEBHOOK_FAMILY_PATTERN, httpError, type HttpErrorBodyT, type HttpErrorCode } from '@jit/contracts'

/** One event of a batch: its token, the parsed object (for routing) and its exact JSON text. */
export interface BatchEvent {
  token: string
  event: Record<string, unknown>
  /** The event's bytes as the processor sent them, published unchanged. */
  raw: string
}

/** A batch that passed every check. */
export interface ParsedBatch {
  family: string
  events: BatchEvent[]
}

/** Why a body was refused: the HTTP 400 body. */
export type BatchProblem = HttpErrorBodyT

/** What {@link parseWebhookBatch} returns. */
export type BatchResult = { ok: true, batch: ParsedBatch } | { ok: false, problem: BatchProblem }

const FAMILY = new RegExp(WEBHOOK_FAMILY_PATTERN)
const EXAMPLE = '{"transactions": [{"token": "...", ...}]}'
const MAX_EVENT_ERRORS = 10

/**
 * Deepest nesting of objects and arrays accepted in one event (the event object itself is level
 * 1). Processor events nest a handful of levels; thousands of levels are accepted by JSON.parse
 * but overflow the stack of every recursive step downstream (serializing, storing, masking), so
 * such an event would fail in the worker forever instead of being refused here.
 */
export const MAX_EVENT_DEPTH = 32

function isObject (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function isSpace (code: number | undefined): boolean {
  return code === 0x20 || code === 0x09 || code === 0x0a || code === 0x0d
}

function skipSpace (text: string, i: number): number {
  while (i < text.length && isSpace(text.charCodeAt(i))) i++
  return i
}

// The scanner below only ever runs on text JSON.parse accepted, so it needs no error recovery:
// it only finds where each top-level member and each element of the family array starts and ends.
function skipString (text: string, i: number): number {
  i++ // opening quote
  while (i < text.length) {
    const code = text.charCodeAt(i)
    if (code === 0x5c) i += 2 // backslash: the next character is escaped
    else if (code === 0x22) return i + 1
    else i++
  }
  return i
}

/**
 * Walks the object or array that starts at `i` (iterative: no recursion): where it ends, and how
 * deeply objects and arrays nest in it (itself at level 1). On a text holding one scalar: its end,
 * depth 0.
 */
function scanContainer (text: string, i: number): { end: number, depth: number } {
  let depth = 0
  let max = 0
  while (i < text.length) {
    const c = text[i]
    if (c === '"') {
      i = skipString(text, i)
      continue
    }
    if (c === '{' || c === '[') {
      depth++
      if (depth > max) max = depth
    } else if (c === '}' || c === ']') {
      depth--
      if (depth === 0) return { end: i + 1, depth: max }
    }
    i++
  }
  return { end: i, depth: max }
}

/** How deeply objects and arrays nest in one JSON value's text. */
function nestingDepth (text: string): number {
  return scanContainer(text, 0).depth
}

function skipValue (text: string, i: number): number {
  const first = text[i]
  if (first === '"') return skipString(text, i)
  if (first === '{' || first === '[') return scanContainer(text, i).end
  // A number, true, false or null: runs until a delimiter.
  while (i < text.length && !',}] \t\n\r'.includes(text[i] ?? '')) i++
  return i
}

/** The top-level members of a JSON object text, duplicates included (JSON.parse drops them). */
function scanMembers (text: string): Array<{ key: string, valueStart: number, valueEnd: number }> {
  const members: Array<{ key: string, valueStart: number, valueEnd: number }> = []
  let i = skipSpace(text, 0) + 1 // past '{'
  for (;;) {
    i = skipSpace(text, i)
    if (text[i] === '}') return members
    if (text[i] === ',') i = skipSpace(text, i + 1)
    const keyEnd = skipString(text, i)
    const key = JSON.parse(text.slice(i, keyEnd)) as string
    i = skipSpace(text, keyEnd) + 1 // past ':'
    const valueStart = skipSpace(text, i)
    const valueEnd = skipValue(text, valueStart)
    members.push({ key, valueStart, valueEnd })
    i = valueEnd
  }
}

/** The exact text of each element of the JSON array that starts at `start`. */
function scanElements (text: string, start: number): string[] {
  const elements: string[] = []
  let i = start + 1 // past '['
  for (;;) {
    i = skipSpace(text, i)
    if (text[i] === ']' || i >= text.length) return elements
    if (text[i] === ',') i = skipSpace(text, i + 1)
    const end = skipValue(text, i)
    elements.push(text.slice(i, end))
    i = end
  }
}

function problem (error: HttpErrorCode, message: string, field?: string): BatchResult {
  return { ok: false, problem: httpError(error, message, field) }
}

/** A refusal naming every offending event (at most {@link MAX_EVENT_ERRORS}); `field` is the first. */
function eventsProblem (error: HttpErrorCode, summary: string, found: Array<{ path: string, message: string }>): BatchResult {
  return problem(error, `${summary}: ${found.map(f => `${f.path} ${f.message}`).join('; ')}`, found[0]?.path)
}

/**
 * Checks a raw webhook body (already authenticated) and splits it into its family and events.
 *
 * Only what routing and de-duplication need is checked: a JSON object with exactly one property
 * (the family, lower-case), holding 1..{@link MAX_WEBHOOK_BATCH} objects that each have a
 * non-empty string `token`, nested at most {@link MAX_EVENT_DEPTH} levels. Everything else passes untouched, and each event keeps its exact
 * bytes (`raw`): re-serializing would turn `12.50` into `12.5` and lose digits of long numbers,
 * and the record of truth for money should reach the ledger as the processor wrote it.
 * A family we do not know yet is accepted (the family list is partly unverified and grows).
 */
export function parseWebhookBatch (rawBody: Buffer): BatchResult {
  const text = rawBody.toString('utf8')
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (err) {
    return problem('INVALID_JSON', `the body is not valid JSON: ${(err as Error).message}`)
  }
  if (!isObject(value)) {
    const kind = value === null ? 'null' : Array.isArray(value) ? 'an array' : `a ${typeof value}`
    return problem('INVALID_BODY', `the body must be a JSON object with one family array such as ${EXAMPLE}, got ${kind}`)
  }
  const members = scanMembers(text)
  if (members.length !== 1) {
    const names = members.map(m => m.key).join(', ')
    return problem('INVALID_BODY', `the body must have exactly one family property, got ${members.length}${names === '' ? '' : ` (${names})`}`)
  }
  const member = members[0] as { key: string, valueStart: number }
  const family = member.key
  if (!FAMILY.test(family)) {
    return problem('INVALID_FAMILY', `the family name must match ${WEBHOOK_FAMILY_PATTERN}: unexpected property '${family.slice(0, 64)}'`, '')
  }
  const events = value[family]
  const path = `/${family}`
  if (!Array.isArray(events)) {
    return problem('INVALID_BODY', `'${family}' must be an array of events`, path)
  }
  if (events.length === 0) {
    return problem('EMPTY_BATCH', `'${family}' must hold at least one event`, path)
  }
  if (events.length > MAX_WEBHOOK_BATCH) {
    return problem('BATCH_TOO_LARGE', `a batch holds at most ${MAX_WEBHOOK_BATCH} events, got ${events.length}`, path)
  }
  const errors: Array<{ path: string, message: string }> = []
  for (const [index, event] of events.entries()) {
    if (!isObject(event)) {
      errors.push({ path: `${path}/${index}`, message: 'Expected an event object' })
    } else if (typeof event.token !== 'string' || event.token === '') {
      errors.push({ path: `${path}/${index}/token`, message: event.token === undefined ? 'Required property' : 'Expected a non-empty string' })
    }
    if (errors.length >= MAX_EVENT_ERRORS) break
  }
  if (errors.length > 0) {
    return eventsProblem('INVALID_EVENT', `every event needs a non-empty string token (${errors.length} invalid)`, errors)
  }
  const raws = scanElements(text, member.valueStart)
  // Cannot differ for text JSON.parse accepted; if it ever did, refuse rather than publish wrong bytes.
  if (raws.length !== events.length) throw new Error(`webhook batch scan found ${raws.length} events, JSON.parse ${events.length}`)
  const tooDeep: Array<{ path: string, message: string }> = []
  for (const [index, raw] of raws.entries()) {
    const depth = nestingDepth(raw)
    if (depth > MAX_EVENT_DEPTH) tooDeep.push({ path: `${path}/${index}`, message: `Nested ${depth} levels deep; at most ${MAX_EVENT_DEPTH} allowed` })
    if (tooDeep.length >= MAX_EVENT_ERRORS) break
  }
  if (tooDeep.length > 0) {
    return eventsProblem('EVENT_TOO_DEEP', `an event may nest objects and arrays at most ${MAX_EVENT_DEPTH} levels deep (${tooDeep.length} too deep)`, tooDeep)
  }
  return {
    ok: true,
    batch: {
      family,
      events: (events as Array<Record<string, unknown>>).map((event, index) => ({
        token: event.token as string,
        event,
        raw: raws[index] as string
      }))
    }
  }
}
