// The README's configuration table is the operator's only list of variables: it must name every variable
// that src/lib/config.ts reads, with the same default, and nothing that it does not read.
import fs from 'node:fs/promises'
import path from 'node:path'
import { expect, it } from 'vitest'

const ROOT = path.resolve(import.meta.dirname, '../..')

/** `| `PORT` | `3000` | … |` rows of the table under "## Configuration": variable → default as written. */
async function readmeTable(): Promise<Map<string, string>> {
  const readme = await fs.readFile(path.join(ROOT, 'README.md'), 'utf8')
  const section = /^## Configuration\n([\s\S]*?)(?=^## )/m.exec(readme)?.[1] ?? ''
  const rows = new Map<string, string>()
  for (const line of section.split('\n')) {
    const cells = /^\|\s*`([A-Z][A-Z0-9_]*)`\s*\|\s*(.*?)\s*\|/.exec(line)
    if (cells) rows.set(cells[1] as string, (cells[2] as string).replace(/^`(.*)`$/, '$1'))
  }
  return rows
}

/** `read('PORT', 3000, …)` calls of config.ts: variable → its default, written as the README writes it. */
async function configReads(): Promise<Map<string, string>> {
  const source = await fs.readFile(path.join(ROOT, 'src/lib/config.ts'), 'utf8')
  const reads = new Map<string, string>()
  const call = /\bread(?:<[^>]*>)?\(\s*'([A-Z][A-Z0-9_]*)',\s*(\[[^\]]*\]|'[^']*'|`[^`]*`|[^,]+?)\s*,/g
  for (const [, name, fallback] of source.matchAll(call)) {
    reads.set(name as string, readmeDefault(fallback as string))
  }
  return reads
}

function readmeDefault(expression: string): string {
  if (expression === 'undefined') return 'unset'
  if (expression.startsWith('[')) return expression.slice(1, -1).replace(/\s+/g, '')
  // biome-ignore lint/suspicious/noTemplateCurlyInString: the source's template placeholder, as text.
  return expression.replace(/^['`](.*)['`]$/, '$1').replaceAll('${port}', '$PORT')
}

it('the README’s configuration table lists every variable config.ts reads, with its default', async () => {
  const [documented, read] = await Promise.all([readmeTable(), configReads()])
  // Parsing both sides found something (a changed heading or call shape must not pass vacuously).
  expect(read.size).toBeGreaterThanOrEqual(13)
  expect(documented.size).toBeGreaterThan(0)
  expect(Object.fromEntries(documented)).toEqual(Object.fromEntries(read))
})

it('no other source file reads the environment', async () => {
  const files = (await fs.readdir(path.join(ROOT, 'src'), { recursive: true })).filter((f) =>
    f.endsWith('.ts'),
  )
  const readers: string[] = []
  for (const file of files) {
    const text = await fs.readFile(path.join(ROOT, 'src', file), 'utf8')
    // Passing process.env on as a whole (to loadConfig) is allowed; reading a variable from it is not.
    if (/process\.env(?:\.|\[)/.test(text) && file !== path.join('lib', 'config.ts')) readers.push(file)
  }
  expect(readers).toEqual([])
})
