/**
 * The console's HTML, rendered on the server: no script at all (forms and links only), one small
 * stylesheet, so pages work with a keyboard, on a phone and from a fresh clone with no build.
 */

/** Escapes text for HTML content and attribute values. */
export function esc (value: unknown): string {
  if (value === null || value === undefined) return ''
  return String(value).replace(/[&<>"']/g, c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c] as string))
}

/** A piece of markup that is already safe. */
export class Html {
  constructor (readonly value: string) {}
  toString (): string { return this.value }
}

/** Tagged template: interpolations are escaped unless they are {@link Html} (or arrays of it). */
export function html (strings: TemplateStringsArray, ...values: unknown[]): Html {
  let out = strings[0] ?? ''
  values.forEach((v, i) => {
    out += render(v) + (strings[i + 1] ?? '')
  })
  return new Html(out)
}

function render (v: unknown): string {
  if (v instanceof Html) return v.value
  if (Array.isArray(v)) return v.map(render).join('')
  if (v === false || v === null || v === undefined) return ''
  return esc(v)
}

/** Where the console is mounted. */
export const BASE = '/console'

/** A console URL with query parameters (absent ones dropped). */
export function href (path: string, query: Record<string, string | number | null | undefined> = {}): string {
  const q = new URLSearchParams()
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v))
  const s = q.toString()
  return `${BASE}${path}${s === '' ? '' : `?${s}`}`
}

/** What every page knows about who is looking. */
export interface PageContext {
  operator: string | null
  csrf: string | null
  /** Current section, for the navigation's aria-current. */
  section?: 'search' | 'dead-letters' | 'actions' | 'health' | null
}

const NAV: Array<[NonNullable<PageContext['section']>, string, string]> = [
  ['search', '/', 'Search'],
  ['dead-letters', '/dead-letters', 'Dead letters'],
  ['actions', '/actions', 'Operator actions'],
  ['health', '/health', 'Health']
]

/** A whole page. */
export function page (title: string, ctx: PageContext, body: Html): string {
  const nav = ctx.operator === null
    ? html``
    : html`<nav aria-label="Console"><ul>${NAV.map(([key, path, label]) =>
        html`<li><a href="${href(path)}"${ctx.section === key ? html` aria-current="page"` : ''}>${label}</a></li>`)}</ul>
      <form method="post" action="${href('/logout')}" class="signout"><input type="hidden" name="_csrf" value="${ctx.csrf ?? ''}"><span>${ctx.operator}</span> <button type="submit">Sign out</button></form></nav>`
  return '<!doctype html>\n' + html`<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · JIT operator console</title>
<link rel="stylesheet" href="${href('/assets/console.css')}">
<link rel="icon" href="${href('/assets/favicon.svg')}" type="image/svg+xml">
</head><body>
<a class="skip" href="#main">Skip to content</a>
<header><a class="brand" href="${href('/')}">JIT operator console</a>${nav}</header>
<main id="main" tabindex="-1"><h1>${title}</h1>
${body}
</main></body></html>`.value
}

/** A search form, on the search page and at the top of result pages. */
export function searchForm (values: { q?: string, last_four?: string, from?: string, to?: string } = {}): Html {
  return html`<form method="get" action="${href('/search')}" class="search" role="search">
<label for="q">Card, user, account, JIT or transaction token</label>
<div class="row"><input id="q" name="q" type="search" value="${values.q ?? ''}" autocomplete="off" spellcheck="false" autofocus> <button type="submit">Search</button></div>
<details${values.last_four !== undefined && values.last_four !== '' ? html` open` : ''}><summary>Last four digits and a time window</summary>
<div class="grid"><label>Last four <input name="last_four" inputmode="numeric" pattern="[0-9]{4}" maxlength="4" value="${values.last_four ?? ''}"></label>
<label>From (UTC) <input name="from" type="datetime-local" value="${values.from ?? ''}"></label>
<label>To (UTC) <input name="to" type="datetime-local" value="${values.to ?? ''}"></label></div></details>
</form>`
}

/** A notice box: role=status for information, role=alert for problems. */
export function notice (kind: 'info' | 'error' | 'ok', text: string | Html): Html {
  return html`<p class="notice ${kind}" role="${kind === 'error' ? 'alert' : 'status'}">${text}</p>`
}

/** A date as `2026-12-01 09:41:07 UTC` in a <time> element. */
export function when (d: Date | string | null | undefined): Html {
  if (d === null || d === undefined) return html`–`
  const date = typeof d === 'string' ? new Date(d) : d
  if (Number.isNaN(date.getTime())) return html`${String(d)}`
  const iso = date.toISOString()
  return html`<time datetime="${iso}">${iso.slice(0, 19).replace('T', ' ')} UTC</time>`
}

