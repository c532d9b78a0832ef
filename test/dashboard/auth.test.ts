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

describe('your account', () => {
  const NEW_PASSWORD = 'a brand new passphrase'
  const openSessions = async (email: string) =>
    ctx.services.database.db
      .selectFrom('user_sessions as s')
      .innerJoin('users as u', 'u.id', 's.user_id')
      .select(['s.id', 's.revoked_at'])
      .where('u.email', '=', email)
      .where('s.revoked_at', 'is', null)
      .execute()

  it('changes the password after checking the current one, and signs out the other browsers', async () => {
    await ctx.services.users.create({
      merchantId: merchant.id,
      email: 'grace@example.com',
      password: PASSWORD,
    })
    const laptop = client()
    const phone = client()
    await laptop.signIn('grace@example.com', PASSWORD)
    await phone.signIn('grace@example.com', PASSWORD)
    const page = await laptop.get('/dashboard/account')
    expect(page.statusCode).toBe(200)
    expect(page.body).toContain('this browser')
    expect(page.body).toContain('192.0.2.') // both addresses are listed
    expect((page.body.match(/name="session" value="[0-9a-f]{64}"/g) ?? []).length).toBe(1)

    const cases: [Record<string, string>, string][] = [
      [
        { current_password: 'not it at all', password: NEW_PASSWORD, repeat_password: NEW_PASSWORD },
        'current_password: is not your current password',
      ],
      [
        { current_password: PASSWORD, password: 'short', repeat_password: 'short' },
        'password: must be at least 10 characters',
      ],
      [
        { current_password: PASSWORD, password: NEW_PASSWORD, repeat_password: `${NEW_PASSWORD}!` },
        'repeat_password: must repeat the new password',
      ],
      [
        { current_password: PASSWORD, password: PASSWORD, repeat_password: PASSWORD },
        'password: must differ from the current password',
      ],
    ]
    for (const [form, message] of cases) {
      const response = await laptop.post('/dashboard/account/password', form)
      expect(response.statusCode, message).toBe(400)
      expect(alertOf(response.body)).toBe(message)
      expect(response.body).toContain('aria-invalid="true"')
      // What was typed in password fields is never sent back.
      expect(response.body).not.toContain(`value="${form.password}"`)
    }
    // Nothing changed: both browsers are still in, and the old password still works.
    expect(await openSessions('grace@example.com')).toHaveLength(2)
    expect((await phone.get('/dashboard/projects')).statusCode).toBe(200)

    const changed = await laptop.post('/dashboard/account/password', {
      current_password: PASSWORD,
      password: NEW_PASSWORD,
      repeat_password: NEW_PASSWORD,
    })
    expect(changed.statusCode).toBe(303)
    expect(changed.headers.location).toBe('/dashboard/account?notice=password_changed')
    expect((await laptop.get('/dashboard/account')).statusCode).toBe(200)
    expect((await phone.get('/dashboard/projects')).statusCode).toBe(303)
    expect(await openSessions('grace@example.com')).toHaveLength(1)
    expect((await client().signIn('grace@example.com', PASSWORD)).statusCode).toBe(401)
    expect((await client().signIn('grace@example.com', NEW_PASSWORD)).statusCode).toBe(303)
  })

  it('signs out one other browser or all of them, but never another user’s', async () => {
    await ctx.services.users.create({
      merchantId: merchant.id,
      email: 'linus@example.com',
      password: PASSWORD,
    })
    await ctx.services.users.create({ merchantId: merchant.id, email: 'ken@example.com', password: PASSWORD })
    const [desk, tablet, train] = [client(), client(), client()]
    for (const browser of [desk, tablet, train]) await browser.signIn('linus@example.com', PASSWORD)
    const ken = client()
    await ken.signIn('ken@example.com', PASSWORD)
    const kens = (await openSessions('ken@example.com'))[0]?.id as string
    const tabletSession = hashKey(tablet.cookies.get('__Host-paylinks_session') as string)

    await desk.get('/dashboard/account')
    // Ken's session is not Linus's to end: not found, and Ken stays signed in.
    expect((await desk.post('/dashboard/account/sessions/revoke', { session: kens })).statusCode).toBe(404)
    expect((await desk.post('/dashboard/account/sessions/revoke', { session: 'nope' })).statusCode).toBe(404)
    expect((await ken.get('/dashboard/projects')).statusCode).toBe(200)

    const one = await desk.post('/dashboard/account/sessions/revoke', { session: tabletSession })
    expect(one.statusCode).toBe(303)
    expect(one.headers.location).toBe('/dashboard/account?notice=sessions_revoked')
    expect((await tablet.get('/dashboard/projects')).statusCode).toBe(303)
    expect((await train.get('/dashboard/projects')).statusCode).toBe(200)

    await desk.get('/dashboard/account')
    expect((await desk.post('/dashboard/account/sessions/revoke', { session: 'others' })).statusCode).toBe(
      303,
    )
    expect((await train.get('/dashboard/projects')).statusCode).toBe(303)
    expect((await desk.get('/dashboard/projects')).statusCode).toBe(200)
    expect(await openSessions('linus@example.com')).toHaveLength(1)
    expect((await ken.get('/dashboard/projects')).statusCode).toBe(200)
  })
})
