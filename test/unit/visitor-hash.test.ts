import { describe, expect, it } from 'vitest'
import { visitorHash } from '../../src/modules/analytics/visits.js'

describe('visitorHash', () => {
  const morning = new Date('2026-03-01T08:00:00Z')
  const evening = new Date('2026-03-01T23:59:59Z')
  const nextDay = new Date('2026-03-02T00:00:00Z')

  it('is the same for a visitor all day, and another one the next day or under another secret', () => {
    const a = visitorHash('secret-a', morning, '203.0.113.5', 'Firefox')
    expect(a).toMatch(/^[0-9a-f]{32}$/)
    expect(visitorHash('secret-a', evening, '203.0.113.5', 'Firefox')).toBe(a)
    expect(visitorHash('secret-a', nextDay, '203.0.113.5', 'Firefox')).not.toBe(a)
    expect(visitorHash('secret-b', morning, '203.0.113.5', 'Firefox')).not.toBe(a)
    // Back to the first secret and day after the others: the day's key is not left over from them.
    expect(visitorHash('secret-a', morning, '203.0.113.5', 'Firefox')).toBe(a)
  })

  it('tells visitors apart by address and by user agent', () => {
    const a = visitorHash('s', morning, '203.0.113.5', 'Firefox')
    expect(visitorHash('s', morning, '203.0.113.6', 'Firefox')).not.toBe(a)
    expect(visitorHash('s', morning, '203.0.113.5', 'Chrome')).not.toBe(a)
    expect(visitorHash('s', morning, '203.0.113.5', undefined)).not.toBe(a)
  })
})
