// Where buyers go back to: the return URLs merchants and portals give (back URLs, success URLs).

/**
 * A return URL as its caller gave it, byte for byte, with our parameters after its query (`&` when it
 * has a `?` already, `?` otherwise) and before its fragment. It is not parsed and rebuilt: that would
 * re-encode what the caller put there (DocSpace's `…?tab=methods?complete=true` would come back with its
 * second `?` as `%3F`, and its client would never see `complete=true`).
 */
export function appendParams(url: string, params: Record<string, string>): string {
  const hash = url.indexOf('#')
  const base = hash === -1 ? url : url.slice(0, hash)
  const fragment = hash === -1 ? '' : url.slice(hash)
  const query = Object.entries(params)
    .map(([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(value)}`)
    .join('&')
  const separator = !base.includes('?') ? '?' : base.endsWith('?') || base.endsWith('&') ? '' : '&'
  return `${base}${separator}${query}${fragment}`
}
