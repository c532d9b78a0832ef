// The README's curl walk-through, taken from README.md at test time and run by bash against a real server
// process, so that the README and the server cannot drift apart. Only two things change, the two a reader
// changes too: the key the first start printed, and the port (the test's server has its own).
//
// `curl` on the PATH is a wrapper around the real one that records what each call sent and got back, without
// changing its arguments or its output; every recorded call is then checked, in order.
import { execFileSync, spawn } from 'node:child_process'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import {
  fetchJson,
  freshDatabaseEnv,
  PROCESS_TIMEOUT,
  type ServerProcess,
  startServer,
} from '../helpers/process.js'

const ROOT = path.resolve(import.meta.dirname, '../..')

let server: ServerProcess
let cleanup: () => Promise<void>
let key: string
let work: string

beforeAll(async () => {
  const fresh = await freshDatabaseEnv()
  cleanup = fresh.cleanup
  // The walk-through's webhook URL is on example.com; this machine may have no DNS to resolve it.
  server = await startServer({ ...fresh.env, WEBHOOK_ALLOW_PRIVATE_URLS: 'true' })
  key = /API key \(shown only now\):\s+(pl_sk_[0-9a-f]{48})/.exec(server.output())?.[1] as string
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'paylinks-readme-'))
}, PROCESS_TIMEOUT)
afterAll(async () => {
  await server?.stop()
  await cleanup?.()
  if (work) await fs.rm(work, { recursive: true, force: true })
})

