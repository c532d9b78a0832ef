// The limits of signing in, on the real database: the per-email guess count (atomic, shared by every
// instance, a fixed window on the test clock), the bound on password hashing, and where sign-in goes
// next for any `next` it is given.
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildApp } from '../../src/app.js'
import { type Database, openDatabase } from '../../src/lib/db.js'
import { hashKey } from '../../src/lib/keys.js'
import { GUESS_LIMIT, GUESS_WINDOW_MS } from '../../src/modules/users/guesses.js'
import { HASH_QUEUE, HASH_SLOTS } from '../../src/modules/users/password.js'
import { createServices } from '../../src/services.js'
import { createTestContext, type TestContext } from '../helpers/context.js'
import { alertOf, DashboardClient } from '../helpers/dashboard.js'
import { createMerchant, type TestMerchant } from '../helpers/factories.js'

const PASSWORD = 'a long enough secret'
const LOCKED = (minutes: string) => `Too many failed sign-ins for this email. Try again in ${minutes}.`
let ctx: TestContext
let merchant: TestMerchant
let ipCounter = 0
/** Every browser has its own address, so the per-client limit (20 a minute) never gets in the way. */
const client = (app: FastifyInstance = ctx.app) => {
  const n = ipCounter++
  return new DashboardClient(app, `10.0.${Math.floor(n / 250)}.${(n % 250) + 1}`)
}

beforeAll(async () => {
  ctx = await createTestContext()
  merchant = await createMerchant(ctx.services, 'Limits Co')
})
afterAll(() => ctx.close())

const createUser = (email: string) =>
  ctx.services.users.create({ merchantId: merchant.id, email, password: PASSWORD })

/** The stored guess count of an email, or undefined when it has none. */
const stored = (email: string) =>
  ctx.database.db
    .selectFrom('sign_in_attempts')
    .selectAll()
    .where('email_hash', '=', hashKey(email))
    .executeTakeFirst()

const sessionsOf = (email: string) =>
  ctx.database.db
    .selectFrom('user_sessions as s')
    .innerJoin('users as u', 'u.id', 's.user_id')
    .select('s.id')
    .where('u.email', '=', email)
    .execute()

/** Opens the form in every browser first, then sends all their sign-ins at once. */
async function signInAtOnce(
  browsers: DashboardClient[],
  form: (i: number) => { email: string; password: string },
): Promise<LightMyRequestResponse[]> {
  await Promise.all(browsers.map((b) => b.get('/dashboard/login')))
  return Promise.all(browsers.map((b, i) => b.post('/dashboard/login', form(i))))
}

const count = (responses: LightMyRequestResponse[], status: number) =>
  responses.filter((r) => r.statusCode === status).length

