// Merchants and their secret API keys.
import { type Db, touchLastUsed } from '../../lib/db.js'
import { AppError } from '../../lib/errors.js'
import { isEmailAddress } from '../../lib/http.js'
import { newObjectId, newPrefixedId } from '../../lib/ids.js'
import type { ApiKeyRow, Merchant } from '../../lib/schema.js'
import type { Clock } from '../../lib/time.js'
import { displayPrefix, hashesEqual, hashKey, isWellFormedSecretKey, newSecretKey } from './keys.js'
import * as repo from './repo.js'

export interface CreatedKey {
  key: ApiKeyRow
  /** The secret, returned this once and never again. */
  secret: string
}

export class MerchantService {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
  ) {}

  async createMerchant(input: {
    name: string
    email?: string | undefined
  }): Promise<{ merchant: Merchant } & CreatedKey> {
    const name = input.name.trim()
    if (name.length < 1 || name.length > 200)
      throw new AppError('validation_failed', 'name: must be 1 to 200 characters')
    const email = input.email?.trim() || null
    if (email !== null && !isEmailAddress(email)) {
      throw new AppError('validation_failed', 'email: must be a valid email address')
    }
    return this.db.transaction().execute(async (tx) => {
      const now = this.clock.now()
      const merchant = await repo.insertMerchant(tx, { id: newObjectId(now), name, email, created_at: now })
      const created = await this.insertKey(tx, merchant.id, now)
      return { merchant, ...created }
    })
  }

  async getMerchant(id: string): Promise<Merchant> {
    const merchant = await repo.findMerchant(this.db, id)
    if (!merchant) throw new AppError('merchant_not_found', `merchant ${id} not found`)
    return merchant
  }

  /** Every merchant, oldest first: an operator's list (the CLI), never scoped to a key. */
  listMerchants(): Promise<Merchant[]> {
    return repo.listMerchants(this.db)
  }

  countMerchants(): Promise<number> {
    return repo.countMerchants(this.db)
  }

  async createKey(merchantId: string): Promise<CreatedKey> {
    await this.getMerchant(merchantId)
    return this.insertKey(this.db, merchantId, this.clock.now())
  }

  listKeys(merchantId: string): Promise<ApiKeyRow[]> {
    return repo.listApiKeys(this.db, merchantId)
  }

  /** Revokes a key. Scoped to `merchantId` when given; revoking an already revoked key is a no-op. */
  async revokeKey(keyId: string, merchantId?: string): Promise<ApiKeyRow> {
    const revoked = await repo.revokeApiKey(this.db, keyId, merchantId, this.clock.now())
    if (revoked) return revoked
    const existing = await repo.findApiKey(this.db, keyId, merchantId)
    if (!existing) throw new AppError('api_key_not_found', `api key ${keyId} not found`)
    return existing
  }

  /** The merchant a presented secret key belongs to, or undefined when the key is unknown or revoked. */
  async authenticate(secret: string): Promise<{ merchantId: string; keyId: string } | undefined> {
    if (!isWellFormedSecretKey(secret)) return undefined
    const hash = hashKey(secret)
    const key = await repo.findApiKeyByHash(this.db, hash)
    // The lookup is by hash, so timing reveals nothing about the secret; compare again in constant time
    // so that correctness never rests on the index alone.
    if (!key || !hashesEqual(key.key_hash, hash) || key.revoked_at) return undefined
    await touchLastUsed(this.db, 'api_keys', key.id, this.clock.now())
    return { merchantId: key.merchant_id, keyId: key.id }
  }

  private async insertKey(
    db: Parameters<typeof repo.insertApiKey>[0],
    merchantId: string,
    now: Date,
  ): Promise<CreatedKey> {
    const secret = newSecretKey()
    const key = await repo.insertApiKey(db, {
      id: newPrefixedId('key'),
      merchant_id: merchantId,
      key_hash: hashKey(secret),
      prefix: displayPrefix(secret),
      created_at: now,
    })
    return { key, secret }
  }
}
