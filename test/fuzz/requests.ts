// Requests derived from /openapi.json: for each operation, a valid request built from its declared
// parameters and body (with real ids where a name says what it refers to), and one bad change to it —
// a wrong type, a missing or extra field, a huge, NUL, unicode or deeply nested value, `__proto__`,
// an out-of-range number, bad JSON, a wrong content type, a bad path parameter or query string, or
// a missing or wrong key.
import fc from 'fast-check'

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json }

export interface Schema {
  type?: string | string[]
  properties?: Record<string, Schema>
  required?: string[]
  additionalProperties?: boolean | Schema
  items?: Schema
  enum?: Json[]
  const?: Json
  anyOf?: Schema[]
  oneOf?: Schema[]
  allOf?: Schema[]
  $ref?: string
  pattern?: string
  format?: string
  minLength?: number
  maxLength?: number
  minimum?: number
  maximum?: number
  minItems?: number
  maxItems?: number
  uniqueItems?: boolean
  minProperties?: number
}

interface Parameter {
  name: string
  in: 'path' | 'query' | 'header' | 'cookie'
  required?: boolean
  schema: Schema
}

export interface Operation {
  method: string
  path: string
  parameters: Parameter[]
  body?: Schema
  security: 'merchant' | 'portal' | 'none'
}

export interface FuzzRequest {
  method: string
  url: string
  headers: Record<string, string>
  payload?: string | Buffer
  /** What was changed from the valid request, for the failure report. */
  change: string
}

/** Real objects of the fixture, so that valid requests reach the handlers. */
export interface Fixture {
  /** Ids by the parameter or field name that refers to them. */
  ids: Record<string, string[]>
  /** The merchant's own products (ids.product_id also has another merchant's), and their SKUs. */
  ownProducts: string[]
  skus: string[]
  auth: { merchant: string; otherMerchant: string; portal: string; revokedPortal: string }
  csrf: { token: string; cookie: string }
  /** Unix seconds of the fixture's clock, for statistics periods. */
  now: number
}

export function operationsOf(doc: {
  paths: Record<string, Record<string, Record<string, unknown>>>
}): Operation[] {
  const operations: Operation[] = []
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const content = (op.requestBody as { content?: Record<string, { schema: Schema }> } | undefined)
        ?.content
      const security = JSON.stringify(op.security ?? [])
      operations.push({
        method: method.toUpperCase(),
        path,
        parameters: (op.parameters as Parameter[] | undefined) ?? [],
        ...(content ? { body: Object.values(content)[0]?.schema ?? {} } : {}),
        security: security.includes('bearerAuth')
          ? 'merchant'
          : security.includes('portalKey')
            ? 'portal'
            : 'none',
      })
    }
  }
  return operations
}

// — Values —

const URLS = [
  'https://127.0.0.1/return',
  'http://127.0.0.1:9/hook?x=1',
  'https://203.0.113.7/billing?tab=methods?complete=true',
  'http://[::1]:8080/a/b#frag',
  'https://198.51.100.2/%E2%82%AC?q=%20',
]
const EMAILS = ['buyer@example.com', 'A.B+tag@sub.example.org', 'x@y.zz']
const CARDS = ['4242 4242 4242 4242', '4000000000000002', '4000 0000 0000 9995', '4000002760003184', '1234']

/** The bad values every field and parameter gets in the systematic pass: one of each kind. */
export const KEY_VALUES: Json[] = [
  'a\u0000b',
  ' \t\n',
  '',
  'x'.repeat(10_000),
  '😀\u202e\u0301\ud800',
  '99999999999999999999',
  -1,
  1.5,
  // A count that multiplies a large price past the largest amount, and one past a 32-bit integer.
  10_000,
  2 ** 31,
  1e308,
  true,
  null,
  protoObject(),
  [],
]

