// Random identifiers shaped like Stripe's: a type prefix and base62 characters (`pi_3Nq…`, `cs_test_a1…`).
import { randomInt } from 'node:crypto'

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'

export function randomToken(length: number): string {
  let out = ''
  for (let i = 0; i < length; i++) out += ALPHABET[randomInt(ALPHABET.length)]
  return out
}

/** `pi_…`, `ch_…`, `re_…`: the prefix, an underscore and 24 characters. */
export function objectId(prefix: string, length = 24): string {
  return `${prefix}_${randomToken(length)}`
}

/** Checkout Session ids carry the mode: `cs_test_…` or `cs_live_…`. */
export function sessionId(livemode: boolean): string {
  return `cs_${livemode ? 'live' : 'test'}_${randomToken(58)}`
}

export function requestId(): string {
  return objectId('req', 14)
}
