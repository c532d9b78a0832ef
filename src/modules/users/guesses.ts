// The per-email limit on password guesses, kept in the database so that every server instance shares
// it. A guess is reserved before its password is checked, in one atomic upsert that refuses past the
// limit: however many requests run in parallel, in however many processes, at most GUESS_LIMIT
// passwords are checked per email per window.
import { sql } from 'kysely'
import type { Db } from '../../lib/db.js'
import { hashKey } from '../../lib/keys.js'
import type { Clock } from '../../lib/time.js'

/** Passwords checked per email in one window; the next guess waits for the window's end. */
export const GUESS_LIMIT = 10
/** A window is fixed: it starts at its first guess and ends this long after, whatever follows. */
export const GUESS_WINDOW_MS = 15 * 60 * 1000

/** A reserved guess: the right to check one password for the email, in its window. */
export interface Guess {
  emailHash: string
  windowStart: Date
}

export type Reservation = { guess: Guess } | { locked: true; retryAfterMs: number }

export class PasswordGuesses {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
  ) {}

  /**
   * Reserves one guess for the (normalised) email, known or not, or says how long until the email's
   * window ends. A reserved guess counts as failed unless `release` gives it back.
   */
  async reserve(email: string): Promise<Reservation> {
    const emailHash = hashKey(email)
    const now = this.clock.now()
    const ended = new Date(now.getTime() - GUESS_WINDOW_MS)
    // The row is locked by the conflict, so its count is read and raised in one step; the WHERE turns
    // the upsert into nothing when the window is full.
    const row = await this.db
      .insertInto('sign_in_attempts')
      .values({ email_hash: emailHash, window_start: now, guesses: 1 })
      .onConflict((oc) =>
        oc
          .column('email_hash')
          .doUpdateSet({
            window_start: sql<Date>`CASE WHEN sign_in_attempts.window_start <= ${ended}
              THEN excluded.window_start ELSE sign_in_attempts.window_start END`,
            guesses: sql<number>`CASE WHEN sign_in_attempts.window_start <= ${ended}
              THEN 1 ELSE sign_in_attempts.guesses + 1 END`,
          })
          .where((eb) =>
            eb.or([
              eb('sign_in_attempts.window_start', '<=', ended),
              eb('sign_in_attempts.guesses', '<', GUESS_LIMIT),
            ]),
          ),
      )
      .returning(['window_start'])
      .executeTakeFirst()
    if (row) return { guess: { emailHash, windowStart: row.window_start } }
    const full = await this.db
      .selectFrom('sign_in_attempts')
      .select('window_start')
      .where('email_hash', '=', emailHash)
      .executeTakeFirst()
    // The row may have been pruned since: then a fresh window starts with the next try.
    const endsAt = (full?.window_start.getTime() ?? now.getTime()) + GUESS_WINDOW_MS
    return { locked: true, retryAfterMs: Math.max(0, endsAt - now.getTime()) }
  }

  /**
   * Gives a guess back: its password was right, or it was never checked. Only the guess's own window
   * is touched, and an emptied window is removed, so the next failure starts a window of its own.
   */
  async release(guess: Guess): Promise<void> {
    const row = await this.db
      .updateTable('sign_in_attempts')
      .set({ guesses: sql<number>`guesses - 1` })
      .where('email_hash', '=', guess.emailHash)
      .where('window_start', '=', guess.windowStart)
      .where('guesses', '>', 0)
      .returning('guesses')
      .executeTakeFirst()
    if (row?.guesses !== 0) return
    // A guess reserved in between raised the count again, and keeps the row.
    await this.db
      .deleteFrom('sign_in_attempts')
      .where('email_hash', '=', guess.emailHash)
      .where('window_start', '=', guess.windowStart)
      .where('guesses', '=', 0)
      .execute()
  }

  /** Deletes windows that have ended. */
  async prune(): Promise<number> {
    const ended = new Date(this.clock.now().getTime() - GUESS_WINDOW_MS)
    const result = await this.db
      .deleteFrom('sign_in_attempts')
      .where('window_start', '<=', ended)
      .executeTakeFirst()
    return Number(result.numDeletedRows)
  }
}