const blankOrNul = fc.oneof(
  fc.constantFrom<Json>('', ' ', '\t\n ', '\u00a0\u3000', '\u0000', 'a\u0000b', '\u0000'.repeat(50), '%00'),
  fc.string({ unit: 'binary', maxLength: 10 }).map((s) => `${s}\u0000${s}`),
)
const unicode = fc.oneof(
  fc.constantFrom<Json>(
    '😀'.repeat(300),
    '𝔘𝔫𝔦𝔠𝔬𝔡𝔢',
    '\u202eevil\u202c',
    'שלום עולם',
    'e\u0301\u0301\u0301\u0301',
    '\ud800',
    'x\udfff',
    '\ufeff',
    '\u2028\u2029',
    'Ā',
  ),
  fc.string({ unit: 'binary', maxLength: 40 }),
)
const numbers = fc.oneof(
  fc.constantFrom<Json>(
    -1,
    0,
    1.5,
    -0,
    1e308,
    -1e308,
    2 ** 31,
    2 ** 53 + 2,
    2 ** 63,
    1e-300,
    'NaN',
    '-1',
    '1e400',
    '99999999999999999999',
    '0x10',
  ),
  fc.double(),
  fc.integer(),
  fc.integer({ min: 1_000, max: 1_000_000 }),
)
const wrongTypes = fc.oneof(
  fc.constantFrom<Json>(true, false, null, [], {}, [null], { '': null }),
  // JSON.stringify here recurses; deeper bodies are among the raw ones.
  fc.integer({ min: 50, max: 1_000 }).map((depth) => nested(depth)),
  fc.constant(protoObject()),
  fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<Json>,
)
const huge = fc.integer({ min: 1_000, max: 300_000 }).map((n) => 'x'.repeat(n))
const injections = fc.constantFrom<Json>(
  '%zz',
  '../../etc/passwd',
  "'; DROP TABLE orders; --",
  '<script>alert(1)</script>',
  '{{7*7}}<%= 7*7 %>#{7*7}',
  'javascript:alert(1)',
  'https://user:pw@127.0.0.1/x',
)

/** Values that break something somewhere: one is chosen for the field or parameter under test. */
export const nasty: fc.Arbitrary<Json> = fc.oneof(
  { weight: 3, arbitrary: blankOrNul },
  { weight: 2, arbitrary: unicode },
  { weight: 3, arbitrary: numbers },
  { weight: 3, arbitrary: wrongTypes },
  { weight: 1, arbitrary: huge },
  { weight: 1, arbitrary: injections },
)

function nested(depth: number): Json {
  let value: Json = 'deep'
  for (let i = 0; i < depth; i++) value = i % 2 ? [value] : { a: value }
  return value
}

/** Objects whose own keys are the ones that poison prototypes when merged carelessly. */
function protoObject(): Json {
  return JSON.parse('{"__proto__":{"admin":true},"constructor":{"prototype":{"polluted":1}},"prototype":1}')
}

