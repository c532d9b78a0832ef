// Requests made with an Idempotency-Key (refunds), answered once per merchant and key, as Stripe does.
import { createHash } from 'node:crypto'
import { AppError } from '../../lib/errors.js'
import type { PaymentDeps } from './context.js'

/** What a request with an Idempotency-Key answered the first time, to answer again. */
export interface StoredAnswer {
  status: number
  body: unknown
}

/** Keys are kept a day, as Stripe keeps them. */
const IDEMPOTENCY_TTL_MS = 24 * 3_600_000

/**
 * Runs `work` once per merchant and key: the same key with the same request answers what the first one
 * answered (errors of the request's own making included); with another request, or while the first is
 * still running, it is a 409. A failure of ours (5xx) frees the key for a retry.
 */
export async function idempotent(
  deps: PaymentDeps,
  merchantId: string,
  key: string,
  operation: string,
  request: unknown,
  work: () => Promise<StoredAnswer>,
): Promise<StoredAnswer> {
  const requestHash = createHash('sha256')
    .update(JSON.stringify([operation, request]))
    .digest('hex')
  const now = deps.clock.now()
  await deps.db
    .deleteFrom('idempotency_keys')
    .where('merchant_id', '=', merchantId)
    .where('key', '=', key)
    .where('created_at', '<', new Date(now.getTime() - IDEMPOTENCY_TTL_MS))
    .execute()
  const claimed = await deps.db
    .insertInto('idempotency_keys')
    .values({
      merchant_id: merchantId,
      key,
      operation,
      request_hash: requestHash,
      status_code: null,
      response: null,
      created_at: now,
    })
    .onConflict((oc) => oc.columns(['merchant_id', 'key']).doNothing())
    .returning('key')
    .executeTakeFirst()
  if (!claimed) {
    const first = await deps.db
      .selectFrom('idempotency_keys')
      .selectAll()
      .where('merchant_id', '=', merchantId)
      .where('key', '=', key)
      .executeTakeFirstOrThrow()
    if (first.request_hash !== requestHash || first.operation !== operation) {
      throw new AppError(
        'idempotency_conflict',
        'Idempotency-Key: this key was used with another request; use a new key for a new request',
        { field: 'Idempotency-Key', rule: 'reused' },
      )
    }
    if (first.status_code === null) {
      throw new AppError(
        'idempotency_conflict',
        'Idempotency-Key: a request with this key is still being processed',
        {
          field: 'Idempotency-Key',
          rule: 'in_progress',
        },
      )
    }
    return { status: first.status_code, body: first.response }
  }
  let answer: StoredAnswer
  try {
    answer = await work()
  } catch (error) {
    if (error instanceof AppError && error.status < 500) {
      answer = {
        status: error.status,
        body: {
          code: error.code,
          message: error.message,
          ...(error.details ? { details: error.details } : {}),
        },
      }
    } else {
      await deps.db
        .deleteFrom('idempotency_keys')
        .where('merchant_id', '=', merchantId)
        .where('key', '=', key)
        .execute()
      throw error
    }
  }
  await deps.db
    .updateTable('idempotency_keys')
    .set({
      status_code: answer.status,
      response: JSON.stringify(answer.body),
      completed_at: deps.clock.now(),
    })
    .where('merchant_id', '=', merchantId)
    .where('key', '=', key)
    .execute()
  return answer
}
