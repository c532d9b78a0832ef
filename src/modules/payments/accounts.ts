// Provider accounts: which provider takes a project's payments, with the credentials to reach it. A
// merchant's projects use its sandbox account unless they are connected to another; credentials are
// sealed at rest and opened only in memory, for the length of a call.
import type { Db, Executor } from '../../lib/db.js'
import { AppError, invalid } from '../../lib/errors.js'
import { newPrefixedId } from '../../lib/ids.js'
import { isUniqueViolation } from '../../lib/pg-errors.js'
import type { ProviderAccountRow, ProviderName } from '../../lib/schema.js'
import type { SecretBox } from '../../lib/secret-box.js'
import type { Clock } from '../../lib/time.js'
import { type PaymentProvider, type ProviderAccount, ProviderError } from './provider.js'

export type ProviderRegistry = Partial<Record<ProviderName, PaymentProvider>>

/** A project's provider as its buyers' pages show it. */
export interface ProjectDescription {
  name: ProviderName
  label: string
  livemode: boolean
  pageOrigin: string | undefined
}

export interface BoundProvider {
  account: ProviderAccount
  provider: PaymentProvider
}

export class ProviderAccounts {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly box: SecretBox,
    readonly providers: ProviderRegistry,
    /** The sandbox's signing secret for an account, as its "dashboard" would show it. */
    private readonly sandboxSecret: (accountId: string) => Promise<string>,
  ) {}

  provider(name: ProviderName): PaymentProvider {
    const provider = this.providers[name]
    if (!provider) throw new AppError('internal_error', `the ${name} provider is not available`)
    return provider
  }

  /** The account a project's new payments go to. */
  async forProject(db: Executor, projectId: string): Promise<BoundProvider> {
    const project = await db
      .selectFrom('projects')
      .select(['merchant_id', 'provider_account_id'])
      .where('id', '=', projectId)
      .executeTakeFirstOrThrow()
    const row = project.provider_account_id
      ? await this.row(db, project.provider_account_id)
      : await this.sandboxAccount(db, project.merchant_id)
    return this.bind(row)
  }

  /** What the buyer's pages say of a project's provider, without opening any credential. */
  async describeProject(projectId: string): Promise<ProjectDescription> {
    const project = await this.db
      .selectFrom('projects')
      .leftJoin('provider_accounts', 'provider_accounts.id', 'projects.provider_account_id')
      .select(['provider_accounts.provider', 'provider_accounts.livemode'])
      .where('projects.id', '=', projectId)
      .executeTakeFirstOrThrow()
    const name = project.provider ?? 'sandbox'
    const provider = this.provider(name)
    return {
      name,
      label: provider.label,
      livemode: project.livemode ?? false,
      pageOrigin: provider.pageOrigin,
    }
  }

  /** An account by id, for events and lookups of payments made through it. */
  async byId(db: Executor, id: string): Promise<BoundProvider | undefined> {
    const row = await db.selectFrom('provider_accounts').selectAll().where('id', '=', id).executeTakeFirst()
    return row ? this.bind(row) : undefined
  }

  /** The name an account's buyers see on the provider's page: its merchant's. */
  async businessName(id: string): Promise<string> {
    const row = await this.db
      .selectFrom('provider_accounts')
      .innerJoin('merchants', 'merchants.id', 'provider_accounts.merchant_id')
      .select('merchants.name')
      .where('provider_accounts.id', '=', id)
      .executeTakeFirst()
    return row?.name ?? 'a merchant'
  }

  /** The account a project's new payments go to; undefined for the sandbox (no credentials to show). */
  async projectAccount(projectId: string): Promise<ProviderAccountRow | undefined> {
    return this.db
      .selectFrom('projects')
      .innerJoin('provider_accounts', 'provider_accounts.id', 'projects.provider_account_id')
      .selectAll('provider_accounts')
      .where('projects.id', '=', projectId)
      .executeTakeFirst()
  }

  /** The project's payments go to the merchant's sandbox from now on; earlier ones keep their account. */
  async useSandbox(projectId: string): Promise<void> {
    await this.db
      .updateTable('projects')
      .set({ provider_account_id: null, updated_at: this.clock.now() })
      .where('id', '=', projectId)
      .execute()
  }

  /**
   * Connects a project (of `merchantId`, checked by the caller) to a Stripe account, or changes what is
   * saved of the one it uses. A new key is checked at Stripe first, and nothing is stored when it is
   * refused. The merchant's account for that Stripe account and mode is updated in place when there is one
   * (a rolled key keeps its events URL), made otherwise. The signing secret may come later (the events URL
   * to register at Stripe exists once the key is saved): left out, the one saved before stays. Payments
   * made earlier keep the account they were made through, whatever the project uses next.
   */
  async saveStripe(
    merchantId: string,
    projectId: string,
    credentials: { secretKey?: string | undefined; webhookSecret?: string | undefined },
  ): Promise<ProviderAccountRow> {
    const { secretKey, webhookSecret } = credentials
    if (secretKey === undefined) {
      const current = await this.projectAccount(projectId)
      if (current?.provider !== 'stripe' || webhookSecret === undefined)
        throw invalid('secret_key', 'required', 'is required with provider stripe')
      return this.db
        .updateTable('provider_accounts')
        .set({
          webhook_secret: this.box.seal(webhookSecret, sealContext(current.id, 'webhook_secret')),
          updated_at: this.clock.now(),
        })
        .where('id', '=', current.id)
        .returningAll()
        .executeTakeFirstOrThrow()
    }
    const provider = this.provider('stripe')
    let verified: { externalAccountId: string; livemode: boolean }
    try {
      if (!provider.verifyCredentials) throw new Error('the Stripe provider cannot check keys')
      verified = await provider.verifyCredentials({ secretKey })
    } catch (error) {
      throw keyRefusal(error)
    }
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.saveStripeAccount(merchantId, projectId, { secretKey, webhookSecret }, verified)
      } catch (error) {
        // Another save made the same account meanwhile: the next attempt updates that one.
        if (attempt > 0 || !isUniqueViolation(error, 'provider_accounts_one_per_stripe_account')) throw error
      }
    }
  }

  private async saveStripeAccount(
    merchantId: string,
    projectId: string,
    credentials: { secretKey: string; webhookSecret: string | undefined },
    verified: { externalAccountId: string; livemode: boolean },
  ): Promise<ProviderAccountRow> {
    const now = this.clock.now()
    return this.db.transaction().execute(async (tx) => {
      const existing = await tx
        .selectFrom('provider_accounts')
        .select('id')
        .where('merchant_id', '=', merchantId)
        .where('provider', '=', 'stripe')
        .where('external_account_id', '=', verified.externalAccountId)
        .where('livemode', '=', verified.livemode)
        .forUpdate()
        .executeTakeFirst()
      const id = existing?.id ?? newPrefixedId('pa')
      const sealed = {
        secret_key: this.box.seal(credentials.secretKey, sealContext(id, 'secret_key')),
        secret_key_last4: credentials.secretKey.slice(-4),
        ...(credentials.webhookSecret !== undefined
          ? { webhook_secret: this.box.seal(credentials.webhookSecret, sealContext(id, 'webhook_secret')) }
          : {}),
        updated_at: now,
        retired_at: null,
      }
      const row = existing
        ? await tx
            .updateTable('provider_accounts')
            .set(sealed)
            .where('id', '=', id)
            .returningAll()
            .executeTakeFirstOrThrow()
        : await tx
            .insertInto('provider_accounts')
            .values({
              id,
              merchant_id: merchantId,
              provider: 'stripe',
              livemode: verified.livemode,
              external_account_id: verified.externalAccountId,
              webhook_secret: null,
              created_at: now,
              ...sealed,
            })
            .returningAll()
            .executeTakeFirstOrThrow()
      await tx
        .updateTable('projects')
        .set({ provider_account_id: id, updated_at: now })
        .where('id', '=', projectId)
        .execute()
      return row
    })
  }

  /**
   * Seals every credential again with the current master key (the first of PAYLINKS_MASTER_KEY), opening
   * it with whichever configured key sealed it. Each account is rewritten under its row lock; one that was
   * sealed with the current key already is left as it is. Answers how many there are and how many changed.
   */
  async resealAll(): Promise<{ accounts: number; resealed: number }> {
    const ids = await this.db.selectFrom('provider_accounts').select('id').orderBy('id').execute()
    let resealed = 0
    for (const { id } of ids) {
      const changed = await this.db.transaction().execute(async (tx) => {
        const row = await tx
          .selectFrom('provider_accounts')
          .selectAll()
          .where('id', '=', id)
          .forUpdate()
          .executeTakeFirstOrThrow()
        const again = (column: 'secret_key' | 'webhook_secret') => {
          const value = row[column]
          if (!value || !this.box.isStale(value)) return value
          return this.box.seal(this.box.open(value, sealContext(id, column)), sealContext(id, column))
        }
        const secretKey = again('secret_key')
        const webhookSecret = again('webhook_secret')
        if (secretKey === row.secret_key && webhookSecret === row.webhook_secret) return false
        await tx
          .updateTable('provider_accounts')
          .set({ secret_key: secretKey, webhook_secret: webhookSecret })
          .where('id', '=', id)
          .execute()
        return true
      })
      if (changed) resealed++
    }
    return { accounts: ids.length, resealed }
  }

  private async row(db: Executor, id: string): Promise<ProviderAccountRow> {
    return db.selectFrom('provider_accounts').selectAll().where('id', '=', id).executeTakeFirstOrThrow()
  }

  /** The merchant's sandbox account, made on first use (concurrent first uses make one). */
  async sandboxAccount(db: Executor, merchantId: string): Promise<ProviderAccountRow> {
    const existing = await db
      .selectFrom('provider_accounts')
      .selectAll()
      .where('merchant_id', '=', merchantId)
      .where('provider', '=', 'sandbox')
      .executeTakeFirst()
    if (existing) return existing
    const now = this.clock.now()
    const id = newPrefixedId('pa')
    await db
      .insertInto('provider_accounts')
      .values({
        id,
        merchant_id: merchantId,
        provider: 'sandbox',
        livemode: false,
        secret_key: null,
        secret_key_last4: null,
        webhook_secret: this.box.seal(await this.sandboxSecret(id), sealContext(id, 'webhook_secret')),
        external_account_id: null,
        created_at: now,
        updated_at: now,
      })
      .onConflict((oc) => oc.column('merchant_id').where('provider', '=', 'sandbox').doNothing())
      .execute()
    return db
      .selectFrom('provider_accounts')
      .selectAll()
      .where('merchant_id', '=', merchantId)
      .where('provider', '=', 'sandbox')
      .executeTakeFirstOrThrow()
  }

  /** Opens the account's credentials in memory. */
  open(row: ProviderAccountRow): ProviderAccount {
    return {
      id: row.id,
      merchantId: row.merchant_id,
      provider: row.provider,
      livemode: row.livemode,
      secretKey: row.secret_key ? this.box.open(row.secret_key, sealContext(row.id, 'secret_key')) : null,
      webhookSecret: row.webhook_secret
        ? this.box.open(row.webhook_secret, sealContext(row.id, 'webhook_secret'))
        : null,
    }
  }

  private bind(row: ProviderAccountRow): BoundProvider {
    return { account: this.open(row), provider: this.provider(row.provider) }
  }
}

/** A key the provider would not take, as the admin API answers it: nothing was saved. */
function keyRefusal(error: unknown): unknown {
  if (!(error instanceof ProviderError)) return error
  if (error.kind === 'unavailable') {
    return new AppError(
      'service_unavailable',
      'secret_key: Stripe could not be reached to check the key; nothing was saved. Try again in a moment.',
      { field: 'secret_key', rule: 'unchecked' },
    )
  }
  if (error.code === 'invalid_api_key')
    return invalid(
      'secret_key',
      'rejected',
      'Stripe does not accept this key (401 Invalid API Key); copy a current secret key from the API keys page of the Stripe dashboard',
    )
  if (error.code === 'permission_denied')
    return invalid(
      'secret_key',
      'rejected',
      'Stripe accepts this restricted key but it may not read the account; give it read access to Account (and write access to Checkout Sessions and Refunds)',
    )
  return invalid('secret_key', 'rejected', `Stripe refused to check this key: ${error.message}`)
}

/** What a sealed credential is bound to: its account and its column, so it cannot be moved elsewhere. */
export function sealContext(accountId: string, column: 'secret_key' | 'webhook_secret'): string {
  return `provider_accounts/${accountId}/${column}`
}