function hinted(name: string, fixture: Fixture, path: string): fc.Arbitrary<Json> | undefined {
  const ids = (key: string) => {
    const list = fixture.ids[key] ?? []
    return list.length > 0 ? fc.constantFrom(...list) : undefined
  }
  if (name === 'key_id') return ids(path.startsWith('/admin/api/v1/portals') ? 'portal_key_id' : 'api_key_id')
  if (name in fixture.ids) return ids(name)
  switch (name) {
    case 'products[]':
      return fc.constantFrom(...fixture.ownProducts)
    case 'backUrl':
    case 'BackUrl':
    case 'successUrl':
    case 'success_url':
      return fc.constantFrom(...URLS)
    case 'url':
      // A webhook's: loopback only (the test allows private addresses), though nothing is delivered here.
      return fc.constantFrom('http://127.0.0.1:9/hook', 'https://[::1]:9/x?y=1')
    case 'email':
    case 'sales_email':
      return fc.constantFrom(...EMAILS)
    case 'quantity':
      // Each product at most once, by its id or its SKU.
      return fc
        .tuple(
          ...fixture.ownProducts.map((id, i) =>
            fc.option(fc.tuple(fc.constantFrom(id, fixture.skus[i] ?? id), fc.integer({ min: 1, max: 5 })), {
              nil: undefined,
            }),
          ),
        )
        .map((entries) => Object.fromEntries(entries.filter((e) => e !== undefined)))
        .filter((counts) => Object.keys(counts).length > 0)
    case 'card_number':
      return fc.constantFrom(...CARDS)
    case 'card_exp':
      return fc.constantFrom('12/34', '01/30', '13/99', '00/00')
    case 'card_cvc':
      return fc.constantFrom('123', '9999', '1')
    case '_csrf':
      return fc.constant(fixture.csrf.token)
    case 'currency':
    case 'default_currency':
      return fc.constantFrom('USD', 'EUR', 'JPY', 'KWD')
    case 'prices':
      return fc.uniqueArray(
        fc.record({
          currency: fc.constantFrom('USD', 'EUR', 'JPY', 'KWD'),
          amount: fc.integer({ min: 1, max: 10 ** 6 }),
        }),
        { selector: (p) => p.currency, minLength: 1, maxLength: 3 },
      )
    case 'timezone':
      return fc.constantFrom('UTC', 'Europe/Berlin', 'Asia/Kathmandu', 'Pacific/Chatham', 'Nowhere/City')
    case 'life_days':
      return fc.constantFrom(1, 7, 30)
    case 'events[]':
      return fc.constantFrom('*', 'order.created', 'order.paid', 'order.expired')
    case 'period_from':
    case 'period_to':
      return fc.integer({ min: fixture.now - 400 * 86_400, max: fixture.now + 86_400 })
    default:
      return undefined
  }
}

/** A value the schema accepts (mostly: patterns and formats are followed, hints name real objects). */
export function validValue(
  schema: Schema,
  name: string,
  fixture: Fixture,
  path: string,
  refs: Record<string, Schema>,
): fc.Arbitrary<Json> {
  const hint = hinted(name, fixture, path)
  if (hint) return hint
  if (schema.$ref) {
    const target = refs[schema.$ref.split('/').pop() ?? '']
    return target ? validValue(target, name, fixture, path, refs) : fc.constant(null)
  }
  if (schema.const !== undefined) return fc.constant(schema.const)
  if (schema.enum) return fc.constantFrom(...schema.enum)
  const branches = schema.anyOf ?? schema.oneOf
  if (branches) return fc.oneof(...branches.map((b) => validValue(b, name, fixture, path, refs)))
  if (schema.allOf) return validValue(Object.assign({}, ...schema.allOf), name, fixture, path, refs)
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type
  switch (type) {
    case 'string': {
      if (schema.format === 'uri') return fc.constantFrom(...URLS)
      if (schema.pattern) return fc.stringMatching(new RegExp(schema.pattern))
      if (schema.format === 'email') return fc.constantFrom(...EMAILS)
      if (schema.format === 'date-time') return fc.date({ noInvalidDate: true }).map((d) => d.toISOString())
      if (schema.format === 'date') return fc.constantFrom('2026-03-01', '2025-12-31')
      const min = Math.max(schema.minLength ?? 0, 1)
      return fc
        .string({ minLength: min, maxLength: Math.max(min, Math.min(schema.maxLength ?? 30, 30)) })
        .map((s) => (s.trim() ? s : `x${s}`))
    }
    case 'integer':
      return fc.integer({
        min: Math.max(schema.minimum ?? -1_000_000, Number.MIN_SAFE_INTEGER),
        max: Math.min(schema.maximum ?? 1_000_000, Number.MAX_SAFE_INTEGER),
      })
    case 'number':
      return fc.double({ noNaN: true, noDefaultInfinity: true, min: schema.minimum, max: schema.maximum })
    case 'boolean':
      return fc.boolean()
    case 'null':
      return fc.constant(null)
    case 'array': {
      const item = validValue(schema.items ?? {}, `${name}[]`, fixture, path, refs)
      const constraints = { minLength: schema.minItems ?? 0, maxLength: Math.min(schema.maxItems ?? 4, 6) }
      return schema.uniqueItems
        ? fc.uniqueArray(item, { ...constraints, selector: (v) => JSON.stringify(v) })
        : fc.array(item, constraints)
    }
    case 'object': {
      const properties = schema.properties ?? {}
      const record = Object.fromEntries(
        Object.entries(properties).map(([key, s]) => [key, validValue(s, key, fixture, path, refs)]),
      )
      const required = schema.required ?? []
      // At least one optional field where the schema asks for one (PATCH bodies).
      return fc
        .record(record, { requiredKeys: required })
        .filter((o) => Object.keys(o).length >= (schema.minProperties ?? 0)) as fc.Arbitrary<Json>
    }
    default:
      return fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<Json>
  }
}

