// The hosted checkout page a session's `url` points at: a plain HTML form (no JavaScript) that takes one of
// Stripe's test cards or a simulated bank debit, a 3-D Secure step, a link back to `cancel_url`, and a
// redirect to `success_url` (with `{CHECKOUT_SESSION_ID}` filled in) once the session is complete.
import type { IncomingMessage, ServerResponse } from 'node:http'
import { TEST_CARDS } from './cards.js'
import { formatAmount } from './currency.js'
import type { SessionRecord, Store } from './model.js'
import { DoubleError, type Payments, type PayResult } from './payments.js'
import { paymentMethodTypes, sessionTotal } from './render.js'

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}

function layout(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · Stripe double</title>
<style>
body { font: 16px/1.5 system-ui, sans-serif; max-width: 32rem; margin: 2rem auto; padding: 0 1rem; color: #1a1f36; }
.banner { background: #fff3cd; border: 1px solid #e0c36c; padding: .5rem .75rem; border-radius: 4px; font-size: .9rem; }
label { display: block; margin-top: .75rem; font-weight: 600; }
input, select { font: inherit; width: 100%; box-sizing: border-box; padding: .4rem; }
button { font: inherit; margin-top: 1rem; padding: .5rem 1rem; }
.error { color: #b42318; font-weight: 600; }
table { width: 100%; border-collapse: collapse; } td { padding: .25rem 0; } td.amount { text-align: right; }
fieldset { margin-top: 1.5rem; border: 1px solid #ccd; border-radius: 4px; }
</style>
</head>
<body>
<p class="banner">Stripe double — a local stand-in for Stripe Checkout in test mode. No real payment is made.</p>
${body}
</body>
</html>`
}

function send(res: ServerResponse, status: number, html: string): void {
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; form-action *",
    'cache-control': 'no-store',
  })
  res.end(html)
}

function redirect(res: ServerResponse, location: string): void {
  res.writeHead(303, { location })
  res.end()
}

function summary(session: SessionRecord): string {
  if (session.mode === 'setup')
    return '<h1>Save a card</h1><p>Your card is saved for later payments; nothing is charged now.</p>'
  const currency = session.currency ?? 'usd'
  const rows = session.lineItems
    .map(
      (item) =>
        `<tr><td>${escapeHtml(item.name)} × ${item.quantity}</td><td class="amount">${escapeHtml(formatAmount(item.unitAmount * item.quantity, currency))}</td></tr>`,
    )
    .join('')
  const total = escapeHtml(formatAmount(sessionTotal(session), currency))
  return `<h1>Pay ${total}</h1><table>${rows}<tr><td><strong>Total</strong></td><td class="amount"><strong>${total}</strong></td></tr></table>`
}

function checkoutPage(session: SessionRecord, error?: string): string {
  const action = `/c/pay/${encodeURIComponent(session.id)}`
  const email = session.customerEmail
  const emailField = email
    ? `<label for="email">Email</label><input id="email" name="email" type="email" autocomplete="email" value="${escapeHtml(email)}" readonly>`
    : '<label for="email">Email</label><input id="email" name="email" type="email" autocomplete="email" required>'
  const cards = TEST_CARDS.map(
    (c) => `<li><code>${c.number.replace(/(\d{4})(?=\d)/g, '$1 ')}</code>: ${escapeHtml(c.label)}</li>`,
  )
  const bankDebit =
    session.mode === 'payment' && paymentMethodTypes(session).includes('sepa_debit')
      ? `<fieldset><legend>Or pay by bank debit (settles later)</legend>
<form method="post" action="${action}">
<input type="hidden" name="method" value="sepa_debit">
${emailField.replace('id="email"', 'id="debit-email"').replace('for="email"', 'for="debit-email"')}
<label for="debit-outcome">The debit then</label>
<select id="debit-outcome" name="eventually"><option value="succeeded">succeeds</option><option value="failed">fails</option></select>
<button type="submit">Pay by bank debit</button>
</form></fieldset>`
      : ''
  const cancel = session.cancelUrl
    ? `<p><a href="${escapeHtml(session.cancelUrl)}">Cancel and go back</a></p>`
    : ''
  return layout(
    session.mode === 'setup' ? 'Save a card' : 'Pay',
    `${summary(session)}
${error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : ''}
<form method="post" action="${action}">
<input type="hidden" name="method" value="card">
${emailField}
<label for="name">Name on card</label><input id="name" name="name" autocomplete="cc-name">
<label for="card-number">Card number</label><input id="card-number" name="card_number" inputmode="numeric" autocomplete="cc-number" required>
<label for="card-expiry">Expiry (MM / YY)</label><input id="card-expiry" name="card_expiry" autocomplete="cc-exp" placeholder="12 / 34">
<label for="card-cvc">CVC</label><input id="card-cvc" name="card_cvc" inputmode="numeric" autocomplete="cc-csc">
<button type="submit">${session.mode === 'setup' ? 'Save card' : 'Pay'}</button>
</form>
${bankDebit}
${cancel}
<details><summary>Test cards</summary><ul>${cards.join('')}</ul></details>`,
  )
}

function closedPage(session: SessionRecord): string {
  if (session.status === 'complete') {
    return layout(
      'Complete',
      `<h1>This checkout is complete</h1><p><a href="${escapeHtml(session.successUrl.replaceAll('{CHECKOUT_SESSION_ID}', session.id))}">Continue</a></p>`,
    )
  }
  return layout(
    'Expired',
    '<h1>This checkout session has expired</h1><p>Go back to the shop to start again.</p>',
  )
}

function challengePage(session: SessionRecord): string {
  const action = `/c/pay/${encodeURIComponent(session.id)}/3ds`
  return layout(
    '3-D Secure',
    `<h1>3-D Secure authentication</h1>
<p>Your bank asks you to confirm this ${session.mode === 'setup' ? 'card' : 'payment'}.</p>
<form method="post" action="${action}"><input type="hidden" name="action" value="approve"><button type="submit">Complete authentication</button></form>
<form method="post" action="${action}"><input type="hidden" name="action" value="fail"><button type="submit">Fail authentication</button></form>`,
  )
}

/** `MM / YY`, `MM/YYYY`: the month and the four-digit year, or nothing when blank or malformed. */
function parseExpiry(text: string | null): { expMonth?: number; expYear?: number } {
  const match = /^\s*(\d{1,2})\s*\/\s*(\d{2}|\d{4})\s*$/.exec(text ?? '')
  if (!match) return {}
  const month = Number(match[1])
  const year = Number(match[2]?.length === 2 ? `20${match[2]}` : match[2])
  return month >= 1 && month <= 12 ? { expMonth: month, expYear: year } : {}
}

export class HostedPages {
  constructor(
    private readonly store: Store,
    private readonly payments: Payments,
  ) {}

  /** Serves `/c/pay/…`; answers false for any other path. */
  handle(req: IncomingMessage, res: ServerResponse, rawBody: string): boolean {
    const url = new URL(req.url ?? '/', 'http://double')
    const match = /^\/c\/pay\/([^/]+)(\/3ds)?$/.exec(url.pathname)
    if (!match) return false
    const id = decodeURIComponent(match[1] ?? '')
    const record = this.store.records.get(id)
    if (record?.object !== 'checkout.session') {
      send(
        res,
        404,
        layout('Not found', '<h1>Something went wrong</h1><p>This checkout session does not exist.</p>'),
      )
      return true
    }
    const session = record
    if (session.status !== 'open') {
      send(res, session.status === 'expired' ? 410 : 409, closedPage(session))
      return true
    }
    const form = new URLSearchParams(rawBody)
    const challenge = match[2] === '/3ds'
    if (req.method !== 'POST') {
      send(res, 200, challenge ? challengePage(session) : checkoutPage(session))
      return true
    }
    let result: PayResult
    try {
      result = challenge
        ? this.payments.authenticate(id, form.get('action') === 'approve')
        : this.submit(session, form)
    } catch (error) {
      if (!(error instanceof DoubleError)) throw error
      send(res, 409, checkoutPage(session, error.message))
      return true
    }
    if ('redirect' in result) redirect(res, result.redirect)
    else send(res, result.status === 'declined' ? 402 : 400, checkoutPage(session, result.message))
    return true
  }

  private submit(session: SessionRecord, form: URLSearchParams): PayResult {
    const email = form.get('email') ?? undefined
    const name = form.get('name') || undefined
    if (form.get('method') === 'sepa_debit') {
      const eventually = form.get('eventually') === 'failed' ? 'failed' : 'succeeded'
      return this.payments.payAsync(session.id, { email, name, eventually })
    }
    const entry = {
      number: form.get('card_number') ?? '',
      email,
      name,
      ...parseExpiry(form.get('card_expiry')),
    }
    return session.mode === 'setup'
      ? this.payments.save(session.id, entry)
      : this.payments.pay(session.id, entry)
  }
}
