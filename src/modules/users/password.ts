// Password hashing with scrypt from node:crypto, stored in PHC string form so that the cost can be
// raised later while old hashes still verify. The parameters follow OWASP's scrypt guidance
// (N=2^15, r=8, p=3: 32 MiB per hash, about 100 ms on one core).
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto'
import { promisify } from 'node:util'

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

function derive(password: string, salt: Buffer, params: Params, length: number): Promise<Buffer> {
  const N = 2 ** params.ln
  // scrypt needs 128·N·r bytes; leave room above that for its bookkeeping.
  return scryptAsync(password.normalize('NFKC'), salt, length, {
    N,
    r: params.r,
    p: params.p,
    maxmem: 256 * N * params.r,
  })
}

const b64 = (buffer: Buffer) => buffer.toString('base64').replace(/=+$/, '')

export async function hashPassword(password: string, params: Params = PASSWORD_PARAMS): Promise<string> {
  const salt = randomBytes(16)
  const hash = await derive(password, salt, params, KEY_LENGTH)
  return `$scrypt$ln=${params.ln},r=${params.r},p=${params.p}$${b64(salt)}$${b64(hash)}`
}

/** True when the password matches the stored hash; false for a wrong password or a malformed hash. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const match = PHC.exec(stored)
  if (!match) return false
  const [, ln, r, p, salt, hash] = match as unknown as [string, string, string, string, string, string]
  const expected = Buffer.from(hash, 'base64')
  const actual = await derive(
    password,
    Buffer.from(salt, 'base64'),
    { ln: Number(ln), r: Number(r), p: Number(p) },
    expected.length,
  )
  return timingSafeEqual(actual, expected)
}

/** A hash of a random password, verified against when the email is unknown so that timing says nothing. */
let decoy: Promise<string> | undefined
export function decoyHash(): Promise<string> {
  decoy ??= hashPassword(randomBytes(16).toString('hex'))
  return decoy
}

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
