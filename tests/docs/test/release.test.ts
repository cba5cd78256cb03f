import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { REPO_ROOT, repositoryFiles } from './references.js'

const read = (file: string): string => readFileSync(join(REPO_ROOT, file), 'utf8')
const root = JSON.parse(read('package.json')) as { version?: string, license?: string }

t.test('the release version is a semantic version with a changelog section', async t => {
  t.match(root.version, /^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/, 'root package.json has a version')
  const sections = [...read('CHANGELOG.md').matchAll(/^## (\S+)/gm)].map(m => m[1])
  t.ok(sections.includes(root.version), `CHANGELOG.md has a section "## ${String(root.version)}"`)
  t.equal(sections[0], 'Unreleased', 'the newest section is Unreleased')
})

t.test('every workspace package carries the release version and the license', async t => {
  const manifests = repositoryFiles().filter(f => /^(packages|services|tests)\/[^/]+\/package\.json$|^bench\/package\.json$/.test(f))
  t.ok(manifests.length > 10, 'found the workspace packages')
  for (const file of manifests) {
    const pkg = JSON.parse(read(file)) as { name: string, version?: string }
    t.equal(pkg.version, root.version, `${pkg.name} is at the release version`)
  }
  t.equal(root.license, 'MIT')
  t.match(read('LICENSE'), /^MIT License/, 'LICENSE is the MIT text')
})

t.test('the generated API documents carry the release version', async t => {
  const documents = repositoryFiles().filter(f => /^docs\/(asyncapi|openapi\/[^/]+)\.json$/.test(f))
  t.ok(documents.length >= 4, 'the AsyncAPI document and the three OpenAPI documents')
  for (const file of documents) {
    const doc = JSON.parse(read(file)) as { info?: { version?: string } }
    t.equal(doc.info?.version, root.version, `${file} (regenerate with \`pnpm run docs\`)`)
  }
})