describe('POST /dashboard/login: guesses per email', () => {
  it('checks at most 10 of 40 parallel wrong passwords for one email; the others are refused unchecked', async () => {
    // Every reserved guess finds a hashing slot or a place in the queue, so none is answered 503 here.
    expect(HASH_SLOTS + HASH_QUEUE).toBeGreaterThanOrEqual(GUESS_LIMIT)
    await createUser('parallel@example.com')
    const responses = await signInAtOnce(
      Array.from({ length: 40 }, () => client()),
      (i) => ({ email: 'parallel@example.com', password: `wrong guess ${i}` }),
    )
    expect(count(responses, 401)).toBe(GUESS_LIMIT)
    expect(count(responses, 429)).toBe(40 - GUESS_LIMIT)
    for (const response of responses) {
      expect(alertOf(response.body)).toBe(
        response.statusCode === 401 ? 'Wrong email or password.' : LOCKED('15 minutes'),
      )
      if (response.statusCode === 429) expect(response.headers['retry-after']).toBe('900')
    }
    // Only a reserved guess is ever checked, and exactly 10 were reserved.
    expect(await stored('parallel@example.com')).toMatchObject({ guesses: GUESS_LIMIT })
    expect(await sessionsOf('parallel@example.com')).toEqual([])
  })

  it('shares the count between two instances on one database, for an email without an account too', async () => {
    // A second instance with its own connections and its own in-process state, on the same database.
    const database: Database = await openDatabase({ databaseUrl: ctx.databaseUrl, poolSize: 5 })
    const other = await buildApp(createServices(ctx.config, database, ctx.clock))
    try {
      await other.ready()
      const browsers = Array.from({ length: 40 }, (_, i) => client(i % 2 ? other : ctx.app))
      const responses = await signInAtOnce(browsers, (i) => ({
        email: 'Nobody.Here@example.com',
        password: `wrong guess ${i}`,
      }))
      expect(count(responses, 401)).toBe(GUESS_LIMIT)
      expect(count(responses, 429)).toBe(40 - GUESS_LIMIT)
      // Both instances refused some: neither kept a count of its own.
      for (const parity of [0, 1]) {
        const refused = responses.filter((r, i) => i % 2 === parity && r.statusCode === 429)
        expect(refused.length).toBeGreaterThan(0)
      }
      expect(await stored('nobody.here@example.com')).toMatchObject({ guesses: GUESS_LIMIT })
    } finally {
      await other.close()
      await database.close()
    }
  })

  it('refuses even the right password until 15 minutes after the first failure, then signs in', async () => {
    await createUser('clock@example.com')
    const start = ctx.clock.now()
    expect((await client().signIn('clock@example.com', 'wrong guess 0')).statusCode).toBe(401)
    ctx.clock.advance(5 * 60_000)
    for (let i = 1; i < GUESS_LIMIT; i++) {
      expect((await client().signIn('clock@example.com', `wrong guess ${i}`)).statusCode).toBe(401)
    }
    const locked = await client().signIn('clock@example.com', PASSWORD)
    expect(locked.statusCode).toBe(429)
    expect(alertOf(locked.body)).toBe(LOCKED('10 minutes'))
    expect(locked.headers['retry-after']).toBe('600')

    ctx.clock.set(new Date(start.getTime() + GUESS_WINDOW_MS - 1000))
    const stillLocked = await client().signIn('clock@example.com', PASSWORD)
    expect(stillLocked.statusCode).toBe(429)
    expect(alertOf(stillLocked.body)).toBe(LOCKED('1 minute'))
    expect(stillLocked.headers['retry-after']).toBe('1')
    expect(await sessionsOf('clock@example.com')).toEqual([])
    expect(await stored('clock@example.com')).toMatchObject({ guesses: GUESS_LIMIT, window_start: start })

    ctx.clock.advance(1000)
    const me = client()
    const signedIn = await me.signIn('clock@example.com', PASSWORD)
    expect(signedIn.statusCode).toBe(303)
    expect(me.cookies.get('__Host-paylinks_session')).toMatch(/^[0-9a-f]{64}$/)
    expect(await sessionsOf('clock@example.com')).toHaveLength(1)
    // The right password gave its guess back, so the new window is empty and gone.
    expect(await stored('clock@example.com')).toBeUndefined()
  })

  it('gives a right password its guess back without forgiving the failures before it', async () => {
    await createUser('typo@example.com')
    for (let i = 0; i < GUESS_LIMIT - 1; i++) {
      expect((await client().signIn('typo@example.com', `wrong guess ${i}`)).statusCode).toBe(401)
    }
    for (let i = 0; i < 3; i++) {
      expect((await client().signIn('typo@example.com', PASSWORD)).statusCode).toBe(303)
    }
    expect(await stored('typo@example.com')).toMatchObject({ guesses: GUESS_LIMIT - 1 })
    expect((await client().signIn('typo@example.com', 'the last wrong guess')).statusCode).toBe(401)
    expect((await client().signIn('typo@example.com', PASSWORD)).statusCode).toBe(429)
    expect(await sessionsOf('typo@example.com')).toHaveLength(3)
  })
})

describe('POST /dashboard/account/password: the current password', () => {
  it('spends the email’s guesses like sign-in, and changes nothing once they are spent', async () => {
    const user = await createUser('account@example.com')
    const me = client()
    expect((await me.signIn('account@example.com', PASSWORD)).statusCode).toBe(303)
    const hashBefore = await ctx.database.db
      .selectFrom('users')
      .select('password_hash')
      .where('id', '=', user.id)
      .executeTakeFirstOrThrow()
    for (let i = 0; i < GUESS_LIMIT / 2; i++) {
      expect((await client().signIn('account@example.com', `wrong guess ${i}`)).statusCode).toBe(401)
    }
    await me.get('/dashboard/account')
    const change = (current: string) =>
      me.post('/dashboard/account/password', {
        current_password: current,
        password: 'a brand new passphrase',
        repeat_password: 'a brand new passphrase',
      })
    for (let i = 0; i < GUESS_LIMIT / 2; i++) {
      const wrong = await change(`wrong current ${i}`)
      expect(wrong.statusCode).toBe(400)
      expect(alertOf(wrong.body)).toBe('current_password: is not your current password')
    }
    const refused = await change(PASSWORD)
    expect(refused.statusCode).toBe(429)
    expect(refused.headers['retry-after']).toBe('900')
    expect(alertOf(refused.body)).toBe(
      'current_password: too many wrong passwords for this email; try again in 15 minutes',
    )
    expect(refused.body).toContain('aria-invalid="true"')
    expect(await stored('account@example.com')).toMatchObject({ guesses: GUESS_LIMIT })
    const hashAfter = await ctx.database.db
      .selectFrom('users')
      .select('password_hash')
      .where('id', '=', user.id)
      .executeTakeFirstOrThrow()
    expect(hashAfter).toEqual(hashBefore)
    expect((await client().signIn('account@example.com', PASSWORD)).statusCode).toBe(429)
  })
})

