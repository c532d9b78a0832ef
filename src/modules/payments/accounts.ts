// Provider accounts: which provider takes a project's payments, with the credentials to reach it. A
// merchant's projects use its sandbox account unless they are connected to another; credentials are
// sealed at rest and opened only in memory, for the length of a call.
import type { Db, Executor } from '../../lib/db.js'
import { AppError } from '../../lib/errors.js'
import { newPrefixedId } from '../../lib/ids.js'
import type { ProviderAccountRow, ProviderName } from '../../lib/schema.js'
import type { SecretBox } from '../../lib/secret-box.js'
import type { Clock } from '../../lib/time.js'
import type { PaymentProvider, ProviderAccount } from './provider.js'

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

/** What a sealed credential is bound to: its account and its column, so it cannot be moved elsewhere. */
export function sealContext(accountId: string, column: 'secret_key' | 'webhook_secret'): string {
  return `provider_accounts/${accountId}/${column}`
}
