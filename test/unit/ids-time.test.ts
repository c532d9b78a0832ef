import { describe, expect, it } from 'vitest'
import { newObjectId, newPaylinkId, newPrefixedId, randomHex } from '../../src/lib/ids.js'
import { toProtoTimestamp } from '../../src/lib/time.js'

describe('ids', () => {
  it('makes 24-hex object ids that start with their creation second', () => {
    const id = newObjectId(new Date('2019-04-03T12:00:00Z'))
    expect(id).toMatch(/^[0-9a-f]{24}$/)
    expect(Number.parseInt(id.slice(0, 8), 16)).toBe(Date.UTC(2019, 3, 3, 12) / 1000)
  })

  it('makes 32-hex paylink ids and prefixed ids, all distinct', () => {
    const ids = new Set(Array.from({ length: 1000 }, newPaylinkId))
    expect(ids.size).toBe(1000)
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{32}$/)
    expect(newPrefixedId('ord')).toMatch(/^ord_[0-9a-f]{24}$/)
  })

  it('hands out each pooled random byte once, across many refills of the pool', () => {
    // 5,000 ids of 12 bytes are 60 KB: the 4 KB pool is refilled about 15 times on the way.
    const ids = Array.from({ length: 5000 }, () => newPrefixedId('ord'))
    expect(new Set(ids).size).toBe(ids.length)
    for (const id of ids) expect(id).toMatch(/^ord_[0-9a-f]{24}$/)
    // Odd sizes straddle the end of the pool instead of landing on it.
    const odd = Array.from({ length: 2000 }, (_, i) => randomHex(1 + (i % 31)))
    expect(odd.map((hex) => hex.length)).toEqual(odd.map((_, i) => 2 * (1 + (i % 31))))
    // Bytes spread over all values: a pool handed out twice, or never filled, would not.
    const counts = new Map<string, number>()
    for (const hex of ids
      .map((id) => id.slice(4))
      .join('')
      .match(/../g) ?? []) {
      counts.set(hex, (counts.get(hex) ?? 0) + 1)
    }
    expect(counts.size).toBe(256)
    expect(Math.max(...counts.values())).toBeLessThan(400) // 60,000 bytes: about 234 of each
  })
})

describe('toProtoTimestamp', () => {
  it('splits a date into seconds and nanoseconds', () => {
    expect(toProtoTimestamp(new Date(1554925829652))).toEqual({ seconds: 1554925829, nanos: 652000000 })
    expect(toProtoTimestamp(new Date(0))).toEqual({ seconds: 0, nanos: 0 })
    expect(toProtoTimestamp(new Date(-1))).toEqual({ seconds: -1, nanos: 999000000 })
  })
})
