import { describe, expect, it } from 'vitest'
import { PAYLINK_GRAINS } from '../../src/modules/analytics/rollup.js'
import {
  bucketReads,
  localDayRanges,
  localDayStart,
  type PeriodPlan,
  planPeriod,
} from '../../src/modules/analytics/service.js'

const at = (iso: string) => Date.parse(iso)
const seconds = (iso: string) => at(iso) / 1000
const hours = (r: { from: number; to: number }) => (r.to - r.from) / 3_600_000

describe('planPeriod', () => {
  it('reads whole days, then quarters, and raw ends shorter than a quarter', () => {
    const plan = planPeriod(at('2026-03-01T22:07:30Z'), at('2026-03-04T01:50:00Z'), '', {
      slices: [],
      raw: [],
    })
    const iso = (ms: number) => new Date(ms).toISOString().slice(0, 16)
    expect(plan.slices.map((s) => [s.grain, iso(s.from), iso(s.to)])).toEqual([
      [96, '2026-03-02T00:00', '2026-03-04T00:00'],
      [1, '2026-03-01T22:15', '2026-03-02T00:00'],
      [1, '2026-03-04T00:00', '2026-03-04T01:45'],
    ])
    expect(plan.raw.map((r) => [iso(r.from), iso(r.to)])).toEqual([
      ['2026-03-01T22:07', '2026-03-01T22:15'],
      ['2026-03-04T01:45', '2026-03-04T01:50'],
    ])
  })

  it('reads a local day of Kathmandu as a UTC day less the quarters outside it', () => {
    // 2026-06-02 in Kathmandu (+05:45) is [06-01 18:15, 06-02 18:15) UTC.
    const plan = planPeriod(at('2026-06-01T18:15:00Z'), at('2026-06-02T18:15:00Z'), '', {
      slices: [],
      raw: [],
    })
    const iso = (ms: number) => new Date(ms).toISOString().slice(0, 16)
    expect(plan.slices.map((s) => [s.sign, s.grain, iso(s.from), iso(s.to)])).toEqual([
      [1, 1, '2026-06-01T18:15', '2026-06-02T00:00'],
      [1, 96, '2026-06-02T00:00', '2026-06-03T00:00'],
      [-1, 1, '2026-06-02T18:15', '2026-06-03T00:00'],
    ])
    expect(plan.raw).toEqual([])
  })

  it('reads a breakdown by key from whole days, and raw ends shorter than a day', () => {
    const plan = planPeriod(
      at('2026-03-01T22:07:30Z'),
      at('2026-03-04T01:50:00Z'),
      '',
      { slices: [], raw: [] },
      [96],
    )
    const iso = (ms: number) => new Date(ms).toISOString().slice(0, 16)
    expect(plan.slices.map((s) => [s.grain, iso(s.from), iso(s.to)])).toEqual([
      [96, '2026-03-02T00:00', '2026-03-04T00:00'],
    ])
    expect(plan.raw.map((r) => [iso(r.from), iso(r.to)])).toEqual([
      ['2026-03-01T22:07', '2026-03-02T00:00'],
      ['2026-03-04T00:00', '2026-03-04T01:50'],
    ])
  })

  it('covers a project’s paylinks with blocks of 64 down to 1 day aligned on their length', () => {
    const day = 86_400_000
    const from = 20_000 * day + 3_600_000
    const plan = planPeriod(from, from + 90 * day, '', { slices: [], raw: [] }, PAYLINK_GRAINS)
    const covered = plan.slices.reduce((sum, s) => sum + s.sign * (s.to - s.from), 0)
    expect(covered + plan.raw.reduce((sum, r) => sum + r.sign * (r.to - r.from), 0)).toBe(90 * day)
    for (const s of plan.slices) expect(s.from % (s.grain * 900_000)).toBe(0)
    // Two blocks at most per length and side (and the day the start is taken off), and one raw piece
    // of at most half a day at each end: the hour before the start, taken off; the hour after the end.
    expect(plan.slices.length).toBeLessThanOrEqual(14)
    expect(plan.raw.map((r) => [r.sign, r.to - r.from])).toEqual([
      [-1, 3_600_000],
      [1, 3_600_000],
    ])
  })

  it('reads a breakdown’s end longer than half a day as its day row less the raw rest of the day', () => {
    const iso = (ms: number) => new Date(ms).toISOString().slice(0, 16)
    // From 04:30 on the 1st to 20:00 on the 3rd: 19.5 hours at the start, 20 at the end.
    const plan = planPeriod(
      at('2026-03-01T04:30:00Z'),
      at('2026-03-03T20:00:00Z'),
      '',
      { slices: [], raw: [] },
      [96],
    )
    expect(plan.slices.map((s) => [s.sign, iso(s.from), iso(s.to)])).toEqual([
      [1, '2026-03-01T00:00', '2026-03-02T00:00'],
      [1, '2026-03-03T00:00', '2026-03-04T00:00'],
      [1, '2026-03-02T00:00', '2026-03-03T00:00'],
    ])
    expect(plan.raw.map((r) => [r.sign, iso(r.from), iso(r.to)])).toEqual([
      [-1, '2026-03-01T00:00', '2026-03-01T04:30'],
      [-1, '2026-03-03T20:00', '2026-03-04T00:00'],
    ])
    // Shorter than a day across midnight: each side of midnight on its own.
    const across = planPeriod(
      at('2026-03-01T02:00:00Z'),
      at('2026-03-02T01:00:00Z'),
      '',
      { slices: [], raw: [] },
      [96],
    )
    expect(across.slices.map((s) => [s.sign, iso(s.from), iso(s.to)])).toEqual([
      [1, '2026-03-01T00:00', '2026-03-02T00:00'],
    ])
    expect(across.raw.map((r) => [r.sign, iso(r.from), iso(r.to)])).toEqual([
      [-1, '2026-03-01T00:00', '2026-03-01T02:00'],
      [1, '2026-03-02T00:00', '2026-03-02T01:00'],
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

describe('bucketReads', () => {
  /** The slices of every local day of a period, as the `date` breakdown plans them. */
  const dayPlan = (from: string, to: string, timezone: string): PeriodPlan => {
    const plan: PeriodPlan = { slices: [], raw: [] }
    for (const day of localDayRanges({ from: seconds(from), to: seconds(to), timezone })) {
      planPeriod(day.from, day.to, day.label, plan)
    }
    return plan
  }
  /** Each slice as (label, sign, grain, from, to), in one order. */
  const asUses = (slices: PeriodPlan['slices']) =>
    slices.map((s) => `${s.label} ${s.sign} ${s.grain} ${s.from} ${s.to}`).sort()

  it('reads the quarters two days of Kathmandu share once, for both, with their signs', () => {
    const { slices } = dayPlan('2026-05-31T18:15:00Z', '2026-06-03T18:15:00Z', 'Asia/Kathmandu')
    const reads = bucketReads(slices)
    // Three local days: each a day row and its evening quarters taken off, and the evening before added.
    expect(slices).toHaveLength(9)
    expect(reads).toHaveLength(7)
    const iso = (quarter: number) => new Date(quarter * 900_000).toISOString().slice(5, 16)
    const evening = reads.find((r) => r.grain === 1 && iso(r.lo) === '06-01T18:15')
    expect(evening && [iso(evening.hi), evening.uses]).toEqual([
      '06-02T00:00',
      [
        { label: '2026-06-01', sign: -1 },
        { label: '2026-06-02', sign: 1 },
      ],
    ])
    // Nothing is lost or counted twice: the reads' uses are the slices.
    const uses = reads.flatMap((r) =>
      r.uses
        .filter((u) => u.sign !== 0)
        .map((u) => ({
          label: u.label,
          sign: u.sign,
          grain: r.grain,
          from: r.lo * 900_000,
          to: r.hi * 900_000,
        })),
    )
    expect(asUses(uses as PeriodPlan['slices'])).toEqual(asUses(slices))
  })

  it('reads a range again for a third slice of it, and every range once in UTC', () => {
    const slice = { label: 'x', grain: 1, from: 0, to: 900_000, sign: 1 as const }
    const reads = bucketReads([slice, { ...slice, label: 'y' }, { ...slice, label: 'z', sign: -1 }])
    expect(reads.map((r) => r.uses.map((u) => `${u.label}${u.sign}`))).toEqual([
      ['x1', 'y1'],
      ['z-1', '0'],
    ])
    const utc = dayPlan('2026-03-01T00:00:00Z', '2026-03-31T00:00:00Z', 'UTC').slices
    expect(bucketReads(utc)).toHaveLength(utc.length)
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

  it('starts every day of a year where a search for its local midnight does, DST at midnight included', () => {
    // Santiago and Havana change their clocks at midnight; the day after is found by a search there.
    for (const timezone of ['America/Santiago', 'America/Havana', 'Europe/Berlin', 'Asia/Kathmandu']) {
      const days = localDayRanges({
        from: seconds('2026-01-01T12:00:00Z'),
        to: seconds('2027-01-01T12:00:00Z'),
        timezone,
      })
      expect(days.length).toBeGreaterThanOrEqual(366)
      for (const day of days.slice(1))
        expect([day.label, day.from]).toEqual([day.label, localDayStart(day.label, timezone)])
    }
  })
})
