import { type Static, type TSchema, Type } from 'typebox'
import { IsoDateTime, ObjectId, Text } from '../../lib/http.js'
import type { PaymentMethodRow, PaymentRequestRow, PortalKeyRow, PortalRow } from '../../lib/schema.js'

export const PORTAL_ID_PATTERN = '^por_[0-9a-f]{24}$'
export const PortalId = Type.String({
  pattern: PORTAL_ID_PATTERN,
  'x-error': 'must be a portal id (por_ and 24 hex)',
})

export const Portal = Type.Object(
  {
    id: Type.String(),
    object: Type.Literal('portal'),
    merchant_id: ObjectId(),
    project_id: ObjectId(),
    name: Type.String(),
    created_at: IsoDateTime,
    updated_at: IsoDateTime,
  },
  { $id: 'Portal' },
)

export const CreatePortalBody = Type.Object(
  { project_id: ObjectId(), name: Text(200) },
  { additionalProperties: false },
)
export type CreatePortalBody = Static<typeof CreatePortalBody>

export const PortalParams = Type.Object({ portal_id: PortalId })

export const PortalKeyView = Type.Object({
  id: Type.String(),
  object: Type.Literal('portal_key'),
  portal_id: Type.String(),
  prefix: Type.String({ description: 'The first characters of the key' }),
  created_at: IsoDateTime,
  last_used_at: Type.Union([IsoDateTime, Type.Null()]),
  revoked_at: Type.Union([IsoDateTime, Type.Null()]),
})

export const PaymentMethodView = Type.Object({
  id: Type.String(),
  object: Type.Literal('payment_method'),
  portal_id: Type.String(),
  provider: Type.String(),
  card_brand: Type.String(),
  card_last4: Type.String(),
  card_exp_month: Type.Integer(),
  card_exp_year: Type.Integer(),
  created_at: IsoDateTime,
})

export const PaymentRequestView = Type.Object(
  {
    id: Type.String(),
    object: Type.Literal('payment_request'),
    merchant_id: ObjectId(),
    project_id: ObjectId(),
    portal_id: Type.String(),
    user_name: Type.String(),
    email: Type.String(),
    message: Type.String(),
    mail_status: Type.String({ description: 'sent, logged (no SMTP_URL), failed, no_recipient or pending' }),
    created_at: IsoDateTime,
  },
  { $id: 'PaymentRequest' },
)

export function portalView(p: PortalRow) {
  return {
    id: p.id,
    object: 'portal' as const,
    merchant_id: p.merchant_id,
    project_id: p.project_id,
    name: p.name,
    created_at: p.created_at.toISOString(),
    updated_at: p.updated_at.toISOString(),
  }
}

export function portalKeyView(k: PortalKeyRow) {
  return {
    id: k.id,
    object: 'portal_key' as const,
    portal_id: k.portal_id,
    prefix: k.prefix,
    created_at: k.created_at.toISOString(),
    last_used_at: k.last_used_at?.toISOString() ?? null,
    revoked_at: k.revoked_at?.toISOString() ?? null,
  }
}

export function paymentMethodView(m: PaymentMethodRow) {
  return {
    id: m.id,
    object: 'payment_method' as const,
    portal_id: m.portal_id,
    provider: m.provider,
    card_brand: m.card_brand,
    card_last4: m.card_last4,
    card_exp_month: m.card_exp_month,
    card_exp_year: m.card_exp_year,
    created_at: m.created_at.toISOString(),
  }
}

export function paymentRequestView(r: PaymentRequestRow) {
  return {
    id: r.id,
    object: 'payment_request' as const,
    merchant_id: r.merchant_id,
    project_id: r.project_id,
    portal_id: r.portal_id,
    user_name: r.user_name,
    email: r.email,
    message: r.message,
    mail_status: r.mail_status,
    created_at: r.created_at.toISOString(),
  }
}

// The portal payment API's envelope, as the API it mirrors answers.
const Link = Type.Object({ href: Type.String(), action: Type.String() })

export function Envelope<T extends TSchema>(response: T) {
  return Type.Object({
    response: Type.Optional(response),
    count: Type.Integer(),
    links: Type.Array(Link),
    status: Type.Literal(0),
    statusCode: Type.Integer(),
  })
}

export const ErrorEnvelope = Type.Object(
  {
    error: Type.Object({ message: Type.String(), type: Type.String() }),
    status: Type.Literal(1),
    statusCode: Type.Integer(),
  },
  { $id: 'PortalError', description: 'Error in the portal API envelope' },
)
