// Portals of a merchant's SaaS and the portal payment API: sales requests, payment URLs for quantities,
// and checkout-setup pages that save a payment method.
import { randomBytes } from 'node:crypto'
import type { Config } from '../../lib/config.js'
import { type Db, pageWithTotal, softDelete, touchLastUsed } from '../../lib/db.js'
import { AppError, invalid } from '../../lib/errors.js'
import { newPrefixedId } from '../../lib/ids.js'
import { hashesEqual, hashKey } from '../../lib/keys.js'
import type { Logger } from '../../lib/logger.js'
import type { Mailer } from '../../lib/mailer.js'
import { firstLineOverMaxAmount, MAX_AMOUNT } from '../../lib/money.js'
import type { PaymentRequestRow, PortalKeyRow, PortalRow } from '../../lib/schema.js'
import type { Clock } from '../../lib/time.js'
import type { CardInput, PaymentProvider } from '../checkout/provider.js'
import * as orderRepo from '../orders/repo.js'
import type { OrderService } from '../orders/service.js'
import type { ProjectService } from '../projects/service.js'
import { emitEvent } from '../webhooks/events.js'
import { checkReturnUrl, readQuantities } from './input.js'
import * as repo from './repo.js'
import { type CreatePortalBody, paymentMethodView, paymentRequestView } from './schemas.js'

const PORTAL_KEY = /^sk-[0-9a-f]{64}$/
const SETUP_TTL_MS = 24 * 60 * 60 * 1000

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
    private readonly provider: PaymentProvider,
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
  async setupPage(id: string) {
    return this.db
      .selectFrom('checkout_setups')
      .innerJoin('portals', 'portals.id', 'checkout_setups.portal_id')
      .innerJoin('projects', 'projects.id', 'portals.project_id')
      .innerJoin('merchants', 'merchants.id', 'portals.merchant_id')
      .selectAll('checkout_setups')
      .select([
        'portals.name as portal_name',
        'portals.merchant_id',
        'projects.name as project_name',
        'merchants.name as merchant_name',
      ])
      .where('checkout_setups.id', '=', id)
      .where('portals.deleted_at', 'is', null)
      .executeTakeFirst()
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
   * Saves the card as the portal's payment method: the provider call happens outside the transaction
   * (with the setup id as idempotency key), then the session is completed once, under its row lock.
   */
  async completeSetup(
    id: string,
    card: CardInput,
  ): Promise<
    | { kind: 'saved' | 'already_completed'; backUrl: string | null }
    | { kind: 'declined'; code: string; message: string }
    | { kind: 'expired' | 'not_found' }
  > {
    const setup = await this.setupPage(id)
    if (!setup) return { kind: 'not_found' }
    if (setup.status === 'completed') return { kind: 'already_completed', backUrl: setup.back_url }
    if (setup.expires_at.getTime() <= this.clock.now().getTime()) return { kind: 'expired' }
    const result = await this.provider.saveCard(card, id)
    if (result.status === 'declined' || !result.reference) {
      return {
        kind: 'declined',
        code: result.code ?? 'card_declined',
        message: result.message ?? 'The card was declined.',
      }
    }
    const reference = result.reference
    const now = this.clock.now()
    const saved = await this.db.transaction().execute(async (tx) => {
      const open = await tx
        .selectFrom('checkout_setups')
        .select('id')
        .where('id', '=', id)
        .where('status', '=', 'open')
        .forUpdate()
        .executeTakeFirst()
      if (!open) return false
      const method = {
        id: newPrefixedId('pm'),
        portal_id: setup.portal_id,
        setup_id: id,
        provider: this.provider.name,
        provider_ref: reference,
        card_brand: result.card.brand,
        card_last4: result.card.last4,
        card_exp_month: result.card.expMonth,
        card_exp_year: result.card.expYear,
        created_at: now,
      }
      await repo.savePaymentMethod(tx, method)
      await emitEvent(tx, {
        merchantId: setup.merchant_id,
        type: 'portal.payment_method.saved',
        data: paymentMethodView({ ...method, detached_at: null }),
        at: now,
      })
      await tx
        .updateTable('checkout_setups')
        .set({ status: 'completed', completed_at: now })
        .where('id', '=', id)
        .execute()
      return true
    })
    return { kind: saved ? 'saved' : 'already_completed', backUrl: setup.back_url }
  }
}
