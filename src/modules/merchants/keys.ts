// Secret keys: shown once, stored as SHA-256, compared in constant time.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'

export const SECRET_KEY_PREFIX = 'pl_sk_'
const SECRET_KEY_PATTERN = /^pl_sk_[0-9a-f]{48}$/

export function newSecretKey(): string {
  return SECRET_KEY_PREFIX + randomBytes(24).toString('hex')
}

export function isWellFormedSecretKey(key: string): boolean {
  return SECRET_KEY_PATTERN.test(key)
}

export function hashKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex')
}

/** Enough of a key for a person to recognise it in a list, far too little to use it. */
export function displayPrefix(key: string): string {
  return key.slice(0, SECRET_KEY_PREFIX.length + 6)
}

export function hashesEqual(a: string, b: string): boolean {
  const left = Buffer.from(a, 'hex')
  const right = Buffer.from(b, 'hex')
  return left.length === right.length && timingSafeEqual(left, right)
}
