// A buyer driving the hosted pages through app.inject: follows the paylink, reads the form, posts it.
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'

export interface PayFields {
  email?: string
  card_number?: string
  card_exp?: string
  card_cvc?: string
  card_name?: string
}

export const GOOD_CARD: PayFields = {
  email: 'buyer@example.com',
  card_number: '4242 4242 4242 4242',
  card_exp: '12/34',
  card_cvc: '123',
  card_name: 'Ada Buyer',
}

/** The cookie header a browser would send back from a response's Set-Cookie. */
export function cookiesOf(res: LightMyRequestResponse): string {
  return res.cookies.map((c) => `${c.name}=${c.value}`).join('; ')
}

export function csrfTokenOf(html: string): string {
  const token = /name="_csrf" value="([^"]+)"/.exec(html)?.[1]
  if (!token) throw new Error('no CSRF token in the page')
  return token
}

/** Opens the payment page of an order and returns what a browser holds to submit its form. */
export async function openPaymentPage(
  app: FastifyInstance,
  orderId: string,
  headers: Record<string, string> = {},
) {
  const page = await app.inject({ method: 'GET', url: `/pay/${orderId}`, headers })
  return { page, cookie: cookiesOf(page), token: page.statusCode === 200 ? csrfTokenOf(page.body) : '' }
}

export async function submitPayment(
  app: FastifyInstance,
  orderId: string,
  session: { cookie: string; token: string },
  fields: PayFields,
) {
  return app.inject({
    method: 'POST',
    url: `/pay/${orderId}`,
    headers: { cookie: session.cookie, 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ _csrf: session.token, ...fields } as Record<string, string>).toString(),
  })
}

/** Follows a public paylink and returns the order id it created. */
export async function openPaylink(
  app: FastifyInstance,
  paylinkId: string,
  query = '',
  headers: Record<string, string> = {},
) {
  const res = await app.inject({ method: 'GET', url: `/paylink/${paylinkId}${query}`, headers })
  const location = res.headers.location
  const orderId = typeof location === 'string' ? /\/pay\/(ord_[0-9a-f]{24})/.exec(location)?.[1] : undefined
  return { res, orderId, location }
}
