// A person using the dashboard through app.inject: a cookie jar, the CSRF token of the last page, and
// form posts the way a browser sends them.
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'

export class DashboardClient {
  readonly cookies = new Map<string, string>()
  csrf = ''

  constructor(
    private readonly app: FastifyInstance,
    readonly ip = '127.0.0.1',
  ) {}

  private remember(response: LightMyRequestResponse): LightMyRequestResponse {
    for (const c of response.cookies as { name: string; value: string; maxAge?: number }[]) {
      if (c.value === '' || c.maxAge === 0) this.cookies.delete(c.name)
      else this.cookies.set(c.name, c.value)
    }
    const token = /name="_csrf" value="([^"]+)"/.exec(response.body)?.[1]
    if (token) this.csrf = token
    return response
  }

  private cookieHeader(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ')
  }

  async get(url: string): Promise<LightMyRequestResponse> {
    return this.remember(
      await this.app.inject({
        method: 'GET',
        url,
        remoteAddress: this.ip,
        headers: { cookie: this.cookieHeader() },
      }),
    )
  }

  /** A form post; the page's CSRF token is added unless `_csrf` is given (null leaves it out). */
  async post(
    url: string,
    form: Record<string, string | string[] | null> = {},
  ): Promise<LightMyRequestResponse> {
    const body = new URLSearchParams()
    if (!('_csrf' in form)) body.append('_csrf', this.csrf)
    for (const [key, value] of Object.entries(form)) {
      if (value === null) continue
      for (const v of Array.isArray(value) ? value : [value]) body.append(key, v)
    }
    return this.remember(
      await this.app.inject({
        method: 'POST',
        url,
        remoteAddress: this.ip,
        headers: { cookie: this.cookieHeader(), 'content-type': 'application/x-www-form-urlencoded' },
        payload: body.toString(),
      }),
    )
  }

  /** Opens the sign-in form (for its CSRF token) and signs in. */
  async signIn(email: string, password: string, next?: string): Promise<LightMyRequestResponse> {
    await this.get('/dashboard/login')
    return this.post('/dashboard/login', { email, password, ...(next ? { next } : {}) })
  }
}

/** The visible text of an HTML page's alert, if any. */
export function alertOf(html: string): string | undefined {
  return /role="alert"[^>]*>([^<]*)</.exec(html)?.[1]?.trim()
}
