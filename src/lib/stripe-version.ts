// The Stripe API version paylinks speaks: the one the `stripe` package pins by default. Its type is the
// package's own constant, so upgrading the package to one pinned to another version fails the type check
// here until this line follows, deliberately (the Stripe double and the provider read it from here).
import type Stripe from 'stripe'

export const STRIPE_API_VERSION: typeof Stripe.API_VERSION = '2026-10-28.endive'
