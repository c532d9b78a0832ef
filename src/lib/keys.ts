// Secrets presented by clients (API keys) are stored as SHA-256 and compared in constant time.
import { createHash, timingSafeEqual } from 'node:crypto'

export function hashKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex')
}

export function hashesEqual(a: string, b: string): boolean {
  const left = Buffer.from(a, 'hex')
  const right = Buffer.from(b, 'hex')
  return left.length === right.length && timingSafeEqual(left, right)
}
