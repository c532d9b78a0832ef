import fs from 'node:fs/promises'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { BROWSER_UA } from '../helpers/buyer.js'
import { fetchJson, freshDatabaseEnv, PROCESS_TIMEOUT, runCli, startServer } from '../helpers/process.js'

let env: Record<string, string>
let cleanup: () => Promise<void>
beforeEach(async () => {
  ;({ env, cleanup } = await freshDatabaseEnv())
})
afterEach(() => cleanup())

describe('paylinks merchant create', { timeout: PROCESS_TIMEOUT }, () => {
  it('prints exactly one JSON object with --json, and the key works', async () => {
    const res = await runCli(
      ['merchant', 'create', '--name', 'Acme', '--email', 'ops@acme.test', '--json'],
      env,
    )
    expect(res.code).toBe(0)
    const lines = res.stdout.trim().split('\n')
    expect(lines).toHaveLength(1)
    const out = JSON.parse(lines[0] as string)
    expect(out).toEqual({
      merchant: { id: expect.stringMatching(/^[0-9a-f]{24}$/), name: 'Acme' },
      api_key: expect.stringMatching(/^pl_sk_[0-9a-f]{48}$/),
    })
    expect(Object.keys(out)).toEqual(['merchant', 'api_key'])
    expect(Object.keys(out.merchant)).toEqual(['id', 'name'])

    const key = await runCli(['key', 'create', '--merchant', out.merchant.id, '--json'], env)
    expect(key.code).toBe(0)
    const created = JSON.parse(key.stdout)
    expect(created).toEqual({ api_key: expect.stringMatching(/^pl_sk_[0-9a-f]{48}$/) })

    // Both keys authenticate against a server on the same database; a revoked one stops working.
    const server = await startServer(env)
    try {
      for (const secret of [out.api_key, created.api_key]) {
        const me = await fetchJson(`${server.baseUrl}/admin/api/v1/merchant`, {
          authorization: `Bearer ${secret}`,
        })
        expect(me.status).toBe(200)
        expect(me.body.name).toBe('Acme')
      }
      const { body: keys } = await fetchJson(`${server.baseUrl}/admin/api/v1/api-keys`, {
        authorization: `Bearer ${out.api_key}`,
      })
      expect(keys.total).toBe(2)
      if (!env.DATABASE_URL) {
        // The embedded database is held by the server: the CLI refuses clearly instead of corrupting it.
        const locked = await runCli(['key', 'revoke', keys.api_keys[0].id], env)
        expect(locked.code).toBe(1)
        expect(locked.stderr).toContain('is in use by another paylinks process')
        expect(locked.stderr).toContain('stop the server')
        await server.stop()
      }
      const revoke = await runCli(['key', 'revoke', keys.api_keys[0].id], env)
      expect(revoke.code).toBe(0)
      expect(revoke.stdout).toContain(`revoked ${keys.api_keys[0].id}`)
    } finally {
      await server.stop()
    }
  })

  it('prints a readable result without --json', async () => {
    const res = await runCli(['merchant', 'create', '--name', 'Acme'], env)
    expect(res.code).toBe(0)
    expect(res.stdout).toMatch(
      /^merchant [0-9a-f]{24} \(Acme\)\napi key \(shown only now\): pl_sk_[0-9a-f]{48}\n$/,
    )
  })

  it.each([
    [['merchant', 'create'], "required option '--name <name>' not specified"],
    [
      ['merchant', 'create', '--name', 'A', '--email', 'nope'],
      'paylinks: email: must be a valid email address',
    ],
    [['key', 'create', '--merchant', 'f'.repeat(24)], `paylinks: merchant ${'f'.repeat(24)} not found`],
    [['key', 'revoke', 'key_missing'], 'paylinks: api key key_missing not found'],
    [['frobnicate'], "unknown command 'frobnicate'"],
  ])('fails clearly for %j', async (args, message) => {
    const res = await runCli(args, env)
    expect(res.code).toBe(1)
    expect(res.stderr).toContain(message)
    expect(res.stdout).toBe('')
  })

  it('exits 1 and names the variable when the configuration is invalid', async () => {
    const res = await runCli(['migrate'], { ...env, PORT: 'eighty' })
    expect(res.code).toBe(1)
    expect(res.stderr).toContain('PORT="eighty": must be an integer from 1 to 65535')
  })
})