// — Requests —

/** Raw tokens for a path segment or query value, sent as they are (not encoded again). */
const RAW = [
  '%',
  '%zz',
  '%E0%A4%A',
  '%ED%A0%80',
  '%C0%AF',
  '%FF%FE',
  '%00',
  '%2e%2e%2f',
  '..',
  '%2F',
  '+',
  '%20',
]

/** Lone surrogates cannot be percent-encoded or form-encoded; a client would send U+FFFD. */
function wellFormed(text: string): string {
  return text.replace(/[\ud800-\udfff]/gu, '\ufffd')
}

function encode(value: Json): string {
  const text = typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value))
  return encodeURIComponent(wellFormed(text))
}

const rawSegment: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...RAW),
  nasty.map(encode),
  fc.string({ unit: 'grapheme', maxLength: 30 }).map(encode),
)

const BAD_JSON: (string | Buffer)[] = [
  '',
  '{',
  '[',
  '{"a":}',
  'nul',
  'undefined',
  '{"a":1}{"b":2}',
  '{"a":1,}',
  "{'a':1}",
  '\ufeff{}',
  '1e400',
  '{"amount":1e400,"quantity":{"1001":1e400}}',
  '"\\ud800"',
  '{"name":"\\u0000"}',
  '{"a":"\\x00"}',
  '{"__proto__":{"x":1},"__proto__":{"y":2}}',
  '{"constructor":{"prototype":{"x":1}}}',
  `${'['.repeat(100_000)}${']'.repeat(100_000)}`,
  `${'{"a":'.repeat(50_000)}1${'}'.repeat(50_000)}`,
  `{"name":"${'x'.repeat(1_100_000)}"}`,
  Buffer.from([0xff, 0xfe, 0x7b, 0x22]),
  Buffer.from('{"name":"\xc3\x28"}', 'latin1'),
]

const CONTENT_TYPES = [
  'text/plain',
  'application/xml',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=fuzz',
  'application/json; charset=utf-16',
  'application/json; charset=latin1',
  'application/vnd.api+json',
  'application/octet-stream',
  'application/json, text/plain',
  'image/png',
  ';;;',
]

/** Wrong keys: none, malformed ones, another merchant's, the other API's, a revoked one. */
const AUTHORIZATIONS = (fixture: Fixture) => [
  '',
  'Bearer ',
  `Bearer pl_sk_${'a'.repeat(5000)}`,
  'Basic dXNlcjpwdw==',
  `bearer ${fixture.auth.merchant.slice(7)}`,
  fixture.auth.otherMerchant,
  fixture.auth.portal,
  fixture.auth.revokedPortal,
  fixture.auth.merchant,
  `sk-${'0'.repeat(64)}`,
]

/** Latin-1 printable text, all that an HTTP header can carry. */
const headerText = fc.oneof(
  fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 60 }),
  fc.constantFrom('x'.repeat(8000), '\u00e9\u00ff', ' ', 'de', 'ZZ', 'T1', 'XX', '*;q=0.5,xx-YY;q=abc'),
)

/** A valid request of an operation: its path segments, query pairs and body. */
export interface Base {
  path: string[]
  query: (string | undefined)[]
  body: Json | undefined
}

/** What one bad request changes in a valid one. */
interface Change {
  path?: string[]
  query?: (string | undefined)[]
  /** Present (even undefined) to replace the body. */
  body?: Json | undefined
  headers?: Record<string, string>
  payload?: string | Buffer
  label: string
}

