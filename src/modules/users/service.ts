// Dashboard users: accounts that act for one merchant, signed in with email and password, and their
// sessions. A session is a random token in a cookie; the database keeps only its SHA-256. Every check of
// a password (sign-in, the current password on the account page) spends one of the email's guesses.
import { randomBytes } from 'node:crypto'
import type { Db, Executor } from '../../lib/db.js'
import { AppError, invalid } from '../../lib/errors.js'
import { isEmailAddress } from '../../lib/http.js'
import { newObjectId } from '../../lib/ids.js'
import { hashesEqual, hashKey } from '../../lib/keys.js'
import { isUniqueViolation } from '../../lib/pg-errors.js'
import type { UserRow } from '../../lib/schema.js'
import { type Clock, DAY_MS } from '../../lib/time.js'
import { type Guess, PasswordGuesses } from './guesses.js'
import { decoyHash, hashPassword, isHashingBusy, passwordProblem, verifyPassword } from './password.js'

/** A session ends this long after sign-in, whatever happens. */
export const SESSION_MAX_AGE_MS = 7 * DAY_MS
/** …and earlier when it has not been used for this long. */
export const SESSION_IDLE_MS = 12 * 60 * 60 * 1000
const TOKEN = /^[0-9a-f]{64}$/

/** What the rest of the server knows of a user: never the password hash. */
const USER_COLUMNS = ['id', 'merchant_id', 'email', 'name'] as const
export type User = Pick<UserRow, (typeof USER_COLUMNS)[number]>

/** An open session as its user sees it; `id` is the SHA-256 of the token, which opens nothing by itself. */
export interface SessionInfo {
  id: string
  created_at: Date
  last_seen_at: Date
  expires_at: Date
  ip: string | null
  user_agent: string | null
}

export interface SessionMeta {
  ip?: string | undefined
  userAgent?: string | undefined
}

/** How a sign-in ended; a wrong password and an unknown email are the same outcome. */
export type SignInResult =
  | { outcome: 'signed_in'; user: User; token: string }
  | { outcome: 'wrong' }
  | { outcome: 'locked'; retryAfterMs: number }

