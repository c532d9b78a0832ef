// Where buyers go back to: the return URLs merchants and portals give (back URLs, success URLs).

/** Adds query parameters to a URL, keeping those it has. */
export function withParams(url: string, params: Record<string, string>): string {
  const target = new URL(url)
  for (const [key, value] of Object.entries(params)) target.searchParams.set(key, value)
  return target.toString()
}
