import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync, statSync } from 'node:fs'
import { basename, dirname, join, relative, resolve } from 'node:path'

/** The repository's root (this file is tests/docs/test/references.ts). */
export const REPO_ROOT = resolve(dirname(new URL(import.meta.url).pathname), '../../..')

/** Files that may cite other files: documents, code and scripts (not data such as JSON). */
const SCANNED = /\.(md|ts|mts|mjs|js|cjs|sql|sh|ya?ml|conf)$|^(Dockerfile|run|start|test)$/
/**
 * Generated or vendored trees; this checker (its tests cite missing files on purpose); numbered
 * migrations, which never change once released (their checksums are pinned), so what their
 * comments cite is history.
 */
const SKIPPED = /(^|\/)(node_modules|dist|coverage|\.tap|\.turbo)\/|^tests\/docs\/test\/|\/migrations\/\d+_[^/]*\.sql$/

/** The top-level folders a repository path starts with. */
const ROOTS = ['docs', 'packages', 'services', 'tests', 'scripts', 'infra', 'bench', '.ci']
/** A path from the root, e.g. `packages/ledger/README.md` (placeholders like `<name>` are not paths). */
const ROOT_PATH = new RegExp(`(?<![\\w./-])(?:\\.\\./)*(?:${ROOTS.map(r => r.replace('.', '\\.')).join('|')})/[\\w.@/-]*[\\w]`, 'g')
/** A markdown link target: `[text](target)`. */
const MD_LINK = /\]\(([^)\s]+)\)/g
/** A document named by its file name alone, e.g. `LEDGER.md`. */
const MD_NAME = /(?<![\w./-])([\w-]+\.md)\b/g
/** Absolute paths of one machine, never valid in a clone. */
const MACHINE_PATH = /\/work\/(?:shared|main)\b[^\s'"`)]*/g

/** One reference that points at nothing. */
export interface DanglingReference {
  file: string
  line: number
  reference: string
}

/** Every tracked file, and every new file git does not ignore, relative to the root. */
export function repositoryFiles (root = REPO_ROOT): string[] {
  const out = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], { cwd: root, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })
  return out.split('\0').filter(f => f !== '' && existsSync(join(root, f)))
}

/**
 * The references of one file's text that point at no file of the repository: markdown links
 * (relative to the file), paths from the root (`docs/...`, `packages/...`, ...), documents
 * named by file name alone (one of that name must exist somewhere), and machine paths.
 */
export function danglingReferences (file: string, text: string, files: ReadonlySet<string>, root = REPO_ROOT): DanglingReference[] {
  const names = new Set([...files].map(f => basename(f)))
  const dir = dirname(file)
  const found: DanglingReference[] = []
  const lines = text.split('\n')
  const exists = (path: string): boolean => {
    const normal = relative(root, resolve(root, path)).replace(/\/$/, '')
    if (files.has(normal)) return true
    // a build output (`services/x/dist/server.js`) exists once its source does
    const source = normal.replace(/(^|\/)dist\/(.*)\.js$/, '$1src/$2.ts')
    if (source !== normal && files.has(source)) return true
    // a folder of tracked files
    const prefix = normal + '/'
    for (const f of files) if (f.startsWith(prefix)) return true
    return existsSync(join(root, normal)) && statSync(join(root, normal)).isDirectory()
  }
  const markdown = file.endsWith('.md')
  lines.forEach((content, index) => {
    const seen = new Set<string>()
    const report = (reference: string): void => {
      if (seen.has(reference)) return
      seen.add(reference)
      found.push({ file, line: index + 1, reference })
    }
    for (const m of content.matchAll(MACHINE_PATH)) report(m[0])
    // links only in documents: in code `](` is a regular expression or an index
    for (const m of markdown ? content.matchAll(MD_LINK) : []) {
      const target = (m[1] ?? '').split('#')[0] ?? ''
      if (target === '' || /^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('/')) continue
      if (!exists(join(dir, decodeURIComponent(target)))) report(basename(target) === target ? target : m[1] ?? '')
    }
    for (const m of content.matchAll(ROOT_PATH)) {
      const path = m[0]
      // `../` climbs from the file's folder; a bare root path is read from the root
      const candidates = path.startsWith('../') ? [join(dir, path), path.replace(/^(\.\.\/)+/, '')] : [path, join(dir, path)]
      // a pattern or a path that is not a file name (a route, a routing key) is not a reference
      if (/[*{}<>$]/.test(path) || !/\.[a-z]+$/i.test(path)) continue
      if (!candidates.some(exists)) report(path)
    }
    for (const m of content.matchAll(MD_NAME)) {
      const name = m[1] ?? ''
      if (!names.has(name) && !seen.has(name)) report(name)
    }
  })
  return found
}

/** Which of `paths` git ignores: files a script generates (certificates, builds), never committed. */
function ignoredByGit (paths: string[], root: string): Set<string> {
  if (paths.length === 0) return new Set()
  try {
    const out = execFileSync('git', ['check-ignore', '--no-index', '--stdin'], { cwd: root, encoding: 'utf8', input: paths.join('\n') })
    return new Set(out.split('\n').filter(p => p !== ''))
  } catch {
    // exit status 1: none of them is ignored
    return new Set()
  }
}

/** The dangling references of the whole repository. */
export function scanRepository (root = REPO_ROOT): DanglingReference[] {
  const files = repositoryFiles(root)
  const set = new Set(files)
  const out: DanglingReference[] = []
  for (const file of files) {
    if (SKIPPED.test(file) || !SCANNED.test(basename(file))) continue
    out.push(...danglingReferences(file, readFileSync(join(root, file), 'utf8'), set, root))
  }
  const generated = ignoredByGit(out.map(d => d.reference).filter(r => ROOTS.some(root => r.startsWith(root + '/'))), root)
  return out.filter(d => !generated.has(d.reference))
}
