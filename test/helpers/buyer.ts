// A buyer driving the hosted pages through app.inject: follows the paylink, reads paylinks' payment page,
// goes to the sandbox provider's own card page, types a test card there and comes back.
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

/** A person's browser: what a buyer's requests carry (a request without a browser's user agent may be a bot's). */
export const BROWSER_UA =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36'

/** Browsers of different people, told apart by their version (distinct visitors from one address). */
export const browserOf = (person: number) =>
  `Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.${person}.0 Safari/537.36`

/** A test card of DESIGN.md's table, with the rest of GOOD_CARD. */
export const card = (number: string): PayFields => ({ ...GOOD_CARD, card_number: number })

/** The cookie header a browser would send back from a response's Set-Cookie. */
export function cookiesOf(res: LightMyRequestResponse): string {
  return res.cookies.map((c) => `${c.name}=${c.value}`).join('; ')
}

export function csrfTokenOf(html: string): string {
  const token = /name="_csrf" value="([^"]+)"/.exec(html)?.[1]
  if (!token) throw new Error('no CSRF token in the page')
  return token
}

/** The path and query of an absolute URL of the server (what app.inject takes). */
export function pathOf(url: string): string {
  const parsed = new URL(url)
  return parsed.pathname + parsed.search
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

const form = (fields: Record<string, string | undefined>) =>
  new URLSearchParams(
    Object.fromEntries(Object.entries(fields).filter((e): e is [string, string] => e[1] !== undefined)),
  ).toString()

/** Submits paylinks' payment page (the email only): answers the redirect to the provider, or the page. */
export function startPayment(
  app: FastifyInstance,
  orderId: string,
  session: { cookie: string; token: string },
  email: string | undefined,
) {
  return app.inject({
    method: 'POST',
    url: `/pay/${orderId}`,
    headers: { cookie: session.cookie, 'content-type': 'application/x-www-form-urlencoded' },
    payload: form({ _csrf: session.token, email }),
  })
}

/** On the sandbox's own page (at `url`): types the card and submits it. */
export async function enterCard(app: FastifyInstance, url: string, fields: PayFields) {
  const page = await app.inject({ method: 'GET', url: pathOf(url) })
  if (page.statusCode !== 200) return page
  const { email: _email, ...cardFields } = fields
  return app.inject({
    method: 'POST',
    url: pathOf(url).split('?')[0] as string,
    headers: { cookie: cookiesOf(page), 'content-type': 'application/x-www-form-urlencoded' },
    payload: form({ _csrf: csrfTokenOf(page.body), ...cardFields }),
  })
}

/** Where the sandbox's "back to the shop" page sends the buyer, if the response is that page. */
export function returnUrlOf(res: LightMyRequestResponse): string | undefined {
  const href = /id="return" href="([^"]+)"/.exec(res.body)?.[1]
  return href?.replaceAll('&amp;', '&')
}

/** Answers the sandbox's 3-D Secure step of a session page. */
export async function answerChallenge(app: FastifyInstance, url: string, answer: 'approve' | 'deny') {
  const page = await app.inject({ method: 'GET', url: pathOf(url) })
  return app.inject({
    method: 'POST',
    url: `${pathOf(url).split('?')[0]}/challenge`,
    headers: { cookie: cookiesOf(page), 'content-type': 'application/x-www-form-urlencoded' },
    payload: form({ _csrf: csrfTokenOf(page.body), answer }),
  })
}

/**
 * Pays as a buyer does: the email on paylinks' page, the card on the sandbox's, then back to paylinks,
 * which looks the payment up. Answers the first response that is not one of those steps' redirects —
 * the answer of the return (a 303 to the receipt or the success URL, or a page), or a page of a step
 * that refused.
 */
export async function submitPayment(
  app: FastifyInstance,
  orderId: string,
  session: { cookie: string; token: string },
  fields: PayFields,
) {
  const started = await startPayment(app, orderId, session, fields.email)
  const location = started.headers.location
  if (started.statusCode !== 303 || typeof location !== 'string' || !location.includes('/sandbox/checkout/'))
    return started
  const entered = await enterCard(app, location, fields)
  const back = returnUrlOf(entered)
  if (entered.statusCode !== 200 || !back) return entered
  // The browser comes back with paylinks' cookies, so the page it lands on has a form it can send.
  return app.inject({
    method: 'GET',
    url: pathOf(back),
    headers: session.cookie ? { cookie: session.cookie } : {},
  })
}

/** Follows a public paylink as a buyer's browser (unless the headers say otherwise) and returns the order id it created. */
export async function openPaylink(
  app: FastifyInstance,
  paylinkId: string,
  query = '',
  headers: Record<string, string> = {},
) {
  const res = await app.inject({
    method: 'GET',
    url: `/paylink/${paylinkId}${query}`,
    headers: { 'user-agent': BROWSER_UA, ...headers },
  })
  const location = res.headers.location
  const orderId = typeof location === 'string' ? /\/pay\/(ord_[0-9a-f]{24})/.exec(location)?.[1] : undefined
  return { res, orderId, location }
}

/**
 * Saves a card as a portal does on a checkout-setup page: paylinks' page sends it to the sandbox's, the
 * card is typed there, and the sandbox sends it back. Answers the first response that is not one of
 * those steps (the return's 303 to the back URL, or a page of a step that refused).
 */
export async function saveSetupCard(app: FastifyInstance, setupPath: string, fields: PayFields) {
  const page = await app.inject(setupPath)
  if (page.statusCode !== 200) return page
  const cookie = cookiesOf(page)
  const started = await app.inject({
    method: 'POST',
    url: setupPath,
    headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ _csrf: csrfTokenOf(page.body) }).toString(),
  })
  const location = started.headers.location
  if (started.statusCode !== 303 || typeof location !== 'string' || !location.includes('/sandbox/checkout/'))
    return started
  const entered = await enterCard(app, location, fields)
  const back = returnUrlOf(entered)
  if (entered.statusCode !== 200 || !back) return entered
  return app.inject({ method: 'GET', url: pathOf(back), headers: { cookie } })
}
