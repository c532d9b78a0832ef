// The buyer's country: a trusted proxy header when one is configured, else the offline GeoIP database
// shipped with the geoip-country package, else unknown.
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
type GeoLookup = { lookup(ip: string): { country: string } | null }
let geoip: GeoLookup | undefined

/** Loaded on first use: the database takes a few MB of memory that a process without visits need not pay. */
function database(): GeoLookup {
  geoip ??= require('geoip-country') as GeoLookup
  return geoip
}

export function countryOf(ip: string, headerValue: string | undefined): string | null {
  if (headerValue !== undefined) {
    const code = headerValue.trim().toUpperCase()
    // Cloudflare sends XX for unknown and T1 for Tor; neither is a country.
    return /^[A-Z]{2}$/.test(code) && code !== 'XX' && code !== 'T1' ? code : null
  }
  const found = database().lookup(ip.replace(/^::ffff:/, ''))
  return found && /^[A-Z]{2}$/.test(found.country) ? found.country : null
}
