// Identifier formats. Merchant, project and product ids are 24 lowercase hex (a 4-byte creation time,
// then 8 random bytes, so they sort roughly by age); paylink ids are 32 lowercase hex (a UUIDv4).
import { randomBytes, randomUUID } from 'node:crypto'

export const OBJECT_ID_PATTERN = '^[0-9a-f]{24}$'
export const PAYLINK_ID_PATTERN = '^[0-9a-f]{32}$'

export function newObjectId(now: Date = new Date()): string {
  const time = Buffer.alloc(4)
  time.writeUInt32BE(Math.floor(now.getTime() / 1000) >>> 0)
  return time.toString('hex') + randomBytes(8).toString('hex')
}

export function newPaylinkId(): string {
  return randomUUID().replaceAll('-', '')
}

/** A prefixed id for objects whose format no contract fixes, e.g. `key_…`. */
export function newPrefixedId(prefix: string): string {
  return `${prefix}_${randomBytes(12).toString('hex')}`
}
