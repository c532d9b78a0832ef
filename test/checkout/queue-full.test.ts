// GET /paylink/:id while the database is held up: past VISIT_QUEUE_LIMIT waiting visits the link answers
// 503 with Retry-After, and every visit that was answered with its order is there once the database is back.
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BROWSER_UA } from '../helpers/buyer.js'
import {
  createMerchant,
  createPaylink,
  createProduct,
  createProject,
  listenToEverything,
} from '../helpers/factories.js'
import { type LiveApp, startLiveApp } from '../helpers/live.js'
import { waitFor } from '../helpers/wait.js'

let live: LiveApp
beforeAll(async () => {
  live = await startLiveApp({ VISIT_QUEUE_LIMIT: '1' })
})
afterAll(() => live.close())

const open = async (url: string) => {
  const res = await fetch(url, { redirect: 'manual', headers: { 'user-agent': BROWSER_UA } })
  return { status: res.status, headers: res.headers, body: await res.text() }
}

describe('GET /paylink/:id with a full queue', () => {
  it('answers 503 with Retry-After and a page while the visits table is locked, and loses no acknowledged visit', async () => {
    const merchant = await createMerchant(live.services)
    await listenToEverything(live.services, merchant.id)
    const project = await createProject(live.app, merchant)
    const product = await createProduct(live.app, merchant, project.id)
    const link = await createPaylink(live.app, merchant, project.id, [product.id])
    const url = `${live.baseUrl}/paylink/${link.id}`
    expect((await open(url)).status).toBe(302)

    // Another connection holds the visits table: every write of a visit waits for it.
    const locker = new pg.Client({ connectionString: live.databaseUrl })
    await locker.connect()
    const answers: Awaited<ReturnType<typeof open>>[] = []
    let requests: Promise<void>[] = []
    try {
      await locker.query('BEGIN')
      await locker.query('LOCK TABLE visits IN ACCESS EXCLUSIVE MODE')
      requests = Array.from({ length: 12 }, () => open(url).then((answer) => void answers.push(answer)))
      // Writes in flight and one waiting visit fill the queue: the next requests are refused at once.
      await waitFor(() => answers.some((a) => a.status === 503), 'a request refused with 503')
      // Nothing was acknowledged while the table was locked: a 302 only follows a commit.
      expect(answers.every((a) => a.status === 503)).toBe(true)
    } finally {
      await locker.query('ROLLBACK').catch(() => {})
      await locker.end()
    }
    await Promise.all(requests)

    const refused = answers.filter((a) => a.status === 503)
    const redirected = answers.filter((a) => a.status === 302)
    expect(refused.length + redirected.length).toBe(12)
    expect(redirected.length).toBeGreaterThan(0)
    for (const answer of refused) {
      expect(answer.headers.get('retry-after')).toBe('1')
      expect(answer.headers.get('content-type')).toBe('text/html; charset=utf-8')
      expect(answer.headers.get('content-security-policy')).toContain("default-src 'none'")
      expect(answer.body).toContain('Too busy right now')
      expect(answer.body).toContain('Nothing was ordered and no money was taken.')
    }

    // Every redirect's order, its visit and its order.created event were committed; no refused one was.
    const orderIds = redirected.map(
      (a) => /\/pay\/(ord_[0-9a-f]{24})/.exec(a.headers.get('location') ?? '')?.[1],
    )
    const { db } = live.database
    const visits = await db
      .selectFrom('visits')
      .select('order_id')
      .where('paylink_id', '=', link.id)
      .execute()
    const orders = await db.selectFrom('orders').select('id').where('paylink_id', '=', link.id).execute()
    const created = await db
      .selectFrom('events')
      .select('id')
      .where('type', '=', 'order.created')
      .where('merchant_id', '=', merchant.id)
      .execute()
    expect(visits).toHaveLength(1 + redirected.length)
    expect(orders).toHaveLength(1 + redirected.length)
    expect(created).toHaveLength(1 + redirected.length)
    expect(orders.map((o) => o.id)).toEqual(expect.arrayContaining(orderIds))
    expect(visits.map((v) => v.order_id)).toEqual(expect.arrayContaining(orderIds))
  })
})
