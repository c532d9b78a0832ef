// Portals of a merchant's SaaS and the portal payment API: sales requests, payment URLs for quantities,
// and checkout-setup pages that save a payment method.
import { randomBytes } from 'node:crypto'
import type { Config } from '../../lib/config.js'
import { type Db, pageWithTotal, softDelete, type Tx, touchLastUsed } from '../../lib/db.js'
import { AppError, invalid } from '../../lib/errors.js'
import { newPrefixedId } from '../../lib/ids.js'
import { hashesEqual, hashKey } from '../../lib/keys.js'
import type { Logger } from '../../lib/logger.js'
import type { Mailer } from '../../lib/mailer.js'
import { firstLineOverMaxAmount, MAX_AMOUNT } from '../../lib/money.js'
import type { CheckoutSetupRow, PaymentRequestRow, PortalKeyRow, PortalRow } from '../../lib/schema.js'
import type { Clock } from '../../lib/time.js'
import * as orderRepo from '../orders/repo.js'
import type { OrderService } from '../orders/service.js'
import type { ProjectDescription, ProviderAccounts } from '../payments/accounts.js'
import { ProviderError, type ProviderUpdate, type SetupSnapshot } from '../payments/provider.js'
import type { Applied } from '../payments/settle.js'
import type { ProjectService } from '../projects/service.js'
import { emitEvent } from '../webhooks/events.js'
import { checkReturnUrl, readQuantities } from './input.js'
import * as repo from './repo.js'
import { type CreatePortalBody, paymentMethodView, paymentRequestView } from './schemas.js'

const PORTAL_KEY = /^sk-[0-9a-f]{64}$/
const SETUP_TTL_MS = 24 * 60 * 60 * 1000

/** A checkout setup with what its page shows. */
export interface SetupPage extends CheckoutSetupRow {
  portal_name: string
  merchant_id: string
  project_id: string
  project_name: string
  merchant_name: string
  provider: ProjectDescription
}

export interface PortalPrincipal {
  keyId: string
  portalId: string
  portalName: string
  merchantId: string
  projectId: string
  projectName: string
  defaultCurrency: string
  salesEmail: string | null
}

