import { sql } from 'kysely'
import type { Executor } from '../../src/lib/db.js'

/**
 * Everything the statistics hold, by name rather than by number, in one order: the rollup rows that
 * count something (a rebuild writes no empty ones), the first visits of visitors, and the queue's length.
 */
export async function statsSnapshot(db: Executor) {
  const { rows: rollups } = await sql<Record<string, string>>`
    select o.name as owner, s.dim, s.grain, s.bucket, k.name as key, c.name as cur,
           s.visits, s.visitors, s.orders, s.paid_orders, s.revenue, s.refunded
    from stat_rollups s
    join stat_names o on o.id = s.owner join stat_names k on k.id = s.key join stat_names c on c.id = s.cur
    where (s.visits, s.visitors, s.orders, s.paid_orders, s.revenue, s.refunded) <> (0, 0, 0, 0, 0, 0)
    order by 1, 2, 3, 4, 5, 6`.execute(db)
  const { rows: firsts } = await sql<{ id: string }>`
    select visit_id as id from stat_visitors order by visit_id`.execute(db)
  const { rows: queue } = await sql<{ n: string }>`select count(*) as n from stat_queue`.execute(db)
  return { rollups, firsts: firsts.map((r) => r.id), queued: Number(queue[0]?.n) }
}
