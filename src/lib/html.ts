// Server-rendered pages: Eta templates (escaped by default) and the security headers every page carries.
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { Eta } from 'eta'
import type { FastifyReply } from 'fastify'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
export const TEMPLATES_DIR = path.join(ROOT, 'templates')
export const PUBLIC_DIR = path.join(ROOT, 'public')

const eta = new Eta({ views: TEMPLATES_DIR, autoEscape: true, autoTrim: false, cache: true })

export interface PageOptions {
  status?: number
  /** Origins a form on the page may be sent to or redirected to after it is sent (CSP form-action). */
  formTargets?: string[]
}

/** Renders a template into an HTML response with a strict Content-Security-Policy. */
export function sendPage(
  reply: FastifyReply,
  template: string,
  data: object,
  options: PageOptions = {},
): FastifyReply {
  const formAction = ["'self'", ...(options.formTargets ?? [])].join(' ')
  return reply
    .status(options.status ?? 200)
    .header(
      'content-security-policy',
      `default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; form-action ${formAction}; frame-ancestors 'none'; base-uri 'none'`,
    )
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('x-frame-options', 'DENY')
    .header('cache-control', 'no-store')
    .type('text/html; charset=utf-8')
    .send(eta.render(template, data))
}

/** The origin of an absolute URL, for form-action; undefined when there is none. */
export function originOf(url: string | null | undefined): string | undefined {
  if (!url) return undefined
  try {
    return new URL(url).origin
  } catch {
    return undefined
  }
}

/** The buyer's preferred locale that Intl supports, from Accept-Language; English otherwise. */
export function preferredLocale(acceptLanguage: string | undefined): string {
  const tags = (acceptLanguage ?? '')
    .split(',')
    .map((part) => {
      const [tag = '', q] = part.trim().split(';q=')
      return { tag: tag.trim(), q: q === undefined ? 1 : Number(q) }
    })
    .filter((t) => t.tag && t.tag !== '*' && t.q > 0)
    .sort((a, b) => b.q - a.q)
  for (const { tag } of tags) {
    try {
      const [supported] = Intl.NumberFormat.supportedLocalesOf(tag)
      if (supported) return supported
    } catch {
      // A malformed tag is skipped like an unsupported one.
    }
  }
  return 'en'
}
