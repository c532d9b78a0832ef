import { describe, expect, it } from 'vitest'
import { newObjectId, newPaylinkId, newPrefixedId } from '../../src/lib/ids.js'
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
})

describe('toProtoTimestamp', () => {
  it('splits a date into seconds and nanoseconds', () => {
    expect(toProtoTimestamp(new Date(1554925829652))).toEqual({ seconds: 1554925829, nanos: 652000000 })
    expect(toProtoTimestamp(new Date(0))).toEqual({ seconds: 0, nanos: 0 })
    expect(toProtoTimestamp(new Date(-1))).toEqual({ seconds: -1, nanos: 999000000 })
  })
})
