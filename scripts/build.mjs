// `npm run build` compiles src/ to dist/ and records a hash of what it compiled; `--if-stale` (npm start's
// prestart) compiles only when that hash no longer matches, so a start on a current dist/ costs no build.
// A hash of the contents rather than of times: a checkout, a copy or an extracted archive can give a
// changed file an old time.
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const stampFile = path.join(root, 'dist', '.build-inputs')

function inputsHash() {
  const files = ['tsconfig.json', 'tsconfig.build.json']
  for (const entry of fs.readdirSync(path.join(root, 'src'), { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) files.push(path.relative(root, path.join(entry.parentPath, entry.name)))
  }
  const hash = createHash('sha256')
  for (const file of files.sort())
    hash
      .update(`${file}\0`)
      .update(fs.readFileSync(path.join(root, file)))
      .update('\0')
  return hash.digest('hex')
}

const wanted = inputsHash()
const current =
  fs.existsSync(path.join(root, 'dist', 'server.js')) && fs.existsSync(stampFile)
    ? fs.readFileSync(stampFile, 'utf8').trim()
    : undefined
if (process.argv.includes('--if-stale') && current === wanted) process.exit(0)
const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc')
execFileSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json')], { stdio: 'inherit' })
fs.writeFileSync(stampFile, `${wanted}\n`)
