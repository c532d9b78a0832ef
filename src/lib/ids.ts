// Identifier formats. Merchant, project and product ids are 24 lowercase hex (a 4-byte creation time,
// then 8 random bytes, so they sort roughly by age); paylink ids are 32 lowercase hex (a UUIDv4).
import { randomFillSync, randomUUID } from 'node:crypto'

export const OBJECT_ID_PATTERN = '^[0-9a-f]{24}$'
export const PAYLINK_ID_PATTERN = '^[0-9a-f]{32}$'

// Random bytes are drawn from a pool filled from the CSPRNG a few kilobytes at a time, as Node's own
// randomUUID does: one call into OpenSSL per 4 KB instead of one per id, on the public path's every
// request. Every byte is handed out once, so the ids are as unpredictable as randomBytes would make them.
const POOL_SIZE = 4096
const pool = Buffer.alloc(POOL_SIZE)
let poolOffset = POOL_SIZE

/** `bytes` random bytes (at most the pool's size) as lowercase hex. */
export function randomHex(bytes: number): string {
  if (poolOffset + bytes > POOL_SIZE) {
    randomFillSync(pool)
    poolOffset = 0
  }
  const hex = pool.toString('hex', poolOffset, poolOffset + bytes)
  poolOffset += bytes
  return hex
}

export function newObjectId(now: Date = new Date()): string {
  const time = (Math.floor(now.getTime() / 1000) >>> 0).toString(16).padStart(8, '0')
  return time + randomHex(8)
}

export function newPaylinkId(): string {
  return randomUUID().replaceAll('-', '')
}

/** A prefixed id for objects whose format no contract fixes, e.g. `key_…`. */
export function newPrefixedId(prefix: string): string {
  return `${prefix}_${randomHex(12)}`
}