describe('paylinks merchant list', { timeout: PROCESS_TIMEOUT }, () => {
  it('lists every merchant with its id, name and creation time, oldest first, as text and as JSON', async () => {
    const empty = await runCli(['merchant', 'list'], env)
    expect(empty).toEqual({
      code: 0,
      stdout: 'no merchants yet; create one with: paylinks merchant create --name NAME\n',
      stderr: '',
    })

    const acme = JSON.parse(
      (await runCli(['merchant', 'create', '--name', 'Acme', '--email', 'ops@acme.test', '--json'], env))
        .stdout,
    )
    const zed = JSON.parse((await runCli(['merchant', 'create', '--name', 'Zed & Co', '--json'], env)).stdout)
    const json = await runCli(['merchant', 'list', '--json'], env)
    expect(json.code).toBe(0)
    expect(json.stdout.trim().split('\n')).toHaveLength(1)
    const listed = JSON.parse(json.stdout)
    const iso = expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
    expect(listed).toEqual({
      merchants: [
        { id: acme.merchant.id, name: 'Acme', email: 'ops@acme.test', created_at: iso },
        { id: zed.merchant.id, name: 'Zed & Co', email: null, created_at: iso },
      ],
    })

    const text = await runCli(['merchant', 'list'], env)
    expect(text.code).toBe(0)
    const lines = text.stdout.trimEnd().split('\n')
    expect(lines[0]).toMatch(/^ID {24}NAME {6}EMAIL {10}CREATED$/)
    expect(lines[1]).toMatch(
      new RegExp(`^${acme.merchant.id}  Acme {6}ops@acme.test  \\d{4}-\\d\\d-\\d\\dT[\\d:]{8}Z$`),
    )
    expect(lines[2]).toMatch(new RegExp(`^${zed.merchant.id}  Zed & Co  - {14}\\d{4}-`))
    expect(lines).toHaveLength(3)
  })
})

describe('paylinks --version', { timeout: PROCESS_TIMEOUT }, () => {
  it.each([['--version'], ['-V']])('%s prints the package version', async (flag) => {
    const { version } = JSON.parse(await fs.readFile(new URL('../../package.json', import.meta.url), 'utf8'))
    expect(await runCli([flag], env)).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' })
  })
})

describe('paylinks migrate and --help', { timeout: PROCESS_TIMEOUT }, () => {
  it('applies migrations once, then reports the database up to date', async () => {
    const first = await runCli(['migrate'], env)
    expect(first.code).toBe(0)
    expect(first.stdout).toMatch(/^applied: 0001_foundation, 0002_paylinks, 0003_checkout/)
    const second = await runCli(['migrate'], env)
    expect(second.stdout).toBe('database is up to date\n')
  })

  it('explains every command', async () => {
    const help = await runCli(['--help'], env)
    expect(help.code).toBe(0)
    for (const command of ['serve', 'migrate', 'merchant', 'key', 'user', 'stats', '--version'])
      expect(help.stdout).toContain(command)
    const create = await runCli(['merchant', 'create', '--help'], env)
    expect(create.stdout).toContain('--json')
  })
})

