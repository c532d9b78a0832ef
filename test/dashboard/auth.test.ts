// Signing in to the dashboard: password hashing, database sessions, cookie flags, CSRF, rate limits,
// expiry and sign-out, on the real database.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { hashKey } from '../../src/lib/keys.js'
import { SESSION_IDLE_MS } from '../../src/modules/users/service.js'
import { createTestContext, type TestContext } from '../helpers/context.js'
import { alertOf, DashboardClient } from '../helpers/dashboard.js'
import { createMerchant, type TestMerchant } from '../helpers/factories.js'

const PASSWORD = 'a long enough secret'
let ctx: TestContext
let merchant: TestMerchant
let ipCounter = 10
/** Each test signs in from its own address, so the per-client limit of one test does not touch another. */
const client = () => new DashboardClient(ctx.app, `192.0.2.${ipCounter++}`)

beforeAll(async () => {
  ctx = await createTestContext()
  merchant = await createMerchant(ctx.services, 'Signin Co')
  await ctx.services.users.create({ merchantId: merchant.id, email: 'Ada@Example.com', password: PASSWORD })
})
afterAll(() => ctx.close())

const sessions = () => ctx.services.database.db.selectFrom('user_sessions').selectAll().execute()

describe('users', () => {
  it('stores a scrypt hash in PHC form, never the password, and the email in lower case', async () => {
    const user = await ctx.services.database.db
      .selectFrom('users')
      .selectAll()
      .where('email', '=', 'ada@example.com')
      .executeTakeFirstOrThrow()
    expect(user.password_hash).toMatch(/^\$scrypt\$ln=15,r=8,p=3\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/)
    expect(user.password_hash).not.toContain(PASSWORD)
    expect(user.id).toMatch(/^usr_[0-9a-f]{24}$/)
  })

  it('refuses a bad email, a short password, a taken email and an unknown merchant, naming each', async () => {
    const create = (input: Partial<Parameters<typeof ctx.services.users.create>[0]>) =>
      ctx.services.users.create({
        merchantId: merchant.id,
        email: 'x@example.com',
        password: PASSWORD,
        ...input,
      })
    await expect(create({ email: 'not-an-email' })).rejects.toMatchObject({
      code: 'validation_failed',
      message: 'email: must be a valid email address of at most 254 characters',
    })
    await expect(create({ password: 'short' })).rejects.toMatchObject({
      code: 'validation_failed',
      message: 'password: must be at least 10 characters',
    })
    await expect(create({ email: 'ADA@example.com' })).rejects.toMatchObject({
      code: 'conflict',
      message: 'email: ada@example.com already belongs to a user',
    })
    await expect(create({ merchantId: 'f'.repeat(24) })).rejects.toMatchObject({ code: 'merchant_not_found' })
    const count = await ctx.services.database.db
      .selectFrom('users')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .executeTakeFirstOrThrow()
    expect(Number(count.n)).toBe(1)
  })
})