/** How long ago, in words (`3 d 4 h`, `12 min`). */
export function age (d: Date, now = new Date()): string {
  const s = Math.max(0, Math.round((now.getTime() - d.getTime()) / 1000))
  if (s < 90) return `${s} s`
  if (s < 5400) return `${Math.round(s / 60)} min`
  if (s < 172800) return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`
  return `${Math.floor(s / 86400)} d ${Math.round((s % 86400) / 3600)} h`
}

/** Hidden CSRF field of a write form. */
export function csrfField (ctx: PageContext): Html {
  return html`<input type="hidden" name="_csrf" value="${ctx.csrf ?? ''}">`
}

/**
 * The stylesheet. Colours meet WCAG AA contrast (4.5:1 for text) on their backgrounds; focus is
 * always visible; tables scroll sideways on a phone instead of squeezing.
 */
export const CONSOLE_CSS = `
:root{--fg:#1a1a1a;--muted:#4a4a4a;--bg:#fff;--line:#c8c8c8;--accent:#0b57d0;--ok:#146c2e;--bad:#b3261e;--warn:#7a4f01;--chip:#f1f3f4}
*{box-sizing:border-box}
body{margin:0;font:16px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
a{color:var(--accent)}
:focus-visible{outline:3px solid #f9ab00;outline-offset:2px}
.skip{position:absolute;left:-999px}.skip:focus{left:8px;top:8px;background:#fff;padding:4px 8px;z-index:2}
header{display:flex;flex-wrap:wrap;align-items:center;gap:8px 24px;padding:8px 16px;border-bottom:1px solid var(--line);background:#f8f9fa}
.brand{font-weight:700;text-decoration:none;color:var(--fg)}
nav{display:flex;flex-wrap:wrap;align-items:center;gap:8px 24px;flex:1}
nav ul{display:flex;flex-wrap:wrap;gap:4px 16px;list-style:none;margin:0;padding:0}
nav a[aria-current]{font-weight:700;text-decoration-thickness:3px}
.signout{margin-left:auto;display:flex;gap:8px;align-items:center}
main{padding:16px;max-width:1200px;margin:0 auto}
h1{font-size:1.5rem;margin:.25rem 0 1rem}h2{font-size:1.2rem;margin:1.5rem 0 .5rem}
label{display:block;font-weight:600;margin:.25rem 0}
input,select,button{font:inherit;padding:8px 10px;border:1px solid #767676;border-radius:4px;min-height:44px}
input[type=search]{width:min(100%,36rem)}
button{background:var(--accent);color:#fff;border-color:var(--accent);cursor:pointer}
button.danger{background:var(--bad);border-color:var(--bad)}
button.secondary{background:#fff;color:var(--accent)}
.row{display:flex;gap:8px;flex-wrap:wrap}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(12rem,1fr));gap:8px;margin-top:8px}
details{margin:.5rem 0}summary{cursor:pointer;color:var(--accent)}
.table{overflow-x:auto;border:1px solid var(--line);border-radius:4px}
table{border-collapse:collapse;width:100%;font-size:.95rem}
th,td{text-align:left;padding:6px 10px;border-bottom:1px solid var(--line);vertical-align:top}
th{background:#f1f3f4;white-space:nowrap}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
caption{text-align:left;font-weight:600;padding:6px 10px}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:.85rem;font-weight:600;background:var(--chip)}
.approved,.done,.up{color:var(--ok)}.declined,.failed,.down{color:var(--bad)}.requested,.pending{color:var(--warn)}
.notice{padding:10px 12px;border-radius:4px;border:1px solid var(--line);background:#f8f9fa}
.notice.error{border-color:var(--bad);background:#fce8e6}.notice.ok{border-color:var(--ok);background:#e6f4ea}
.muted{color:var(--muted)}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;margin:0}dl.facts dt{font-weight:600}dl.facts dd{margin:0}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(15rem,1fr));gap:12px}
.card{border:1px solid var(--line);border-radius:6px;padding:12px}
.big{font-size:1.6rem;font-weight:700}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:.9em;word-break:break-all}
pre{white-space:pre-wrap;word-break:break-all;background:#f8f9fa;padding:8px;border-radius:4px;max-height:20rem;overflow:auto}
svg text{font-size:11px;fill:var(--muted)}
.narrow{max-width:24rem}.medium{max-width:32rem}.full{width:100%}.spaced{margin:1rem 0}ul.plain{list-style:none;padding:0}
svg.chart{width:100%;max-width:600px;height:auto}
@media (max-width:600px){main{padding:10px}th,td{padding:4px 6px}.signout span{display:none}
table.stack thead{position:absolute;left:-9999px}table.stack tr{display:block;border-bottom:2px solid var(--line);padding:4px 0}
table.stack td{display:flex;gap:8px;border:0;padding:2px 8px;text-align:left}table.stack td::before{content:attr(data-label);font:600 1rem system-ui,sans-serif;min-width:6.5rem;flex:none}}
`

/** The tab icon (served, so the browser does not ask the worker for a /favicon.ico it lacks). */
export const FAVICON_SVG = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#0b57d0"/><path d="M4 8h8M8 4v8" stroke="#fff" stroke-width="2"/></svg>'
