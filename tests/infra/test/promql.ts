/**
 * Just enough PromQL reading for the checks of the dashboards and alerts: which metric names an
 * expression reads, and its operands (an alert `a > b and c > d` reads `a`, `b`, `c`, `d`: each
 * must return series while the system is healthy, when the whole expression rightly returns none).
 */

const KEYWORDS = new Set(['and', 'or', 'unless', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'offset', 'bool', 'inf', 'nan'])
const LABEL_LISTS = /\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g

/** The metric names an expression reads (not functions, keywords, label names or durations). */
export function metricNames (expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(LABEL_LISTS, ' ')
  const names = new Set<string>()
  for (const m of stripped.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const word = m[0]
    const after = stripped.slice((m.index) + word.length).trimStart()
    if (after.startsWith('(')) continue // a function or aggregation
    if (KEYWORDS.has(word.toLowerCase())) continue
    if (/^\d/.test(word)) continue
    names.add(word)
  }
  return [...names]
}

/** Splits at the top-level binary operators `and`/`or`/`unless` and comparisons; numbers dropped. */
export function operands (expr: string): string[] {
  const parts: string[] = []
  let depth = 0
  let start = 0
  const push = (end: number): void => {
    const part = expr.slice(start, end).trim()
    if (part !== '' && !/^[\d.]+$/.test(part)) parts.push(part)
  }
  for (let i = 0; i < expr.length; i++) {
    const c = expr[i] as string
    if (c === '(' || c === '{' || c === '[') depth++
    else if (c === ')' || c === '}' || c === ']') depth--
    else if (c === '"') { i = expr.indexOf('"', i + 1); continue }
    if (depth !== 0) continue
    const rest = expr.slice(i)
    const op = /^(==|!=|>=|<=|>|<|\band\b|\bor\b|\bunless\b)/.exec(rest)
    if (op !== null && (op[0].length <= 2 ? true : /\s/.test(expr[i - 1] ?? ' '))) {
      push(i)
      i += op[0].length - 1
      start = i + 1
    }
  }
  push(expr.length)
  // `0.7 * (...)`: the number is not an operand, the rest is
  return parts.map(p => p.replace(/^[\d.]+\s*\*\s*/, ''))
}