export class UserService {
  private readonly guesses: PasswordGuesses

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
  ) {
    this.guesses = new PasswordGuesses(db, clock)
  }

  async create(input: {
    merchantId: string
    email: string
    password: string
    name?: string | undefined
  }): Promise<User> {
    const email = normalizeEmail(input.email)
    if (!isEmailAddress(email) || email.length > 254) {
      throw invalid('email', 'format', 'must be a valid email address of at most 254 characters')
    }
    const problem = passwordProblem(input.password)
    if (problem) throw invalid('password', 'length', problem)
    const name = input.name?.trim() || null
    if (name !== null && name.length > 200)
      throw invalid('name', 'maxLength', 'must be at most 200 characters')
    const merchant = await this.db
      .selectFrom('merchants')
      .select('id')
      .where('id', '=', input.merchantId)
      .executeTakeFirst()
    if (!merchant) throw new AppError('merchant_not_found', `merchant ${input.merchantId} not found`)
    const now = this.clock.now()
    try {
      return await this.db
        .insertInto('users')
        .values({
          id: `usr_${newObjectId(now)}`,
          merchant_id: merchant.id,
          email,
          name,
          // An operator's command (the CLI, the first start) waits for a hashing slot instead of failing.
          password_hash: await hashPassword(input.password, undefined, 'wait'),
          created_at: now,
        })
        .returning(USER_COLUMNS)
        .executeTakeFirstOrThrow()
    } catch (error) {
      if (isUniqueViolation(error, 'users_email_key')) {
        throw new AppError('conflict', `email: ${email} already belongs to a user`, {
          field: 'email',
          rule: 'unique',
        })
      }
      throw error
    }
  }

  /**
   * Checks the password and opens a session. The email's guess is reserved first, so a locked email
   * costs no hashing at all; an unknown email costs the same guess and the same scrypt work as a wrong
   * password, so neither the answer nor its timing tells which emails have accounts. Throws a
   * `service_unavailable` AppError, spending no guess, when too many passwords are being checked.
   */
  async signIn(emailInput: string, password: string, meta: SessionMeta = {}): Promise<SignInResult> {
    const email = normalizeEmail(emailInput)
    const reservation = await this.guesses.reserve(email)
    if ('locked' in reservation) return { outcome: 'locked', retryAfterMs: reservation.retryAfterMs }
    const row = await this.db
      .selectFrom('users')
      .selectAll()
      .where('email', '=', email)
      .where('disabled_at', 'is', null)
      .executeTakeFirst()
    const ok = await this.check(reservation.guess, password, row?.password_hash ?? decoyHash())
    if (!row || !ok) return { outcome: 'wrong' }
    await this.pruneSessions()
    const now = this.clock.now()
    const token = randomBytes(32).toString('hex')
    await this.db.transaction().execute(async (tx) => {
      await tx
        .insertInto('user_sessions')
        .values({
          id: hashKey(token),
          user_id: row.id,
          created_at: now,
          last_seen_at: now,
          expires_at: new Date(now.getTime() + SESSION_MAX_AGE_MS),
          ip: meta.ip ?? null,
          user_agent: meta.userAgent?.slice(0, 300) ?? null,
        })
        .execute()
      await tx.updateTable('users').set({ last_login_at: now }).where('id', '=', row.id).execute()
    })
    return { outcome: 'signed_in', user: pick(row), token }
  }

  /**
   * Checks a password on a reserved guess. A wrong one keeps the guess spent; a right one, or one that
   * could not be checked for want of a hashing slot, gives it back.
   */
  private async check(guess: Guess, password: string, stored: string): Promise<boolean> {
    let ok: boolean
    try {
      ok = await verifyPassword(password, stored)
    } catch (error) {
      if (isHashingBusy(error)) await this.guesses.release(guess)
      throw error
    }
    if (ok) await this.guesses.release(guess)
    return ok
  }

  /** The user of a live session, or undefined for an unknown, revoked, expired or idle one. */
  async sessionUser(token: string | undefined): Promise<User | undefined> {
    if (!token || !TOKEN.test(token)) return undefined
    const id = hashKey(token)
    const now = this.clock.now()
    const row = await this.db
      .selectFrom('user_sessions as s')
      .innerJoin('users as u', 'u.id', 's.user_id')
      .select(['s.id as session_id', 's.last_seen_at', 'u.id', 'u.merchant_id', 'u.email', 'u.name'])
      .where('s.id', '=', id)
      .where('s.revoked_at', 'is', null)
      .where('s.expires_at', '>', now)
      .where('s.last_seen_at', '>', new Date(now.getTime() - SESSION_IDLE_MS))
      .where('u.disabled_at', 'is', null)
      .executeTakeFirst()
    if (!row || !hashesEqual(row.session_id, id)) return undefined
    // Written at most once a minute: a page view should not always cost a write.
    if (now.getTime() - row.last_seen_at.getTime() > 60_000) {
      await this.db.updateTable('user_sessions').set({ last_seen_at: now }).where('id', '=', id).execute()
    }
    return pick(row)
  }

  async signOut(token: string | undefined): Promise<void> {
    if (!token || !TOKEN.test(token)) return
    await this.db
      .updateTable('user_sessions')
      .set({ revoked_at: this.clock.now() })
      .where('id', '=', hashKey(token))
      .where('revoked_at', 'is', null)
      .execute()
  }

  /** Sets a new password and ends every session of the user. */
  async setPassword(emailInput: string, password: string): Promise<User> {
    const problem = passwordProblem(password)
    if (problem) throw invalid('password', 'length', problem)
    const email = normalizeEmail(emailInput)
    const hash = await hashPassword(password, undefined, 'wait')
    return this.db.transaction().execute(async (tx) => {
      const user = await tx
        .updateTable('users')
        .set({ password_hash: hash })
        .where('email', '=', email)
        .returning(USER_COLUMNS)
        .executeTakeFirst()
      if (!user) throw new AppError('validation_failed', `email: no user has the email ${email}`)
      await this.endSessions(tx, user.id)
      return user
    })
  }

  /**
   * Changes a signed-in user's password after checking the current one, and ends the user's other
   * sessions (the one in `keepToken` stays open). Nothing changes when any rule fails. The current
   * password spends the email's guesses like a sign-in, so an open session is no unlimited oracle.
   */
  async changePassword(
    userId: string,
    input: { current: string; password: string; repeat: string },
    keepToken: string | undefined,
  ): Promise<void> {
    const row = await this.db
      .selectFrom('users')
      .select(['email', 'password_hash'])
      .where('id', '=', userId)
      .executeTakeFirstOrThrow()
    const reservation = await this.guesses.reserve(row.email)
    if ('locked' in reservation) {
      throw new AppError(
        'rate_limited',
        `current_password: too many wrong passwords for this email; try again in ${minutes(reservation.retryAfterMs)}`,
        {
          field: 'current_password',
          rule: 'attempts',
          retry_after_seconds: Math.ceil(reservation.retryAfterMs / 1000),
        },
      )
    }
    if (!(await this.check(reservation.guess, input.current, row.password_hash))) {
      throw invalid('current_password', 'match', 'is not your current password')
    }
    const problem = passwordProblem(input.password)
    if (problem) throw invalid('password', 'length', problem)
    if (input.password !== input.repeat)
      throw invalid('repeat_password', 'match', 'must repeat the new password')
    if (input.password === input.current) {
      throw invalid('password', 'different', 'must differ from the current password')
    }
    const hash = await hashPassword(input.password)
    await this.db.transaction().execute(async (tx) => {
      await tx.updateTable('users').set({ password_hash: hash }).where('id', '=', userId).execute()
      await this.endSessions(tx, userId, keepToken)
    })
  }

  /** The user's open sessions, the most recently used first. */
  async sessions(userId: string): Promise<SessionInfo[]> {
    const now = this.clock.now()
    return this.db
      .selectFrom('user_sessions')
      .select(['id', 'created_at', 'last_seen_at', 'expires_at', 'ip', 'user_agent'])
      .where('user_id', '=', userId)
      .where('revoked_at', 'is', null)
      .where('expires_at', '>', now)
      .where('last_seen_at', '>', new Date(now.getTime() - SESSION_IDLE_MS))
      .orderBy('last_seen_at', 'desc')
      .orderBy('id')
      .execute()
  }

  /**
   * Ends one of the user's own sessions (`id` as `sessions` lists it), or with `id` 'others' every one
   * but the session of `keepToken`. Returns how many ended; another user's session is never touched.
   */
  async revokeSessions(userId: string, id: string, keepToken: string | undefined): Promise<number> {
    if (id === 'others') return this.endSessions(this.db, userId, keepToken)
    if (!TOKEN.test(id)) return 0
    const result = await this.db
      .updateTable('user_sessions')
      .set({ revoked_at: this.clock.now() })
      .where('user_id', '=', userId)
      .where('id', '=', id)
      .where('revoked_at', 'is', null)
      .executeTakeFirst()
    return Number(result.numUpdatedRows)
  }

  /** Ends every open session of the user but the one of `keepToken`, if given; returns how many ended. */
  private async endSessions(db: Executor, userId: string, keepToken?: string): Promise<number> {
    const keep = keepToken && TOKEN.test(keepToken) ? hashKey(keepToken) : ''
    const result = await db
      .updateTable('user_sessions')
      .set({ revoked_at: this.clock.now() })
      .where('user_id', '=', userId)
      .where('id', '<>', keep)
      .where('revoked_at', 'is', null)
      .executeTakeFirst()
    return Number(result.numUpdatedRows)
  }

  /** Deletes sessions that ended more than a day ago, and guess windows that have ended. */
  async pruneSessions(): Promise<number> {
    await this.guesses.prune()
    const cutoff = new Date(this.clock.now().getTime() - DAY_MS)
    const result = await this.db
      .deleteFrom('user_sessions')
      .where((eb) =>
        eb.or([
          eb('expires_at', '<', cutoff),
          eb('revoked_at', '<', cutoff),
          eb('last_seen_at', '<', new Date(cutoff.getTime() - SESSION_IDLE_MS)),
        ]),
      )
      .executeTakeFirst()
    return Number(result.numDeletedRows)
  }
}

export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase()
}

/** A wait as people read it, rounded up to whole minutes: "15 minutes", "1 minute". */
export function minutes(ms: number): string {
  const n = Math.max(1, Math.ceil(ms / 60_000))
  return `${n} minute${n === 1 ? '' : 's'}`
}

function pick(row: User): User {
  return { id: row.id, merchant_id: row.merchant_id, email: row.email, name: row.name }
}