export function baseFor(op: Operation, fixture: Fixture, refs: Record<string, Schema>): fc.Arbitrary<Base> {
  const value = (p: Parameter) => validValue(p.schema, p.name, fixture, op.path, refs)
  return fc.record({
    path: fc.tuple(...pathParams(op).map((p) => value(p).map(encode))),
    query: fc.tuple(
      ...queryParams(op).map((p) =>
        fc.option(
          value(p).map((v) => `${encodeURIComponent(p.name)}=${encode(v)}`),
          { nil: undefined },
        ),
      ),
    ),
    body: op.body ? validValue(op.body, 'body', fixture, op.path, refs) : fc.constant(undefined),
  })
}

const pathParams = (op: Operation) => op.parameters.filter((p) => p.in === 'path')
const queryParams = (op: Operation) => op.parameters.filter((p) => p.in === 'query')

export function toRequest(op: Operation, fixture: Fixture, base: Base, change: Change): FuzzRequest {
  const path = change.path ?? base.path
  const query = change.query ?? base.query
  const body = 'body' in change ? change.body : base.body
  let url = op.path
  for (const [i, p] of pathParams(op).entries()) url = url.replace(`{${p.name}}`, path[i] ?? '')
  const search = query.filter((q) => q !== undefined).join('&')
  const json = body === undefined ? undefined : JSON.stringify(body)
  const headers: Record<string, string> = {
    ...authHeader(op, fixture),
    ...(op.path.startsWith('/pay/') || op.path.startsWith('/setup/') ? { cookie: fixture.csrf.cookie } : {}),
    ...(json !== undefined ? { 'content-type': 'application/json' } : {}),
    ...change.headers,
  }
  for (const [key, v] of Object.entries(headers)) if (v === '') delete headers[key]
  const payload = change.payload ?? json
  return {
    method: op.method,
    url: search ? `${url}?${search}` : url,
    headers,
    ...(payload !== undefined ? { payload } : {}),
    change: change.label,
  }
}

/**
 * The systematic pass: every path and query parameter and every field of the body (at any depth) gets
 * each of KEY_VALUES, every field is left out once, and the body is sent as bad JSON, under wrong
 * content types and with each wrong key, once each.
 */
export function systematicRequests(op: Operation, fixture: Fixture, base: Base): FuzzRequest[] {
  const changes: Change[] = [{ label: 'valid' }]
  for (const [i, p] of pathParams(op).entries()) {
    for (const raw of [...RAW.slice(0, 8), ...KEY_VALUES.map(encode)]) {
      changes.push({
        path: base.path.map((s, j) => (j === i ? raw : s)),
        label: `path ${p.name} = ${raw.slice(0, 60)}`,
      })
    }
  }
  for (const [i, p] of queryParams(op).entries()) {
    for (const raw of [...RAW.slice(0, 4), ...KEY_VALUES.map(encode)]) {
      const query = [...base.query]
      query[i] = `${encodeURIComponent(p.name)}=${raw}`
      changes.push({ query, label: `query ${p.name} = ${raw.slice(0, 60)}` })
    }
  }
  if (base.body !== undefined) {
    // An array's first item stands for the others.
    for (const path of valuePaths(base.body).filter((p) =>
      p.every((key) => key === 0 || typeof key === 'string'),
    )) {
      const name = path.join('.') || 'body'
      for (const bad of KEY_VALUES)
        changes.push({ body: replaced(base.body, path, bad), label: `body ${name} = ${excerpt(bad)}` })
      if (path.length > 0)
        changes.push({ body: replaced(base.body, path, undefined), label: `body without ${name}` })
    }
    if (typeof base.body === 'object' && base.body !== null && !Array.isArray(base.body)) {
      changes.push({ body: withKey(base.body, '__proto__', { admin: true }), label: 'body + __proto__' })
      changes.push({ body: withKey(base.body, 'unknown_field', 1), label: 'body + unknown_field' })
    }
    for (const payload of BAD_JSON)
      changes.push({
        payload,
        headers: { 'content-type': 'application/json' },
        label: `raw body ${excerpt(String(payload))}`,
      })
    for (const type of CONTENT_TYPES)
      changes.push({
        headers: { 'content-type': type },
        payload: JSON.stringify(base.body),
        label: `content-type ${type}`,
      })
  }
  if (op.security !== 'none') {
    for (const value of AUTHORIZATIONS(fixture))
      changes.push({ headers: { authorization: value }, label: `authorization ${value.slice(0, 40)}` })
  }
  return changes.map((change) => toRequest(op, fixture, base, change))
}

