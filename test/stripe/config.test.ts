// STRIPE_API_URL: where the Stripe provider sends its calls, and what the client is given of it.
import { describe, expect, it } from 'vitest'
import { ConfigError, loadConfig } from '../../src/lib/config.js'
import { endpointOf } from '../../src/modules/stripe/client.js'
import { StripeProvider } from '../../src/modules/stripe/provider.js'

describe('STRIPE_API_URL', () => {
  it('is Stripe itself when unset, whose pages are on checkout.stripe.com', () => {
    expect(loadConfig({}).stripeApiUrl).toBeUndefined()
    expect(new StripeProvider().pageOrigin).toBe('https://checkout.stripe.com')
  })

  it('takes a base URL, as the client’s host, port and protocol, and as the origin of the pages', () => {
    const url = loadConfig({ STRIPE_API_URL: 'http://127.0.0.1:12111/' }).stripeApiUrl
    expect(url).toBe('http://127.0.0.1:12111')
    expect(endpointOf(url as string)).toEqual({ host: '127.0.0.1', port: 12111, protocol: 'http' })
    expect(endpointOf('https://stripe-double.internal')).toEqual({
      host: 'stripe-double.internal',
      port: 443,
      protocol: 'https',
    })
    expect(new StripeProvider({ apiUrl: url }).pageOrigin).toBe('http://127.0.0.1:12111')
  })

  it.each([
    ['ftp://api.example', 'must be an absolute http:// or https:// URL'],
    ['api.stripe.com', 'must be an absolute http:// or https:// URL'],
    [
      'https://api.example/v1',
      'must be the base URL only (scheme, host and port), without a path, query or fragment',
    ],
    [
      'https://api.example/?x=1',
      'must be the base URL only (scheme, host and port), without a path, query or fragment',
    ],
    ['https://user:pw@api.example', 'must not carry a user name or password'],
  ])('refuses %s', (raw, rule) => {
    expect(() => loadConfig({ STRIPE_API_URL: raw })).toThrow(
      new ConfigError([`STRIPE_API_URL=${JSON.stringify(raw)}: ${rule}`]),
    )
  })
})
