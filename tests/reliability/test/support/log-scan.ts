import { Writable } from 'node:stream'

/** Which log line it was (its message and component, never its content), for the report. */
function describe (line: string): string {
  try {
    const entry = JSON.parse(line) as Record<string, unknown>
    return ['service', 'name', 'component', 'msg'].map(k => entry[k]).filter(v => typeof v === 'string').join(' / ')
  } catch {
    return '(a line that is not JSON)'
  }
}

/**
 * Scans log output for what must never be written: configured secrets (and their Basic-auth
 * header form), signatures that were sent, and the card numbers the suite's input carried
 * (any digit run is not a card number: ids and timestamps are long digit runs too). Keeps only
 * the findings, never the lines, so scanning a long run costs no memory.
 */
export class LogScanner {
  readonly findings: string[] = []
  lines = 0
  private readonly secrets: string[]
  private readonly signatures = new Set<string>()

  private readonly cardNumbers: string[]

  constructor (secrets: string[], cardNumbers: string[]) {
    this.secrets = secrets.filter(s => s.length >= 8)
    this.cardNumbers = cardNumbers
  }

  /** A signature (hex) the suite sent: it must not appear in any log line. */
  sentSignature (hex: string): void {
    this.signatures.add(hex.toLowerCase())
  }

  scan (text: string, where: string): void {
    for (const line of text.split('\n')) {
      if (line === '') continue
      this.lines++
      for (const secret of this.secrets) {
        if (line.includes(secret)) this.note(`${where}: a secret (${secret.slice(0, 3)}...) in "${describe(line)}"`)
      }
      for (const hex of line.toLowerCase().matchAll(/[0-9a-f]{40,64}/g)) {
        if (this.signatures.has(hex[0])) this.note(`${where}: a signature (${hex[0].slice(0, 8)}...) in "${describe(line)}"`)
      }
      const digits = line.replace(/[ -]/g, '')
      for (const pan of this.cardNumbers) {
        if (digits.includes(pan)) this.note(`${where}: a card number (${pan.slice(0, 4)}...) in "${describe(line)}"`)
      }
    }
  }

  /** A stream to give pino: every line is scanned, then dropped. */
  stream (where: string): Writable {
    return new Writable({
      write: (chunk: Buffer, _encoding, done) => { this.scan(chunk.toString('utf8'), where); done() }
    })
  }

  private note (finding: string): void {
    if (this.findings.length < 50 && !this.findings.includes(finding)) this.findings.push(finding)
  }
}

/** The forms a `user:password` setting can leak in: itself, its password, its Basic header value. */
export function secretForms (userPassword: string): string[] {
  const password = userPassword.slice(userPassword.indexOf(':') + 1)
  return [userPassword, password, Buffer.from(userPassword).toString('base64')]
}
