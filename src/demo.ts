// Demo data for the first start on an empty database, so a new user has something to call, to open and
// to sign in to.
import { generatePassword } from './modules/users/password.js'
import type { Services } from './services.js'

export interface DemoData {
  merchantId: string
  merchantName: string
  apiKey: string
  userEmail: string
  userPassword: string
  projectId: string
  productIds: string[]
  paylinkId: string
}

/**
 * Creates the demo merchant, project, products and paylink on a database without merchants. Instances
 * starting together on one fresh database race for a claim row; only the winner seeds.
 */
export async function seedDemoIfEmpty(services: Services): Promise<DemoData | undefined> {
  const claimed = await services.database.db.transaction().execute(async (tx) => {
    const merchant = await tx.selectFrom('merchants').select('id').limit(1).executeTakeFirst()
    if (merchant) return false
    const claim = await tx
      .insertInto('settings')
      .values({ key: 'demo_seeded', value: JSON.stringify(true) })
      .onConflict((oc) => oc.column('key').doNothing())
      .returning('key')
      .executeTakeFirst()
    return claim !== undefined
  })
  return claimed ? seed(services) : undefined
}

async function seed(services: Services): Promise<DemoData> {
  const { merchant, secret } = await services.merchants.createMerchant({
    name: 'Demo Merchant',
    email: 'demo@example.com',
  })
  const project = await services.projects.create(merchant.id, {
    name: 'Demo Store',
    default_currency: 'USD',
    sales_email: 'sales@example.com',
  })
  const products = [
    {
      name: 'Paylinks T-shirt',
      sku: 'TSHIRT-1',
      prices: [
        { currency: 'USD', amount: 2500 },
        { currency: 'EUR', amount: 2300 },
      ],
    },
    {
      name: 'Sticker pack',
      sku: 'STICKERS',
      description: 'Ten vinyl stickers',
      prices: [
        { currency: 'USD', amount: 500 },
        { currency: 'EUR', amount: 450 },
        { currency: 'JPY', amount: 700 },
      ],
    },
    {
      name: 'Field guide (e-book)',
      sku: '1001',
      prices: [
        { currency: 'USD', amount: 1500 },
        { currency: 'KWD', amount: 4500 },
      ],
    },
  ]
  const created = []
  for (const product of products) {
    created.push(await services.products.create(merchant.id, { project_id: project.id, ...product }))
  }
  const productIds = created.map((p) => p.id)
  const paylink = await services.paylinks.create(merchant.id, {
    project_id: project.id,
    products: productIds.slice(0, 2),
    life_days: Math.max(...services.config.paylinkLifeDays),
    name: 'Demo: T-shirt and stickers',
  })
  const userPassword = generatePassword()
  const user = await services.users.create({
    merchantId: merchant.id,
    email: 'demo@example.com',
    password: userPassword,
    name: 'Demo User',
  })
  return {
    merchantId: merchant.id,
    merchantName: merchant.name,
    apiKey: secret,
    userEmail: user.email,
    userPassword,
    projectId: project.id,
    productIds,
    paylinkId: paylink.id,
  }
}