/** The README's shell blocks that call the admin API (those using the `auth` headers), in order. */
async function walkThrough(): Promise<string> {
  const readme = await fs.readFile(path.join(ROOT, 'README.md'), 'utf8')
  const blocks = [...readme.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((m) => m[1] as string)
  // biome-ignore lint/suspicious/noTemplateCurlyInString: this is bash's "${auth[@]}", not a template.
  return blocks.filter((block) => block.includes('"${auth[@]}"')).join('\n')
}

/** One call the walk-through made: its arguments, the response head and what curl printed. */
interface Call {
  args: string[]
  method: string
  url: URL
  status: number
  location: string | undefined
  stdout: string
  exitCode: number
  // biome-ignore lint/suspicious/noExplicitAny: the answers are read field by field and asserted.
  json: any
}

const WRAPPER = `#!/usr/bin/env bash
# Records one curl call into $CURL_LOG, then runs the real curl with the same arguments and output.
n=$(( $(cat "$CURL_LOG/count" 2>/dev/null || echo 0) + 1 )); echo "$n" > "$CURL_LOG/count"
printf '%s\\0' "$@" > "$CURL_LOG/$n.args"
# A -D of the caller's own comes later and wins; its headers are then in what it printed.
"$REAL_CURL" -D "$CURL_LOG/$n.head" "$@" | tee "$CURL_LOG/$n.out"
code=\${PIPESTATUS[0]}; echo "$code" > "$CURL_LOG/$n.code"; exit "$code"
`

async function readCalls(log: string): Promise<Call[]> {
  const count = Number(await fs.readFile(path.join(log, 'count'), 'utf8').catch(() => '0'))
  const calls: Call[] = []
  for (let n = 1; n <= count; n++) {
    const read = (ext: string) => fs.readFile(path.join(log, `${n}.${ext}`), 'utf8').catch(() => '')
    const args = (await read('args')).split('\0').slice(0, -1)
    const stdout = await read('out')
    const head = (await read('head')) || stdout
    const methodAt = args.indexOf('-X')
    const target = args.find((a) => /^https?:\/\//.test(a)) as string
    let json: unknown
    try {
      json = JSON.parse(stdout)
    } catch {
      json = undefined
    }
    calls.push({
      args,
      method: methodAt >= 0 ? (args[methodAt + 1] as string) : 'GET',
      url: new URL(target),
      status: Number(/^HTTP\/[\d.]+ (\d{3})/m.exec(head)?.[1]),
      location: /^location: (.*?)\r?$/im.exec(head)?.[1],
      stdout,
      exitCode: Number(await read('code')),
      json,
    })
  }
  return calls
}

it('runs the README walk-through as written against a real server, every call answering as the README says', {
  timeout: PROCESS_TIMEOUT,
}, async () => {
  expect(key).toMatch(/^pl_sk_/)
  const script = await walkThrough()
  // The reader pastes their key and talks to port 3000; this server has its own port.
  expect(script.match(/^KEY=pl_sk_…/gm)).toHaveLength(1)
  expect(script.match(/http:\/\/localhost:3000/g)).toHaveLength(1)
  const runnable = script
    .replace(/^KEY=pl_sk_…/m, `KEY=${key}`)
    .replace('http://localhost:3000', `http://localhost:${server.port}`)
  await fs.writeFile(path.join(work, 'walk-through.sh'), runnable)
  const bin = path.join(work, 'bin')
  const log = path.join(work, 'log')
  await fs.mkdir(bin)
  await fs.mkdir(log)
  await fs.writeFile(path.join(bin, 'curl'), WRAPPER, { mode: 0o755 })
  const realCurl = execFileSync('bash', ['-c', 'command -v curl'], { encoding: 'utf8' }).trim()

  const run = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn('bash', ['-e', '-u', '-o', 'pipefail', path.join(work, 'walk-through.sh')], {
      cwd: work,
      env: {
        ...process.env,
        PATH: `${bin}:${process.env.PATH}`,
        CURL_LOG: log,
        REAL_CURL: realCurl,
      },
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => {
      stdout += d
    })
    child.stderr.on('data', (d) => {
      stderr += d
    })
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
  const calls = await readCalls(log)
  const summary = calls.map((c) => `${c.method} ${c.url.pathname} → ${c.status}`)
  expect({ code: run.code, stderr: run.code === 0 ? '' : run.stderr, summary }).toMatchObject({
    code: 0,
    stderr: '',
  })
  // Every curl of the script ran (none was skipped by an earlier failure) and reached the server.
  const commands = runnable.split('\n').filter((line) => /(^|\$\()curl /.test(line.trim()))
  expect(calls).toHaveLength(commands.length)
  for (const call of calls) expect({ call: summary, exitCode: call.exitCode }).toMatchObject({ exitCode: 0 })

  const api = `/admin/api/v1`
  let checked = 0
  /** The next call, which must be `method pathname` and have answered `status`. */
  const next = (method: string, pathname: string, status: number): Call => {
    const call = calls[checked++]
    expect(call && `${call.method} ${call.url.pathname} → ${call.status}`).toBe(
      `${method} ${pathname} → ${status}`,
    )
    return call as Call
  }

  // The admin API in five minutes
  const project = next('POST', `${api}/projects`, 201).json
  expect(project).toMatchObject({
    id: expect.stringMatching(/^[0-9a-f]{24}$/),
    name: 'Game store',
    default_currency: 'USD',
    success_url: 'https://shop.example.com/thanks',
    sales_email: 'sales@example.com',
  })
  const product = next('POST', `${api}/products`, 201).json
  expect(product).toMatchObject({
    id: expect.stringMatching(/^[0-9a-f]{24}$/),
    project_id: project.id,
    name: 'Sword',
    sku: '1001',
  })
  expect(product.prices).toEqual(
    expect.arrayContaining([
      { currency: 'USD', amount: 1999 },
      { currency: 'JPY', amount: 2500 },
    ]),
  )
  expect(product.prices).toHaveLength(2)
  const paylink = next('POST', `${api}/paylinks`, 200).json
  expect(paylink).toMatchObject({
    id: expect.stringMatching(/^[0-9a-f]{32}$/),
    project_id: project.id,
    products: [product.id],
  })
  expect(next('GET', `${api}/paylinks/${paylink.id}`, 200).json).toMatchObject({ id: paylink.id })
  const url = next('GET', `${api}/paylinks/${paylink.id}/url`, 200).json.url
  expect(url).toBe(
    `http://localhost:${server.port}/paylink/${paylink.id}?utm_campaign=spring&utm_medium=email&utm_source=newsletter`,
  )
  const visit = next('GET', `/paylink/${paylink.id}`, 302)
  expect(visit.location).toMatch(
    new RegExp(`^http://localhost:${server.port}/pay/ord_[0-9a-f]{24}\\?utm_campaign=spring`),
  )
  expect(next('GET', `${api}/paylinks/${paylink.id}/stat`, 200).json).toMatchObject({
    visits: 1,
    orders: 1,
    paid_orders: 0,
  })
  const list = next('GET', `${api}/paylinks/project/${project.id}`, 200).json
  expect(list.paylinks.map((p: { id: string }) => p.id)).toEqual([paylink.id])
  const all = next('GET', `${api}/paylinks`, 200).json
  // The merchant's links across its projects: the demo's and the one just made, newest first.
  expect(all).toMatchObject({ count: 2, total: 2 })
  expect(all.items[0].id).toBe(paylink.id)
  const updated = next('PUT', `${api}/paylinks/${paylink.id}`, 200).json
  expect(updated.id).toBe(paylink.id)
  expect(updated.expires_at.seconds).toBeGreaterThan(paylink.expires_at.seconds)
  expect(next('DELETE', `${api}/paylinks/${paylink.id}`, 204).stdout).toBe('204\n')

  // Dashboards API: the project's, where the deleted link keeps its figures
  const dashboard = `${api}/projects/${project.id}/dashboard`
  expect(next('GET', `${dashboard}/summary`, 200).json).toMatchObject({
    visits: 1,
    orders: 1,
    paid_orders: 0,
  })
  expect(next('GET', `${dashboard}/country`, 200).json).toMatchObject({ top: expect.any(Array) })
  expect(next('GET', `${dashboard}/paylink`, 200).json.top).toEqual([
    expect.objectContaining({ paylink_id: paylink.id, deleted: true, visits: 1 }),
  ])

  // Portal billing
  const portal = next('POST', `${api}/portals`, 201).json
  expect(portal).toMatchObject({
    id: expect.stringMatching(/^por_/),
    project_id: project.id,
    name: 'acme.cloud',
  })
  const portalKey = next('POST', `${api}/portals/${portal.id}/keys`, 201).json
  expect(portalKey.key).toMatch(/^sk-[0-9a-f]{64}$/)
  const pay = next('PUT', '/api/2.0/portal/payment/url', 200).json
  expect(pay).toMatchObject({
    response: expect.stringMatching(new RegExp(`^http://localhost:${server.port}/pay/ord_[0-9a-f]{24}`)),
    status: 0,
    statusCode: 200,
  })

  // Webhooks
  const webhook = next('POST', `${api}/webhooks`, 201).json
  expect(webhook).toMatchObject({
    id: expect.stringMatching(/^we_/),
    url: 'https://example.com/paylinks-events',
    events: ['order.paid', 'order.expired'],
    secret: expect.stringMatching(/^whsec_/),
  })
  const rotated = next('POST', `${api}/webhooks/${webhook.id}/rotate-secret`, 200).json
  expect(rotated.secret).toMatch(/^whsec_/)
  expect(rotated.secret).not.toBe(webhook.secret)
  expect(next('GET', `${api}/webhooks/${webhook.id}/deliveries`, 200).json).toMatchObject({ total: 0 })

  // Every call was checked: a command added to the README needs its expectation here.
  expect(checked).toBe(calls.length)

  // What the walk-through left behind, read back from the server.
  const auth = { authorization: `Bearer ${key}` }
  expect((await fetchJson(`${server.baseUrl}${api}/paylinks/${paylink.id}`, auth)).status).toBe(404)
  const order = await fetchJson(`${server.baseUrl}${api}/orders?project_id=${project.id}`, auth)
  expect(order.body.total).toBe(2)
  // `keep` showed each created object to the reader (on stderr) before keeping its field.
  expect(run.stderr).toContain(`"id": "${project.id}"`)
  expect(run.stderr).toContain(`"secret": "${webhook.secret}"`)
})
