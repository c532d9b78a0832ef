import { describe, expect, it } from 'vitest'
import { localDayRanges, planPeriod } from '../../src/modules/analytics/service.js'

const at = (iso: string) => Date.parse(iso)
const seconds = (iso: string) => at(iso) / 1000
const hours = (r: { from: number; to: number }) => (r.to - r.from) / 3_600_000

describe('planPeriod', () => {
  it('reads whole days, then hours, then quarters, and raw ends shorter than a quarter', () => {
    const plan = planPeriod(at('2026-03-01T22:07:30Z'), at('2026-03-04T01:50:00Z'), '', {
      slices: [],
      raw: [],
    })
    const iso = (ms: number) => new Date(ms).toISOString().slice(0, 16)
    expect(plan.slices.map((s) => [s.grain, iso(s.from), iso(s.to)])).toEqual([
      ['d', '2026-03-02T00:00', '2026-03-04T00:00'],
      ['h', '2026-03-01T23:00', '2026-03-02T00:00'],
      ['q', '2026-03-01T22:15', '2026-03-01T23:00'],
      ['h', '2026-03-04T00:00', '2026-03-04T01:00'],
      ['q', '2026-03-04T01:00', '2026-03-04T01:45'],
    ])
    expect(plan.raw.map((r) => [iso(r.from), iso(r.to)])).toEqual([
      ['2026-03-01T22:07', '2026-03-01T22:15'],
      ['2026-03-04T01:45', '2026-03-04T01:50'],
    ])
  })

  it('answers a period inside one quarter from raw rows alone', () => {
    const plan = planPeriod(at('2026-03-01T10:01:00Z'), at('2026-03-01T10:14:00Z'), '', {
      slices: [],
      raw: [],
    })
    expect(plan.slices).toEqual([])
    expect(plan.raw).toHaveLength(1)
  })
})

describe('localDayRanges', () => {
  it('gives Berlin a 23-hour day when summer time starts', () => {
    const days = localDayRanges({
      from: seconds('2026-03-27T23:00:00Z'),
      to: seconds('2026-03-30T22:00:00Z'),
      timezone: 'Europe/Berlin',
    })
    expect(days.map((d) => [d.label, hours(d)])).toEqual([
      ['2026-03-28', 24],
      ['2026-03-29', 23],
      ['2026-03-30', 24],
    ])
  })

  it('starts days at odd offsets: Kathmandu +05:45, Lord Howe with its 30-minute DST shift', () => {
    const kathmandu = localDayRanges({
      from: seconds('2026-06-01T00:00:00Z'),
      to: seconds('2026-06-03T00:00:00Z'),
      timezone: 'Asia/Kathmandu',
    })
    expect(kathmandu.map((d) => [d.label, new Date(d.from).toISOString(), hours(d)])).toEqual([
      ['2026-06-01', '2026-06-01T00:00:00.000Z', 18.25],
      ['2026-06-02', '2026-06-01T18:15:00.000Z', 24],
      ['2026-06-03', '2026-06-02T18:15:00.000Z', 5.75],
    ])
    // Lord Howe moves its clocks 30 minutes forward on the first Sunday of October.
    const lordHowe = localDayRanges({
      from: seconds('2026-10-03T13:30:00Z'),
      to: seconds('2026-10-05T13:00:00Z'),
      timezone: 'Australia/Lord_Howe',
    })
    expect(lordHowe.map((d) => [d.label, hours(d)])).toEqual([
      ['2026-10-04', 23.5],
      ['2026-10-05', 24],
    ])
  })
})
