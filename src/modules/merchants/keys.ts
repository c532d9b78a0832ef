// Merchant secret keys: `pl_sk_` and 48 hex, shown once.
import { randomBytes } from 'node:crypto'

export { hashesEqual, hashKey } from '../../lib/keys.js'

export const SECRET_KEY_PREFIX = 'pl_sk_'
const SECRET_KEY_PATTERN = /^pl_sk_[0-9a-f]{48}$/

export function newSecretKey(): string {
  return SECRET_KEY_PREFIX + randomBytes(24).toString('hex')
}

export function isWellFormedSecretKey(key: string): boolean {
  return SECRET_KEY_PATTERN.test(key)
}

/** Enough of a key for a person to recognise it in a list, far too little to use it. */
export function displayPrefix(key: string): string {
  return key.slice(0, SECRET_KEY_PREFIX.length + 6)
}