describe('password hashing', () => {
  it('answers sign-ins past 2 hashing and 8 waiting with 503 at once, and serves assets meanwhile', async () => {
    const browsers = Array.from({ length: 40 }, () => client())
    await Promise.all(browsers.map((b) => b.get('/dashboard/login')))
    const answered: string[] = []
    let busy: () => void = () => {}
    const firstBusy = new Promise<void>((resolve) => {
      busy = resolve
    })
    const signIns = Promise.all(
      browsers.map(async (b, i) => {
        const response = await b.post('/dashboard/login', {
          email: `busy${i}@example.com`,
          password: PASSWORD,
        })
        answered.push(String(response.statusCode))
        if (response.statusCode === 503) busy()
        return response
      }),
    )
    // Nothing is waited for by time: the first 503 says every slot and the whole queue are taken.
    await Promise.race([firstBusy, signIns])
    expect(answered).toContain('503')
    const operator = ctx.services.users.create({
      merchantId: merchant.id,
      email: 'operator@example.com',
      password: PASSWORD,
    })
    const asset = ctx.app.inject({ method: 'GET', url: '/assets/base.css' }).then((response) => {
      answered.push('asset')
      return response
    })
    const [responses, css] = await Promise.all([signIns, asset])

    expect(css.statusCode).toBe(200)
    expect(css.body.length).toBeGreaterThan(0)
    // The asset did not queue behind the hashes: most of the sign-ins being checked ended after it.
    const checked = count(responses, 401)
    const checkedAfter = answered.slice(answered.indexOf('asset')).filter((s) => s === '401').length
    expect(checkedAfter).toBeGreaterThanOrEqual(HASH_QUEUE / 2)
    expect(checked).toBeGreaterThanOrEqual(HASH_SLOTS + HASH_QUEUE)
    expect(count(responses, 503)).toBe(40 - checked)
    for (const [i, response] of responses.entries()) {
      if (response.statusCode === 401) {
        expect(await stored(`busy${i}@example.com`)).toMatchObject({ guesses: 1 })
        continue
      }
      expect(response.statusCode).toBe(503)
      expect(response.headers['retry-after']).toBe('1')
      expect(alertOf(response.body)).toBe('Too many people are signing in right now. Try again in a moment.')
      expect(response.body).toContain(`value="busy${i}@example.com"`)
      // A sign-in that was not checked spent no guess.
      expect(await stored(`busy${i}@example.com`)).toBeUndefined()
    }
    // An operator's command waits for its turn instead of failing.
    expect(await operator).toMatchObject({ email: 'operator@example.com' })
  })
})

describe('POST /dashboard/login: where it goes next', () => {
  it('signs in with a non-ASCII next and goes to its percent-encoded dashboard path', async () => {
    const me = client()
    const form = await me.get(`/dashboard/login?next=${encodeURIComponent('/dashboard/Ā')}`)
    expect(form.statusCode).toBe(200)
    expect(form.body).toContain('name="next" value="/dashboard/%C4%80"')
    await createUser('unicode@example.com')
    const response = await me.post('/dashboard/login', {
      email: 'unicode@example.com',
      password: PASSWORD,
      next: '/dashboard/Ā',
    })
    expect(response.statusCode).toBe(303)
    expect(response.headers.location).toBe('/dashboard/%C4%80')
    expect(me.cookies.get('__Host-paylinks_session')).toMatch(/^[0-9a-f]{64}$/)
    expect(await sessionsOf('unicode@example.com')).toHaveLength(1)
  })

  it('keeps every next to an encoded dashboard path, or the default', async () => {
    await createUser('next@example.com')
    const cases: [string, string][] = [
      ['/dashboard/orders?status=é', '/dashboard/orders?status=%C3%A9'],
      ['/dashboard/projects#Ā', '/dashboard/projects#%C4%80'],
      ['/dashboard/\uD800', '/dashboard/%EF%BF%BD'],
      ['/dashboard/orders?status=paid', '/dashboard/orders?status=paid'],
      ['/dashboard/../admin/api/v1/projects', '/dashboard/projects'],
      ['/dashboard/%2e%2e/docs', '/dashboard/projects'],
      ['/dashboard/\u0085x', '/dashboard/projects'],
      ['/dashboard/\u00a0', '/dashboard/projects'],
      [`/dashboard/${'a'.repeat(3000)}`, '/dashboard/projects'],
    ]
    for (const [next, location] of cases) {
      const response = await client().signIn('next@example.com', PASSWORD, next)
      expect(response.statusCode, next).toBe(303)
      expect(response.headers.location, next).toBe(location)
      expect(response.cookies.some((c) => c.name === '__Host-paylinks_session')).toBe(true)
    }
    // A NUL anywhere in a form is refused before anything else, naming the field; no one is signed in.
    const nul = await client().signIn('next@example.com', PASSWORD, '/dashboard/\u0000')
    expect(nul.statusCode).toBe(400)
    expect(nul.body).toContain('next: must not contain NUL characters')
    expect(nul.cookies.some((c) => c.name === '__Host-paylinks_session')).toBe(false)
  })
})
