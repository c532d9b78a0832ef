// Password hashing with scrypt from node:crypto, stored in PHC string form so that the cost can be
// raised later while old hashes still verify. The parameters follow OWASP's scrypt guidance
// (N=2^15, r=8, p=3: 32 MiB per hash, about 100 ms on one core).
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto'
import { promisify } from 'node:util'
import { AppError } from '../../lib/errors.js'

const scryptAsync = promisify(scrypt) as (
  password: string,
  salt: Buffer,
  keylen: number,
  options: { N: number; r: number; p: number; maxmem: number },
) => Promise<Buffer>

interface Params {
  ln: number
  r: number
  p: number
}

export const PASSWORD_PARAMS: Params = { ln: 15, r: 8, p: 3 }
export const PASSWORD_MIN_LENGTH = 10
export const PASSWORD_MAX_LENGTH = 200
const KEY_LENGTH = 32
const PHC = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/

/**
 * What a caller does when every hashing slot is taken: a request fails at once past a short queue (the
 * person tries again in a moment), an operator's command waits for its turn however long the queue.
 */
export type HashTurn = 'fail-fast' | 'wait'

/** Hashes run at once; the rest of libuv's threadpool (4 threads by default) stays free. */
export const HASH_SLOTS = 2
/** Requests that may wait for a slot; each wait is a few hashes long, then the answer is a 503. */
export const HASH_QUEUE = 8
/** What a refused request is told to wait, in seconds: a slot frees within a fraction of that. */
export const HASH_RETRY_AFTER_S = 1

/**
 * A counting semaphore for scrypt. scrypt runs on libuv's threadpool, which file reads (static assets,
 * templates) and DNS lookups share: unbounded, a burst of sign-ins queued them behind every hash and
 * held 32 MiB per hash. Per process, since the threadpool and the memory are.
 */
class HashSlots {
  private running = 0
  private readonly waiting: (() => void)[] = []

  constructor(
    private readonly slots: number,
    private readonly queue: number,
  ) {}

  async run<T>(turn: HashTurn, task: () => Promise<T>): Promise<T> {
    if (this.running < this.slots) this.running++
    else if (turn === 'wait' || this.waiting.length < this.queue) {
      // The slot is handed over by the task that frees it (below), so `running` stays counted.
      await new Promise<void>((resolve) => this.waiting.push(resolve))
    } else {
      throw new AppError('service_unavailable', 'too many passwords are being checked at once', {
        retry_after_seconds: HASH_RETRY_AFTER_S,
      })
    }
    try {
      return await task()
    } finally {
      const next = this.waiting.shift()
      if (next) next()
      else this.running--
    }
  }

  load(): { running: number; waiting: number } {
    return { running: this.running, waiting: this.waiting.length }
  }
}

const slots = new HashSlots(HASH_SLOTS, HASH_QUEUE)

/** How many hashes run and wait in this process now (for logs and tests). */
export const hashingLoad = () => slots.load()

/** True for the error a hash throws when its request found every slot and the queue taken. */
export const isHashingBusy = (error: unknown): error is AppError =>
  error instanceof AppError && error.code === 'service_unavailable'

function derive(
  password: string,
  salt: Buffer,
  params: Params,
  length: number,
  turn: HashTurn,
): Promise<Buffer> {
  const N = 2 ** params.ln
  // scrypt needs 128·N·r bytes; leave room above that for its bookkeeping.
  return slots.run(turn, () =>
    scryptAsync(password.normalize('NFKC'), salt, length, {
      N,
      r: params.r,
      p: params.p,
      maxmem: 256 * N * params.r,
    }),
  )
}

const b64 = (buffer: Buffer) => buffer.toString('base64').replace(/=+$/, '')

export async function hashPassword(
  password: string,
  params: Params = PASSWORD_PARAMS,
  turn: HashTurn = 'fail-fast',
): Promise<string> {
  const salt = randomBytes(16)
  const hash = await derive(password, salt, params, KEY_LENGTH, turn)
  return `$scrypt$ln=${params.ln},r=${params.r},p=${params.p}$${b64(salt)}$${b64(hash)}`
}

/** True when the password matches the stored hash; false for a wrong password or a malformed hash. */
export async function verifyPassword(
  password: string,
  stored: string,
  turn: HashTurn = 'fail-fast',
): Promise<boolean> {
  const match = PHC.exec(stored)
  if (!match) return false
  const [, ln, r, p, salt, hash] = match as unknown as [string, string, string, string, string, string]
  const expected = Buffer.from(hash, 'base64')
  const actual = await derive(
    password,
    Buffer.from(salt, 'base64'),
    { ln: Number(ln), r: Number(r), p: Number(p) },
    expected.length,
    turn,
  )
  return timingSafeEqual(actual, expected)
}

/**
 * A stored-hash look-alike with the current parameters, verified against when the email is unknown so
 * that timing says nothing. Random bytes, not a real hash: no password matches it, and making it costs
 * no hashing slot.
 */
const DECOY = `$scrypt$ln=${PASSWORD_PARAMS.ln},r=${PASSWORD_PARAMS.r},p=${PASSWORD_PARAMS.p}$${b64(randomBytes(16))}$${b64(randomBytes(KEY_LENGTH))}`
export const decoyHash = (): string => DECOY

/** Why a new password is refused, or undefined when it is acceptable. */
export function passwordProblem(password: string): string | undefined {
  const length = [...password].length
  if (length < PASSWORD_MIN_LENGTH) return `must be at least ${PASSWORD_MIN_LENGTH} characters`
  if (length > PASSWORD_MAX_LENGTH) return `must be at most ${PASSWORD_MAX_LENGTH} characters`
  if (password.trim() !== password) return 'must not start or end with a space'
  return undefined
}

/** A password for people to copy: 20 characters from an alphabet without look-alikes (about 110 bits). */
export function generatePassword(): string {
  const alphabet = 'abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789'
  const bytes = randomBytes(40)
  let out = ''
  for (const byte of bytes) {
    // 56 symbols: reject bytes ≥ 224 so every symbol is equally likely.
    if (byte < 224) out += alphabet[byte % 56]
    if (out.length === 20) return out
  }
  return out + generatePassword().slice(out.length)
}
