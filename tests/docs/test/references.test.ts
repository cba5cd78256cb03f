import t from 'tap'
import { danglingReferences, scanRepository } from './references.js'

const files = new Set(['README.md', 'docs/ledger.md', 'docs/architecture.md', 'packages/ledger/README.md', 'packages/ledger/src/index.ts'])

t.test('every file a document, README or code comment points at exists', async t => {
  const dangling = scanRepository()
  t.same(dangling.map(d => `${d.file}:${d.line}: ${d.reference}`), [], 'no dangling reference')
})

t.test('a markdown link is read from its own file\'s folder', async t => {
  t.same(danglingReferences('docs/architecture.md', 'see [the rules](ledger.md#keys) and [root](../README.md)', files), [])
  t.same(danglingReferences('docs/architecture.md', 'see [ops](operations.md)', files).map(d => d.reference), ['operations.md'])
  t.same(danglingReferences('README.md', '[web](https://example.com) [here](#tests)', files), [], 'urls and anchors are not files')
})

t.test('a path from the root must exist; patterns and routes are not paths', async t => {
  t.same(danglingReferences('packages/ledger/src/x.ts', '// the rules: docs/ledger.md "Keys"', files), [])
  t.same(danglingReferences('packages/ledger/src/x.ts', '// see docs/LEDGER.md', files).map(d => d.reference), ['docs/LEDGER.md'])
  t.same(danglingReferences('README.md', '`docs/openapi/<service>.json`, `packages/*/README.md`, `services/x`', files), [])
})

t.test('a document named alone must exist somewhere; machine paths never do', async t => {
  t.same(danglingReferences('packages/ledger/src/x.ts', '// (LEDGER.md "Rules")', files).map(d => d.reference), ['LEDGER.md'])
  t.same(danglingReferences('packages/ledger/README.md', 'see README.md', files), [])
  t.same(danglingReferences('a.ts', "const SWAGGER = '/work/shared/marqeta/swagger.json'", files).map(d => d.reference), ['/work/shared/marqeta/swagger.json'])
})