const CHANGES = [
  'none',
  'path',
  'query-value',
  'query-extra',
  'query-raw',
  'body-value',
  'body-value',
  'body-missing',
  'body-extra',
  'body-whole',
  'body-raw',
  'content-type',
  'form',
  'auth',
  'headers',
] as const

/** The random pass: a valid request of the operation with one random bad change. */
export function randomRequest(
  op: Operation,
  fixture: Fixture,
  refs: Record<string, Schema>,
): fc.Arbitrary<FuzzRequest> {
  return baseFor(op, fixture, refs).chain((base) =>
    fc
      .constantFrom(...CHANGES)
      .chain((kind) => randomChange(op, fixture, base, kind))
      .map((change) => toRequest(op, fixture, base, change)),
  )
}

function randomChange(
  op: Operation,
  fixture: Fixture,
  base: Base,
  kind: (typeof CHANGES)[number],
): fc.Arbitrary<Change> {
  const { path, query, body } = base
  const same = fc.constant<Change>({ label: 'valid' })
  const at = <T>(list: T[]) => fc.nat({ max: Math.max(list.length - 1, 0) })
  const params = pathParams(op)
  const queries = queryParams(op)
  switch (kind) {
    case 'path':
      if (path.length === 0) return same
      return fc.tuple(at(path), rawSegment).map(([i, raw]) => ({
        path: path.map((p, j) => (j === i ? raw : p)),
        label: `path ${params[i]?.name} = ${raw.slice(0, 80)}`,
      }))
    case 'query-value':
      if (queries.length === 0) return same
      return fc.tuple(at(queries), rawSegment).map(([i, raw]) => {
        const q = [...query]
        q[i] = `${encodeURIComponent(queries[i]?.name ?? '')}=${raw}`
        return { query: q, label: `query ${queries[i]?.name} = ${raw.slice(0, 80)}` }
      })
    case 'query-extra':
      return fc
        .tuple(
          fc.constantFrom('__proto__', 'constructor', 'a[b]', 'x', 'limit', 'offset', '%00', ''),
          rawSegment,
        )
        .map(([name, raw]) => ({
          query: [...query, `${name}=${raw}`],
          label: `query + ${name}=${raw.slice(0, 60)}`,
        }))
    case 'query-raw':
      return fc
        .constantFrom(
          '&&==&',
          '%',
          '=x',
          'a=%zz&a=%00',
          'a=1&'.repeat(2000),
          '?',
          '#x',
          'utm_source=%F0%9F%98',
        )
        .map((raw) => ({ query: [...query, raw], label: `query raw ${raw.slice(0, 60)}` }))
    case 'body-value': {
      const paths = body === undefined ? [] : valuePaths(body)
      if (body === undefined || paths.length === 0) return same
      return fc.tuple(at(paths), nasty).map(([i, bad]) => ({
        body: replaced(body, paths[i] ?? [], bad),
        label: `body ${(paths[i] ?? []).join('.')} = ${excerpt(bad)}`,
      }))
    }
    case 'body-missing': {
      const paths = body === undefined ? [] : valuePaths(body).filter((p) => p.length > 0)
      if (body === undefined || paths.length === 0) return same
      return at(paths).map((i) => ({
        body: replaced(body, paths[i] ?? [], undefined),
        label: `body without ${(paths[i] ?? []).join('.')}`,
      }))
    }
    case 'body-extra':
      if (body === undefined || typeof body !== 'object' || body === null || Array.isArray(body)) return same
      return fc
        .tuple(
          fc.constantFrom('__proto__', 'constructor', 'prototype', 'Name', 'BACKURL', 'x\u0000', '', 'id'),
          nasty,
        )
        .map(([key, bad]) => ({ body: withKey(body, key, bad), label: `body + ${key} = ${excerpt(bad)}` }))
    case 'body-whole':
      if (body === undefined) return same
      return nasty.map((bad) => ({ body: bad, label: `body = ${excerpt(bad)}` }))
    case 'body-raw':
      return fc.constantFrom(...BAD_JSON).map((payload) => ({
        headers: { 'content-type': 'application/json' },
        payload,
        label: `raw body ${excerpt(String(payload))}`,
      }))
    case 'content-type':
      return fc.constantFrom(...CONTENT_TYPES).map((type) => ({
        headers: { 'content-type': type },
        payload: body === undefined ? 'x=1' : JSON.stringify(body),
        label: `content-type ${type}`,
      }))
    case 'form': {
      const flat =
        body !== null && typeof body === 'object' && !Array.isArray(body) ? body : { value: body ?? null }
      const form = new URLSearchParams()
      for (const [key, v] of Object.entries(flat)) {
        for (const item of Array.isArray(v) ? v : [v])
          form.append(key, wellFormed(typeof item === 'string' ? item : JSON.stringify(item)))
      }
      return fc.constant({
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: form.toString(),
        label: 'as a form',
      })
    }
    case 'auth':
      return fc
        .constantFrom(...AUTHORIZATIONS(fixture))
        .map((value) => ({ headers: { authorization: value }, label: `authorization ${value.slice(0, 40)}` }))
    case 'headers':
      return fc
        .record({
          'accept-language': headerText,
          referer: fc.oneof(headerText, fc.constantFrom('https://[::1/x', 'http://%zz', 'https://xn--/a')),
          'user-agent': headerText,
          'x-request-id': headerText,
          'cf-ipcountry': headerText,
          'x-forwarded-for': headerText,
          accept: headerText,
        })
        .map((headers) => ({ headers, label: 'odd headers' }))
    default:
      return same
  }
}

