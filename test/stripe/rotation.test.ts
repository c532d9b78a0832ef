// Rotating the master key that seals provider credentials: PAYLINKS_MASTER_KEY="new,old" opens with either
// and seals with the first, `paylinks secrets rotate` seals every credential again with it, and paylinks
// then starts with the new key alone and still uses the credentials: Stripe calls and Stripe's events.
import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openDatabase } from '../../src/lib/db.js'
import { keyId } from '../../src/lib/secret-box.js'
import { createTestDatabase } from '../helpers/database.js'
import { api, createMerchant } from '../helpers/factories.js'
import { runCli } from '../helpers/process.js'
import { type StripeDouble, startStripeDouble } from '../stripe-double/index.js'
import { comeBack, goToStripe, openOrder, orderOf, type StripeShop, startWorld, stripeShop } from './world.js'

const oldKey = randomBytes(32).toString('hex')
const newKey = randomBytes(32).toString('hex')
let double: StripeDouble
let database: { url: string; drop(): Promise<void> }

beforeAll(async () => {
  double = await startStripeDouble()
  database = await createTestDatabase()
})
afterAll(async () => {
  await double?.close()
  await database?.drop()
})

/** The ids of the master keys the stored credentials are sealed with. */
async function sealedWith(url: string): Promise<string[]> {
  const db = await openDatabase({ databaseUrl: url, poolSize: 1 })
  try {
    const rows = await db.db
      .selectFrom('provider_accounts')
      .select(['secret_key', 'webhook_secret'])
      .execute()
    return rows
      .flatMap((r) => [r.secret_key, r.webhook_secret])
      .filter((v): v is string => v !== null)
      .map((v) => v.split('.')[1] as string)
  } finally {
    await db.close()
  }
}

describe('paylinks secrets rotate', () => {
  it('seals every credential with the new key, after which the new key alone opens them', async () => {
    let shop: StripeShop
    const before = await startWorld({ double, databaseUrl: database.url, masterKey: oldKey })
    try {
      shop = await stripeShop(before, { merchant: await createMerchant(before.services, 'Rotating') })
      // The merchant's sandbox account has a sealed secret too.
      await before.services.payments.accounts.sandboxAccount(before.database.db, shop.merchant.id)
    } finally {
      await before.close()
    }
    expect(await sealedWith(database.url)).toEqual(Array(3).fill(keyId(Buffer.from(oldKey, 'hex'))))

    const env = { DATABASE_URL: database.url, PAYLINKS_MASTER_KEY: `${newKey},${oldKey}` }
    const rotated = await runCli(['secrets', 'rotate'], env)
    expect(rotated).toMatchObject({ code: 0, stderr: '' })
    expect(rotated.stdout).toBe(
      'resealed 2 of 2 provider accounts with the current master key; the previous keys can now be removed from PAYLINKS_MASTER_KEY\n',
    )
    expect(await sealedWith(database.url)).toEqual(Array(3).fill(keyId(Buffer.from(newKey, 'hex'))))
    const again = await runCli(['secrets', 'rotate'], env)
    expect(again.stdout).toContain(
      'resealed 0 of 2 provider accounts with the current master key (2 had it already)',
    )

    // The old key alone no longer opens anything, and says which key is missing.
    const stale = await runCli(['secrets', 'rotate'], {
      DATABASE_URL: database.url,
      PAYLINKS_MASTER_KEY: oldKey,
    })
    expect(stale.code).toBe(1)
    expect(stale.stderr).toBe(
      `paylinks: sealed with key ${keyId(Buffer.from(newKey, 'hex'))}, which is not among the configured master keys\n`,
    )

    // Started with the new key alone, paylinks calls Stripe with the key and verifies its events.
    const after = await startWorld({ double, databaseUrl: database.url, masterKey: newKey })
    try {
      const provider = await api(
        after.app,
        shop.merchant,
        'GET',
        `/projects/${shop.projectId}/payment-provider`,
      )
      expect(provider.body).toMatchObject({ provider: 'stripe', account_id: shop.accountId })
      // The events URL names the new process's address now.
      double.setWebhook(shop.stripe.id, provider.body.events_url)
      const orderId = await openOrder(after, shop)
      double.clearRequests()
      const checkout = await goToStripe(after, orderId)
      expect(checkout.res.statusCode).toBe(303)
      expect(double.requests({ method: 'POST', path: '/v1/checkout/sessions' })[0]?.apiKey).toBe(
        shop.stripe.secretKey,
      )
      double.pay(checkout.sessionId as string)
      await double.eventsSettled()
      const [completed] = double
        .deliveries({ type: 'checkout.session.completed' })
        .filter((d) => JSON.parse(d.body).received === true)
      expect(completed?.status).toBe(200)
      expect((await orderOf(after, shop, orderId)).status).toBe('paid')
      const back = await comeBack(after, `${after.baseUrl}/pay/${orderId}`, checkout.cookie)
      expect(back.body).toContain('went through')
    } finally {
      await after.close()
    }
  })
})