describe('paylinks user create and user password', { timeout: PROCESS_TIMEOUT }, () => {
  it('creates a user who signs in to the dashboard of a real server, and sets a new password', async () => {
    const merchant = JSON.parse(
      (await runCli(['merchant', 'create', '--name', 'Users Co', '--json'], env)).stdout,
    )
    const created = await runCli(
      ['user', 'create', '--merchant', merchant.merchant.id, '--email', 'Ops@Users.test', '--json'],
      env,
    )
    expect(created.code).toBe(0)
    const out = JSON.parse(created.stdout)
    expect(out).toEqual({
      user: {
        id: expect.stringMatching(/^usr_[0-9a-f]{24}$/),
        email: 'ops@users.test',
        merchant_id: merchant.merchant.id,
      },
      password: expect.stringMatching(/^[a-km-zA-HJ-NP-Z2-9]{20}$/),
    })
    const taken = await runCli(
      ['user', 'create', '--merchant', merchant.merchant.id, '--email', 'ops@users.test'],
      env,
    )
    expect(taken.code).toBe(1)
    expect(taken.stderr).toBe('paylinks: email: ops@users.test already belongs to a user\n')
    const short = await runCli(
      ['user', 'password', '--email', 'ops@users.test', '--password-stdin'],
      env,
      'short\n',
    )
    expect(short.code).toBe(1)
    expect(short.stderr).toBe('paylinks: password: must be at least 10 characters\n')
    const reset = await runCli(
      ['user', 'password', '--email', 'ops@users.test', '--password-stdin'],
      env,
      'a brand new passphrase\n',
    )
    expect(reset.code).toBe(0)
    expect(reset.stdout).toBe('new password set for ops@users.test; their sessions have ended\n')

    const server = await startServer(env)
    try {
      const signIn = async (password: string) => {
        const form = await fetch(`${server.baseUrl}/dashboard/login`)
        const cookie = form.headers
          .getSetCookie()
          .map((c) => c.split(';')[0])
          .join('; ')
        const csrf = /name="_csrf" value="([^"]+)"/.exec(await form.text())?.[1] as string
        return fetch(`${server.baseUrl}/dashboard/login`, {
          method: 'POST',
          redirect: 'manual',
          headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ _csrf: csrf, email: 'ops@users.test', password }),
        })
      }
      expect((await signIn(out.password)).status).toBe(401)
      const ok = await signIn('a brand new passphrase')
      expect(ok.status).toBe(303)
      expect(ok.headers.get('location')).toBe('/dashboard/projects')
    } finally {
      await server.stop()
    }
  })
})

describe('paylinks stats rebuild', { timeout: PROCESS_TIMEOUT }, () => {
  it('recounts the rollups from the raw visits of a real server', async () => {
    const merchant = JSON.parse(
      (await runCli(['merchant', 'create', '--name', 'Acme', '--json'], env)).stdout,
    )
    const auth = { authorization: `Bearer ${merchant.api_key}`, 'content-type': 'application/json' }
    let server = await startServer(env)
    let paylinkId: string
    try {
      const post = async (path: string, body: object) =>
        (
          await fetch(`${server.baseUrl}/admin/api/v1${path}`, {
            method: 'POST',
            headers: auth,
            body: JSON.stringify(body),
          })
        ).json()
      const project = await post('/projects', { name: 'P', default_currency: 'USD' })
      const product = await post('/products', {
        project_id: project.id,
        name: 'Thing',
        prices: [{ currency: 'USD', amount: 500 }],
      })
      const link = await post('/paylinks', { project_id: project.id, products: [product.id], life_days: 7 })
      paylinkId = link.id
      for (let i = 0; i < 3; i++) {
        const res = await fetch(`${server.baseUrl}/paylink/${paylinkId}`, {
          redirect: 'manual',
          headers: { 'user-agent': BROWSER_UA },
        })
        expect(res.status).toBe(302)
      }
    } finally {
      await server.stop()
    }
    const rebuilt = await runCli(['stats', 'rebuild'], env)
    expect(rebuilt.code).toBe(0)
    // Visits and orders share a row. The link has a quarter and a day row of its totals and a day row
    // per key (country, referrer, UTM): 5 rows; its project the same, and 7 rows (1 to 64 days) of the
    // link among its paylinks: 17 rows, more if the visits straddled a quarter of an hour.
    const rows = Number(/^rebuilt (\d+) rollup rows in \d+ ms\n$/.exec(rebuilt.stdout)?.[1])
    expect(rows).toBeGreaterThanOrEqual(17)
    server = await startServer(env)
    try {
      const stat = await fetchJson(`${server.baseUrl}/admin/api/v1/paylinks/${paylinkId}/stat`, auth)
      expect(stat.body).toMatchObject({ visits: 3, unique_visitors: 1, orders: 3, paid_orders: 0 })
    } finally {
      await server.stop()
    }
    // Five process starts on the embedded database: 19 s on an idle machine, more when CI is busy.
  })
})
