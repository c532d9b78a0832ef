// What a visit records: UTM tags, the referring host, the country and a visitor hash that counts unique
// visitors of a day without keeping any address.
import { createHmac } from 'node:crypto'
import { countryOf } from '../../lib/geo.js'

export interface VisitSource {
  ip: string
  userAgent: string | undefined
  referer: string | undefined
  countryHeader: string | undefined
  query: Record<string, unknown>
}

export interface VisitFacts {
  visitor_hash: string
  utm_source: string | null
  utm_medium: string | null
  utm_campaign: string | null
  referrer_host: string | null
  country: string | null
}

const MAX_UTM = 200

function utm(query: Record<string, unknown>, ...keys: string[]): string | null {
  for (const key of keys) {
    const raw = query[key]
    const value = Array.isArray(raw) ? raw[0] : raw
    // Control characters are dropped: they have no place in a tag, and one of them separates the
    // tags in the statistics' keys.
    // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
    const clean = typeof value === 'string' ? value.replace(/[\u0000-\u001f\u007f]/g, '').trim() : ''
    if (clean) return clean.slice(0, MAX_UTM)
  }
  return null
}

export function referrerHost(referer: string | undefined): string | null {
  if (!referer) return null
  try {
    const url = new URL(referer)
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return null
    return (
      url.hostname
        .toLowerCase()
        .replace(/^www\./, '')
        .slice(0, 255) || null
    )
  } catch {
    return null
  }
}

// The day's key, derived once a day rather than on every visit.
let lastDayKey: { secret: string; day: string; key: Buffer } | undefined

function dayKey(secret: string, day: string): Buffer {
  if (lastDayKey?.secret !== secret || lastDayKey.day !== day) {
    lastDayKey = { secret, day, key: createHmac('sha256', secret).update(`visitor:${day}`).digest() }
  }
  return lastDayKey.key
}

/**
 * HMAC of the address and user agent under a key that changes every UTC day: the same visitor hashes
 * alike within a day, and nothing links days together or leads back to the address.
 */
export function visitorHash(secret: string, day: Date, ip: string, userAgent: string | undefined): string {
  return createHmac('sha256', dayKey(secret, day.toISOString().slice(0, 10)))
    .update(`${ip}\n${userAgent ?? ''}`)
    .digest('hex')
    .slice(0, 32)
}

export function visitFacts(source: VisitSource, secret: string, now: Date): VisitFacts {
  return {
    visitor_hash: visitorHash(secret, now, source.ip, source.userAgent),
    utm_source: utm(source.query, 'utm_source'),
    utm_medium: utm(source.query, 'utm_medium'),
    utm_campaign: utm(source.query, 'utm_campaign', 'utm_campagin'),
    referrer_host: referrerHost(source.referer),
    country: countryOf(source.ip, source.countryHeader),
  }
}
