#!/usr/bin/env node
// The `paylinks` command. It runs the compiled CLI; `npm install` builds it (the prepare script).
import { existsSync } from 'node:fs'

const cli = new URL('../dist/cli.js', import.meta.url)
if (!existsSync(cli)) {
  process.stderr.write('paylinks: dist/ is missing; run `npm run build` in the paylinks folder first\n')
  process.exit(1)
}
const { main } = await import(cli.href)
await main(process.argv)