export class PortalService {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly config: Pick<Config, 'publicUrl'>,
    private readonly projects: ProjectService,
    private readonly orders: OrderService,
    private readonly mailer: Mailer,
    private readonly logger: Logger,
    private readonly accounts: ProviderAccounts,
  ) {}

  // — Admin side —

  async create(merchantId: string, input: CreatePortalBody): Promise<PortalRow> {
    const project = await this.projects.get(merchantId, input.project_id)
    const now = this.clock.now()
    return repo.insertPortal(this.db, {
      id: newPrefixedId('por'),
      merchant_id: merchantId,
      project_id: project.id,
      name: input.name.trim(),
      created_at: now,
      updated_at: now,
    })
  }

  async get(merchantId: string, id: string): Promise<PortalRow> {
    const portal = await repo.findPortal(this.db, merchantId, id)
    if (!portal) throw new AppError('portal_not_found')
    return portal
  }

  list(merchantId: string, projectId: string | undefined, offset: number, limit: number) {
    return repo.listPortals(this.db, merchantId, projectId, offset, limit)
  }

  async delete(merchantId: string, id: string): Promise<void> {
    if (!(await softDelete(this.db, 'portals', merchantId, id, this.clock.now())))
      throw new AppError('portal_not_found')
  }

  /** A new portal key, `sk-` and 64 hex, returned this once and stored as its SHA-256. */
  async createKey(merchantId: string, portalId: string): Promise<{ key: PortalKeyRow; secret: string }> {
    const portal = await this.get(merchantId, portalId)
    const secret = `sk-${randomBytes(32).toString('hex')}`
    const key = await repo.insertPortalKey(this.db, {
      id: newPrefixedId('pkey'),
      portal_id: portal.id,
      key_hash: hashKey(secret),
      prefix: secret.slice(0, 9),
      created_at: this.clock.now(),
    })
    return { key, secret }
  }

  async listKeys(merchantId: string, portalId: string): Promise<PortalKeyRow[]> {
    await this.get(merchantId, portalId)
    return repo.listPortalKeys(this.db, portalId)
  }

  async revokeKey(merchantId: string, portalId: string, keyId: string): Promise<PortalKeyRow> {
    await this.get(merchantId, portalId)
    const key = await repo.revokePortalKey(this.db, portalId, keyId, this.clock.now())
    if (!key) throw new AppError('api_key_not_found', `portal key ${keyId} not found`)
    return key
  }

  async paymentMethod(merchantId: string, portalId: string) {
    await this.get(merchantId, portalId)
    const method = await repo.currentPaymentMethod(this.db, portalId)
    if (!method) throw new AppError('payment_method_not_found', 'the portal has no saved payment method')
    return method
  }

  async listPaymentRequests(
    merchantId: string,
    filter: { portalId?: string; projectId?: string; offset: number; limit: number },
  ) {
    let base = this.db.selectFrom('payment_requests').where('merchant_id', '=', merchantId)
    if (filter.portalId) base = base.where('portal_id', '=', filter.portalId)
    if (filter.projectId) base = base.where('project_id', '=', filter.projectId)
    return pageWithTotal(base, (q) =>
      q
        .selectAll()
        .orderBy('created_at', 'desc')
        .orderBy('id', 'desc')
        .offset(filter.offset)
        .limit(filter.limit)
        .execute(),
    )
  }

  // — The portal payment API —

  /** The portal a presented key opens, or undefined for a malformed, unknown or revoked key. */
  async authenticate(secret: string): Promise<PortalPrincipal | undefined> {
    if (!PORTAL_KEY.test(secret)) return undefined
    const hash = hashKey(secret)
    const row = await repo.findPortalByKeyHash(this.db, hash)
    if (!row || !hashesEqual(row.key_hash, hash) || row.revoked_at) return undefined
    await touchLastUsed(this.db, 'portal_keys', row.key_id, this.clock.now())
    return {
      keyId: row.key_id,
      portalId: row.portal_id,
      portalName: row.portal_name,
      merchantId: row.merchant_id,
      projectId: row.project_id,
      projectName: row.project_name,
      defaultCurrency: row.default_currency,
      salesEmail: row.sales_email,
    }
  }

  /** Stores a sales request, then mails it to the project's sales address (outside the transaction). */
  async sendPaymentRequest(
    portal: PortalPrincipal,
    input: { userName: string; email: string; message: string },
  ): Promise<PaymentRequestRow> {
    const now = this.clock.now()
    // The request and its event commit together; the mail goes out after the commit.
    const request = await this.db.transaction().execute(async (tx) => {
      const row = await tx
        .insertInto('payment_requests')
        .values({
          id: newPrefixedId('preq'),
          merchant_id: portal.merchantId,
          project_id: portal.projectId,
          portal_id: portal.portalId,
          user_name: input.userName.trim(),
          email: input.email.trim(),
          message: input.message.trim(),
          mail_error: null,
          created_at: now,
        })
        .returningAll()
        .executeTakeFirstOrThrow()
      await emitEvent(tx, {
        merchantId: portal.merchantId,
        type: 'portal.payment_request.created',
        data: paymentRequestView(row),
        at: now,
      })
      return row
    })
    const mail = await this.mailRequest(portal, request)
    return this.db
      .updateTable('payment_requests')
      .set(mail)
      .where('id', '=', request.id)
      .returningAll()
      .executeTakeFirstOrThrow()
  }

  private async mailRequest(
    portal: PortalPrincipal,
    request: PaymentRequestRow,
  ): Promise<Pick<PaymentRequestRow, 'mail_status' | 'mail_error'>> {
    if (!portal.salesEmail) return { mail_status: 'no_recipient', mail_error: null }
    try {
      const status = await this.mailer.send({
        to: portal.salesEmail,
        replyTo: request.email,
        subject: `Payment request from ${request.user_name} (${portal.portalName})`,
        text: [
          `${request.user_name} <${request.email}> sent a payment request from portal "${portal.portalName}"`,
          `(${portal.portalId}) of project "${portal.projectName}".`,
          '',
          request.message,
          '',
          `Request ${request.id}, ${request.created_at.toISOString()}`,
        ].join('\n'),
      })
      return { mail_status: status, mail_error: null }
    } catch (err) {
      // The request is stored either way; the merchant sees in the admin API that its mail failed.
      this.logger.error({ err, paymentRequest: request.id }, 'payment request mail failed')
      return { mail_status: 'failed', mail_error: (err as Error).message.slice(0, 500) }
    }
  }

  /**
   * Creates an order of the portal for the given quantities and answers its payment page URL. After
   * paying, the buyer goes to `successUrl` when given, else to `backUrl`; `backUrl` stays the way back.
   */
  async paymentUrl(
    portal: PortalPrincipal,
    input: { backUrl: unknown; successUrl?: unknown; quantity?: unknown },
  ): Promise<string> {
    const backUrl = checkReturnUrl('backUrl', input.backUrl)
    const successUrl =
      input.successUrl === undefined || input.successUrl === null
        ? null
        : checkReturnUrl('successUrl', input.successUrl)
    const entries = readQuantities(input.quantity)

    const identifiers = entries.map(([item]) => item)
    const currency = portal.defaultCurrency
    const products = await this.db
      .selectFrom('products')
      .leftJoin('product_prices', (join) =>
        join
          .onRef('product_prices.product_id', '=', 'products.id')
          .on('product_prices.currency', '=', currency),
      )
      .select(['products.id', 'products.sku', 'products.name', 'product_prices.amount'])
      .where('products.project_id', '=', portal.projectId)
      .where('products.archived_at', 'is', null)
      .where((eb) => eb.or([eb('products.id', 'in', identifiers), eb('products.sku', 'in', identifiers)]))
      .execute()
    const lines = entries.map(([item, count]) => {
      // An identifier is a product id first, else a SKU of the portal's project.
      const product = products.find((p) => p.id === item) ?? products.find((p) => p.sku === item)
      if (!product) {
        throw invalid(
          `quantity.${item}`,
          'unknown',
          "is not the id or SKU of a product of the portal's project",
        )
      }
      if (product.amount === null) throw invalid(`quantity.${item}`, 'price', `has no price in ${currency}`)
      return {
        productId: product.id,
        name: product.name,
        quantity: count,
        unitAmount: Number(product.amount),
      }
    })
    if (new Set(lines.map((l) => l.productId)).size !== lines.length) {
      throw invalid('quantity', 'uniqueItems', 'names the same product twice (by id and by SKU)')
    }
    const over = firstLineOverMaxAmount(lines)
    if (over !== -1) {
      throw invalid(
        `quantity.${entries[over]?.[0]}`,
        'maxTotal',
        `brings the order total over the maximum amount, ${MAX_AMOUNT} minor units of ${currency}`,
      )
    }
    const { order, items } = this.orders.build(
      {
        merchantId: portal.merchantId,
        projectId: portal.projectId,
        currency,
        lines,
        source: { portalId: portal.portalId, backUrl, successUrl },
        livemode: (await this.accounts.describeProject(portal.projectId)).livemode,
      },
      this.clock.now(),
    )
    await this.db.transaction().execute(async (tx) => {
      await orderRepo.insertOrder(tx, order, items)
      await this.orders.emit(tx, 'order.created', order.id)
    })
    return `${this.config.publicUrl}/pay/${order.id}`
  }

  /**
   * Opens a checkout-setup session and answers the URL of its hosted page. Without a back URL (DocSpace's
   * client sends none when it has none) the setup ends on paylinks' own "saved" page.
   */
  async checkoutSetupUrl(portal: PortalPrincipal, backUrlInput: unknown): Promise<string> {
    const backUrl =
      backUrlInput === undefined || backUrlInput === '' ? null : checkReturnUrl('BackUrl', backUrlInput)
    const now = this.clock.now()
    const id = `cs_${randomBytes(12).toString('hex')}`
    await this.db
      .insertInto('checkout_setups')
      .values({
        id,
        portal_id: portal.portalId,
        back_url: backUrl,
        created_at: now,
        expires_at: new Date(now.getTime() + SETUP_TTL_MS),
        completed_at: null,
      })
      .execute()
    return `${this.config.publicUrl}/setup/${id}`
  }

  // — The checkout-setup page —

  /** A setup session with the names its page shows, or undefined when there is none. */
  async setupPage(id: string): Promise<SetupPage | undefined> {
    if (!/^cs_[0-9a-f]{24}$/.test(id)) return undefined
    const row = await this.db
      .selectFrom('checkout_setups')
      .innerJoin('portals', 'portals.id', 'checkout_setups.portal_id')
      .innerJoin('projects', 'projects.id', 'portals.project_id')
      .innerJoin('merchants', 'merchants.id', 'portals.merchant_id')
      .selectAll('checkout_setups')
      .select([
        'portals.name as portal_name',
        'portals.merchant_id',
        'portals.project_id',
        'projects.name as project_name',
        'merchants.name as merchant_name',
      ])
      .where('checkout_setups.id', '=', id)
      .where('portals.deleted_at', 'is', null)
      .executeTakeFirst()
    if (!row) return undefined
    return { ...row, provider: await this.accounts.describeProject(row.project_id) }
  }

  /** The payment method a completed setup saved, for its "saved" page. */
  savedMethod(setupId: string) {
    return this.db
      .selectFrom('payment_methods')
      .select(['card_brand', 'card_last4'])
      .where('setup_id', '=', setupId)
      .executeTakeFirst()
  }

  /**
   * Sends the portal to its provider's page to enter the card: the open session again while it is open,
   * else a new one (each with its own reference, so that a declined attempt is not answered again).
   */
  async startSetupSession(
    id: string,
  ): Promise<
    | { kind: 'redirect'; url: string }
    | { kind: 'completed'; setup: SetupPage }
    | { kind: 'refused' | 'unavailable'; setup: SetupPage; message: string }
    | { kind: 'expired' | 'not_found' }
  > {
    const setup = await this.setupPage(id)
    if (!setup) return { kind: 'not_found' }
    if (setup.status === 'completed') return { kind: 'completed', setup }
    const now = this.clock.now()
    if (setup.expires_at.getTime() <= now.getTime()) return { kind: 'expired' }
    const bound = await this.accounts.forProject(this.db, setup.project_id)
    try {
      if (setup.provider_ref && setup.redirect_url && setup.provider_account_id === bound.account.id) {
        const current = await bound.provider.retrieveSetup(bound.account, {
          reference: setup.id,
          providerRef: setup.provider_ref,
        })
        if (current.status === 'pending') return { kind: 'redirect', url: setup.redirect_url }
        if (current.status === 'succeeded') {
          const applied = await this.db.transaction().execute((tx) =>
            this.applySetup(
              tx,
              bound.account.id,
              {
                kind: 'setup',
                reference: setup.id,
                providerRef: setup.provider_ref as string,
                snapshot: current,
              },
              now,
            ),
          )
          if (applied === 'applied') return { kind: 'completed', setup: { ...setup, status: 'completed' } }
        }
      }
      const started = await bound.provider.startSetup(bound.account, {
        reference: `${setup.id}.${randomBytes(4).toString('hex')}`,
        email: null,
        description: `Payment method for ${setup.portal_name}`,
        returnUrl: `${this.config.publicUrl}/setup/${setup.id}/return`,
        cancelUrl: `${this.config.publicUrl}/setup/${setup.id}/return`,
        expiresAt: setup.expires_at,
      })
      await this.db
        .updateTable('checkout_setups')
        .set({
          provider_account_id: bound.account.id,
          provider_ref: started.providerRef,
          redirect_url: started.redirectUrl,
        })
        .where('id', '=', setup.id)
        .where('status', '=', 'open')
        .execute()
      return { kind: 'redirect', url: started.redirectUrl }
    } catch (error) {
      if (!(error instanceof ProviderError)) throw error
      this.logger.warn({ err: error, setup: setup.id }, 'checkout setup: provider call failed')
      return error.kind === 'unavailable'
        ? { kind: 'unavailable', setup, message: 'Nothing was saved. Please try again in a moment.' }
        : { kind: 'refused', setup, message: error.message }
    }
  }

  /** The setup on the portal's return: looked up at the provider and applied before anything is shown. */
  async refreshSetup(
    id: string,
  ): Promise<{ setup: SetupPage; snapshot: SetupSnapshot | undefined } | undefined> {
    const setup = await this.setupPage(id)
    if (!setup) return undefined
    if (setup.status === 'completed' || !setup.provider_ref || !setup.provider_account_id)
      return { setup, snapshot: undefined }
    const bound = await this.accounts.byId(this.db, setup.provider_account_id)
    if (!bound) return { setup, snapshot: undefined }
    let snapshot: SetupSnapshot
    try {
      snapshot = await bound.provider.retrieveSetup(bound.account, {
        reference: setup.id,
        providerRef: setup.provider_ref,
      })
    } catch (error) {
      if (!(error instanceof ProviderError)) throw error
      return { setup, snapshot: undefined }
    }
    const ref = setup.provider_ref
    await this.db
      .transaction()
      .execute((tx) =>
        this.applySetup(
          tx,
          bound.account.id,
          { kind: 'setup', reference: setup.id, providerRef: ref, snapshot },
          this.clock.now(),
        ),
      )
    return { setup: (await this.setupPage(id)) as SetupPage, snapshot }
  }

  /**
   * Applies what a provider says of a setup, inside the caller's transaction (an event, or the return):
   * a saved card completes the setup once, under its row lock; anything else leaves it open.
   */
  async applySetup(
    tx: Tx,
    accountId: string,
    update: Extract<ProviderUpdate, { kind: 'setup' }>,
    now: Date,
  ): Promise<Applied> {
    const setupId = update.reference?.split('.')[0]
    if (!setupId) return 'ignored'
    const setup = await tx
      .selectFrom('checkout_setups')
      .innerJoin('portals', 'portals.id', 'checkout_setups.portal_id')
      .select([
        'checkout_setups.id',
        'checkout_setups.status',
        'checkout_setups.portal_id',
        'portals.merchant_id',
      ])
      .where('checkout_setups.id', '=', setupId)
      .where('checkout_setups.provider_account_id', '=', accountId)
      .forUpdate('checkout_setups')
      .executeTakeFirst()
    if (setup?.status !== 'open') return 'ignored'
    const method = update.snapshot.status === 'succeeded' ? update.snapshot.method : undefined
    if (!method) return 'ignored'
    const row = {
      id: newPrefixedId('pm'),
      portal_id: setup.portal_id,
      setup_id: setup.id,
      provider: (await this.accounts.byId(tx, accountId))?.account.provider ?? 'sandbox',
      provider_account_id: accountId,
      provider_ref: method.providerRef,
      card_brand: method.card.brand,
      card_last4: method.card.last4,
      card_exp_month: method.card.expMonth,
      card_exp_year: method.card.expYear,
      created_at: now,
    }
    await repo.savePaymentMethod(tx, row)
    await emitEvent(tx, {
      merchantId: setup.merchant_id,
      type: 'portal.payment_method.saved',
      data: paymentMethodView({ ...row, detached_at: null }),
      at: now,
    })
    await tx
      .updateTable('checkout_setups')
      .set({ status: 'completed', completed_at: now })
      .where('id', '=', setup.id)
      .execute()
    return 'applied'
  }
}
