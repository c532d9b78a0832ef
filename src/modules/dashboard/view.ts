// What dashboard templates need besides data: notices after a form, and formatting for people.
import { formatMoney } from '../../lib/money.js'

export const CHART_SCRIPT = '/dashboard/assets/chart.umd.min.js'

/** Messages a page shows after a redirect (`?notice=`); only these keys, so a link cannot inject text. */
export const NOTICES = {
  project_created: 'Project created.',
  project_updated: 'Project saved.',
  project_deleted: 'Project deleted: its paylinks no longer open and its products are archived.',
  product_created: 'Product created.',
  product_updated: 'Product saved.',
  product_archived: 'Product archived: it can no longer be added to paylinks.',
  product_restored: 'Product restored.',
  product_deleted: 'Product deleted.',
  product_archived_in_use:
    'Product archived instead of deleted: paylinks or orders refer to it, and their history stays whole.',
  paylink_created: 'Paylink created. Share its URL below.',
  paylink_deleted: 'Paylink deleted: its URL no longer opens.',
  portal_deleted: 'Portal deleted: its keys no longer work.',
  portal_key_revoked: 'Portal key revoked.',
  webhook_updated: 'Webhook endpoint saved.',
  webhook_deleted: 'Webhook endpoint deleted.',
  delivery_resent: 'Delivery queued to be sent again now.',
  password_changed: 'Password changed. Every other browser signed in as you has been signed out.',
  sessions_revoked: 'Signed out.',
  api_key_revoked: 'API key revoked: requests with it now get 401.',
  refund_created:
    'Refund sent to the provider. It is pending until the provider confirms it, which takes a few seconds; reload to see it settle.',
  dispute_simulated:
    'Sent to the sandbox. It reports the dispute’s outcome to paylinks with a signed event in a few seconds; reload to see it.',
} as const
export type Notice = keyof typeof NOTICES

/** Formatting helpers templates call as `it.fmt.…`. */
export const fmt = {
  money(amount: number, currency: string): string {
    return formatMoney(amount, currency, 'en')
  },
  /**
   * An instant as `<time datetime="…">2026-11-21 14:03 UTC</time>` (markup: templates print it with
   * `<%~`); the browser script shows it in the reader's own time zone. The text is rebuilt from a parsed
   * Date, so nothing of the input reaches the page unescaped.
   */
  time(iso: string | null | undefined): string {
    const ms = iso ? Date.parse(iso) : Number.NaN
    if (Number.isNaN(ms)) return '—'
    const utc = new Date(ms).toISOString()
    return `<time datetime="${utc}">${utc.slice(0, 10)} ${utc.slice(11, 16)} UTC</time>`
  },
  /** A `{seconds, nanos}` timestamp of the paylinks API, as `time` prints it. */
  seconds(ts: { seconds: number } | null | undefined): string {
    return ts ? fmt.time(new Date(ts.seconds * 1000).toISOString()) : '—'
  },
  /** A status as people read it: partially_refunded → partially refunded. */
  status(status: string): string {
    return status.replaceAll('_', ' ')
  },
  percent(ratio: number): string {
    return `${(ratio * 100).toFixed(ratio > 0 && ratio < 0.1 ? 1 : 0)}%`
  },
  count(n: number): string {
    return n.toLocaleString('en')
  },
  revenue(list: { currency: string; amount: number }[]): string {
    return list.length ? list.map((r) => fmt.money(r.amount, r.currency)).join(' · ') : '—'
  },
  /**
   * Net revenue of figures: the API leaves zero amounts out, so a currency that earned and was refunded
   * in full shows as 0 rather than as nothing.
   */
  net(figures: {
    revenue: { currency: string; amount: number }[]
    net_revenue: { currency: string; amount: number }[]
  }): string {
    const currencies = [
      ...new Set([...figures.revenue, ...figures.net_revenue].map((m) => m.currency)),
    ].sort()
    return fmt.revenue(
      currencies.map((currency) => ({
        currency,
        amount: figures.net_revenue.find((m) => m.currency === currency)?.amount ?? 0,
      })),
    )
  },
  /**
   * A coarse label of a user agent, such as "Chrome on Linux", for a list of signed-in browsers; the page
   * keeps the full string as the tooltip. Order matters: Edge and Opera also say Chrome, Chrome says Safari.
   */
  browser(userAgent: string | null | undefined): string {
    if (!userAgent) return 'Unknown browser'
    const pick = (table: [RegExp, string][]) => table.find(([re]) => re.test(userAgent))?.[1]
    const name = pick([
      [/Edg(?:e|A|iOS)?\//, 'Edge'],
      [/OPR\/|Opera/, 'Opera'],
      [/Firefox\/|FxiOS\//, 'Firefox'],
      [/Chrome\/|CriOS\/|Chromium\//, 'Chrome'],
      [/Safari\//, 'Safari'],
      [/^curl\//, 'curl'],
    ])
    const system = pick([
      [/Android/, 'Android'],
      [/iPhone|iPad|iPod/, 'iOS'],
      [/Windows/, 'Windows'],
      [/Mac OS X|Macintosh/, 'macOS'],
      [/CrOS/, 'ChromeOS'],
      [/Linux/, 'Linux'],
    ])
    if (!name) return 'Other browser'
    return system ? `${name} on ${system}` : name
  },
}