/** A copy of an object with an own property `key`, `__proto__` included. */
function withKey(body: { [key: string]: Json }, key: string, value: Json): Json {
  const copy = JSON.parse(JSON.stringify(body))
  Object.defineProperty(copy, key, { value, enumerable: true, writable: true, configurable: true })
  return copy
}

function authHeader(op: Operation, fixture: Fixture): Record<string, string> {
  if (op.security === 'merchant') return { authorization: fixture.auth.merchant }
  if (op.security === 'portal') return { authorization: fixture.auth.portal }
  return {}
}

/** Every path into a JSON value, the value itself ([]) included. */
export function valuePaths(value: Json, prefix: (string | number)[] = []): (string | number)[][] {
  const paths = [prefix]
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) paths.push(...valuePaths(v, [...prefix, i]))
  } else if (value !== null && typeof value === 'object')
    for (const [k, v] of Object.entries(value)) paths.push(...valuePaths(v, [...prefix, k]))
  return paths
}

/** A copy with the value at `path` replaced (or removed when `next` is undefined). */
function replaced(value: Json, path: (string | number)[], next: Json | undefined): Json {
  if (path.length === 0) return next === undefined ? null : next
  const copy = JSON.parse(JSON.stringify(value)) as Record<string | number, Json>
  let parent: Record<string | number, Json> = copy
  for (const key of path.slice(0, -1)) parent = parent[key] as Record<string | number, Json>
  const last = path[path.length - 1] as string | number
  if (next === undefined) {
    if (Array.isArray(parent)) parent.splice(Number(last), 1)
    else delete parent[last]
  } else parent[last] = next
  return copy
}

export function excerpt(value: unknown): string {
  const text = typeof value === 'string' ? JSON.stringify(value) : (JSON.stringify(value) ?? String(value))
  return text.length > 80 ? `${text.slice(0, 60)}… (${text.length} chars)` : text
}