describe('sign-in', () => {
  it('sends a signed-out visitor to the sign-in form, then back to the page asked for', async () => {
    const me = client()
    const page = await me.get('/dashboard/orders?status=paid')
    expect(page.statusCode).toBe(303)
    expect(page.headers.location).toBe('/dashboard/login?next=%2Fdashboard%2Forders%3Fstatus%3Dpaid')
    const form = await me.get(page.headers.location as string)
    expect(form.statusCode).toBe(200)
    expect(form.body).toContain('name="next" value="/dashboard/orders?status=paid"')
    const signedIn = await me.post('/dashboard/login', {
      email: ' ADA@example.com ',
      password: PASSWORD,
      next: '/dashboard/orders?status=paid',
    })
    expect(signedIn.statusCode).toBe(303)
    expect(signedIn.headers.location).toBe('/dashboard/orders?status=paid')
    const orders = await me.get('/dashboard/orders?status=paid')
    expect(orders.statusCode).toBe(200)
    expect(orders.body).toContain('ada@example.com')
  })

  it('sets an HttpOnly, Secure, SameSite=Lax __Host- cookie whose token the database keeps only as a hash', async () => {
    const me = client()
    const response = await me.signIn('ada@example.com', PASSWORD)
    const cookie = [response.headers['set-cookie']]
      .flat()
      .find((c) => c?.startsWith('__Host-paylinks_session='))
    expect(cookie).toBeDefined()
    expect(cookie).toMatch(/; Path=\/(;|$)/)
    expect(cookie).toContain('HttpOnly')
    expect(cookie).toContain('Secure')
    expect(cookie).toContain('SameSite=Lax')
    expect(cookie).toContain('Max-Age=604800')
    const token = me.cookies.get('__Host-paylinks_session') as string
    expect(token).toMatch(/^[0-9a-f]{64}$/)
    const stored = await sessions()
    expect(stored.some((s) => s.id === hashKey(token))).toBe(true)
    expect(stored.some((s) => s.id === token)).toBe(false)
    expect(stored.find((s) => s.id === hashKey(token))?.ip).toBe(me.ip)
  })

  it('answers a wrong password and an unknown email alike, and opens no session', async () => {
    const before = (await sessions()).length
    for (const [email, password] of [
      ['ada@example.com', 'wrong password!'],
      ['nobody@example.com', PASSWORD],
    ] as const) {
      const response = await client().signIn(email, password)
      expect(response.statusCode).toBe(401)
      expect(alertOf(response.body)).toBe('Wrong email or password.')
      expect(response.headers['set-cookie']?.toString() ?? '').not.toContain('paylinks_session')
    }
    const empty = await client().signIn('', '')
    expect(empty.statusCode).toBe(400)
    expect(alertOf(empty.body)).toBe('Enter your email and your password.')
    expect((await sessions()).length).toBe(before)
  })

  it('refuses a sign-in form without its CSRF token', async () => {
    const me = client()
    await me.get('/dashboard/login')
    const before = (await sessions()).length
    const response = await me.post('/dashboard/login', {
      _csrf: null,
      email: 'ada@example.com',
      password: PASSWORD,
    })
    expect(response.statusCode).toBe(403)
    expect(response.body).toContain('This form has expired')
    const forged = await me.post('/dashboard/login', {
      _csrf: 'forged',
      email: 'ada@example.com',
      password: PASSWORD,
    })
    expect(forged.statusCode).toBe(403)
    expect((await sessions()).length).toBe(before)
  })

  it('never redirects to another site after sign-in', async () => {
    for (const next of [
      'https://evil.example/x',
      '//evil.example',
      '/dashboard//evil.example',
      '/admin/api/v1',
      '/dashboardx',
    ]) {
      const response = await client().signIn('ada@example.com', PASSWORD, next)
      expect(response.headers.location).toBe('/dashboard/projects')
    }
  })

  it('locks an email for 15 minutes after 10 failures, from any address, without locking others', async () => {
    await ctx.services.users.create({
      merchantId: merchant.id,
      email: 'target@example.com',
      password: PASSWORD,
    })
    for (let i = 0; i < 10; i++) {
      expect((await client().signIn('target@example.com', `guess number ${i}`)).statusCode).toBe(401)
    }
    const locked = await client().signIn('target@example.com', PASSWORD)
    expect(locked.statusCode).toBe(429)
    expect(alertOf(locked.body)).toBe('Too many failed sign-ins for this email. Try again in 15 minutes.')
    expect((await client().signIn('ada@example.com', PASSWORD)).statusCode).toBe(303)
  })

  it('limits one client to 20 sign-in attempts a minute', async () => {
    const me = client()
    await me.get('/dashboard/login')
    const statuses: number[] = []
    for (let i = 0; i < 21; i++) {
      statuses.push(
        (await me.post('/dashboard/login', { email: `someone${i}@example.com`, password: 'x' })).statusCode,
      )
    }
    expect(statuses.slice(0, 20).every((s) => s === 401)).toBe(true)
    expect(statuses[20]).toBe(429)
  })
})

describe('sessions', () => {
  it('ends after 12 idle hours, but not while in use', async () => {
    const me = client()
    await me.signIn('ada@example.com', PASSWORD)
    ctx.clock.advance(SESSION_IDLE_MS - 60_000)
    expect((await me.get('/dashboard/projects')).statusCode).toBe(200)
    ctx.clock.advance(SESSION_IDLE_MS - 60_000)
    expect((await me.get('/dashboard/projects')).statusCode).toBe(200)
    ctx.clock.advance(SESSION_IDLE_MS + 1000)
    const expired = await me.get('/dashboard/projects')
    expect(expired.statusCode).toBe(303)
    expect(expired.headers.location).toMatch(/^\/dashboard\/login/)
  })

  it('signs out: the cookie is cleared and the old token no longer opens pages', async () => {
    const me = client()
    await me.signIn('ada@example.com', PASSWORD)
    const token = me.cookies.get('__Host-paylinks_session') as string
    await me.get('/dashboard/projects')
    const out = await me.post('/dashboard/logout')
    expect(out.statusCode).toBe(303)
    expect(out.headers.location).toBe('/dashboard/login')
    expect(me.cookies.has('__Host-paylinks_session')).toBe(false)
    me.cookies.set('__Host-paylinks_session', token)
    expect((await me.get('/dashboard/projects')).statusCode).toBe(303)
  })

  it('ends every session of a user whose password is set again', async () => {
    const me = client()
    await me.signIn('ada@example.com', PASSWORD)
    await ctx.services.users.setPassword('ada@example.com', 'another long secret')
    expect((await me.get('/dashboard/projects')).statusCode).toBe(303)
    expect((await client().signIn('ada@example.com', PASSWORD)).statusCode).toBe(401)
    expect((await client().signIn('ada@example.com', 'another long secret')).statusCode).toBe(303)
  })

  it('does not let the admin API be called with a forged in-process credential', async () => {
    for (const value of [`${'0'.repeat(64)} ${merchant.id}`, merchant.id, '']) {
      const response = await ctx.app.inject({
        method: 'GET',
        url: '/admin/api/v1/projects',
        headers: { 'x-paylinks-internal': value },
      })
      expect(response.statusCode).toBe(401)
      expect(response.json()).toMatchObject({
        code: 'unauthorized',
        message: 'invalid in-process credential',
      })
    }
  })
})
