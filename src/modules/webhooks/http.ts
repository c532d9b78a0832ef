// Sending a webhook: only to http(s) URLs on public addresses (unless allowed for local development),
// checked when the URL is saved and again at connection time against DNS rebinding; one deadline for the
// whole exchange; the answer read up to a size limit and kept only as text PostgreSQL can store.
import dns from 'node:dns'
import http from 'node:http'
import https from 'node:https'
import type { LookupFunction } from 'node:net'
import net from 'node:net'
import ipaddr from 'ipaddr.js'

/** The whole of one attempt by default: DNS, connecting, sending, the headers and the body. */
export const TIMEOUT_MS = 15_000
const MAX_RESPONSE_BYTES = 64 * 1024
/** What is kept of a receiver's answer, and of any other text that came from it, in UTF-8 bytes. */
export const EXCERPT_BYTES = 1024

/**
 * Text from a receiver made storable: PostgreSQL text holds neither NUL nor invalid UTF-8, so both become
 * U+FFFD, and the result is cut to at most `maxBytes` of UTF-8 without splitting a character.
 */
export function storableText(text: string, maxBytes = EXCERPT_BYTES): string {
  // Encoding replaces lone surrogates with U+FFFD, so what is decoded again is well-formed.
  const bytes = Buffer.from(text.replaceAll('\0', '\uFFFD'), 'utf8')
  if (bytes.length <= maxBytes) return bytes.toString('utf8')
  let end = maxBytes
  // A UTF-8 continuation byte (10xxxxxx) belongs to the character before the cut: leave it out too.
  while (end > 0 && ((bytes[end] as number) & 0xc0) === 0x80) end--
  return bytes.subarray(0, end).toString('utf8')
}

/** Loopback, private, link-local, unique-local, CGNAT, multicast, reserved… anything but public unicast. */
export function isPublicAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return false
  let parsed = ipaddr.parse(address)
  if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) {
    parsed = (parsed as ipaddr.IPv6).toIPv4Address()
  }
  return parsed.range() === 'unicast'
}

export class UnsafeUrlError extends Error {}

/** Why a URL may not receive webhooks, or undefined when it may. */
export async function checkWebhookUrl(raw: string, allowPrivate: boolean): Promise<string | undefined> {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    return 'must be an absolute http:// or https:// URL'
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    return 'must be an absolute http:// or https:// URL'
  if (url.username || url.password) return 'must not carry credentials'
  if (allowPrivate) return undefined
  const host = url.hostname.replace(/^\[|\]$/g, '')
  let addresses: string[]
  if (net.isIP(host)) addresses = [host]
  else {
    try {
      addresses = (await dns.promises.lookup(host, { all: true })).map((a) => a.address)
    } catch {
      return `host ${host} does not resolve`
    }
  }
  const blocked = addresses.find((a) => !isPublicAddress(a))
  return blocked ? `resolves to ${blocked}, a private, loopback or link-local address` : undefined
}

/** dns.lookup that refuses non-public answers, so a name cannot be re-pointed at an internal host. */
const guardedLookup: LookupFunction = (hostname, options, callback) => {
  dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
    if (err) return callback(err, '', 0)
    const list = addresses as dns.LookupAddress[]
    const bad = list.find((a) => !isPublicAddress(a.address))
    if (bad) return callback(new UnsafeUrlError(`${hostname} resolves to non-public ${bad.address}`), '', 0)
    if ((options as dns.LookupOptions).all)
      return (callback as unknown as (e: null, a: dns.LookupAddress[]) => void)(null, list)
    const first = list[0] as dns.LookupAddress
    return callback(null, first.address, first.family)
  })
}

export interface SendResult {
  /** The answer's status, also when the deadline cut its body short (then `error` says so). */
  status: number | null
  headers: http.IncomingHttpHeaders
  /** At most EXCERPT_BYTES of the answer, storable. */
  excerpt: string | null
  /** Why there is no complete answer, storable; null when the receiver answered in time. */
  error: string | null
  durationMs: number
}

/** "1 s", "1.5 s": how a time limit reads in an attempt's error. */
function seconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(1))} s`
}

/**
 * POSTs a webhook and reads the answer, all within `timeoutMs`: a socket timeout alone is an idle timeout,
 * which a receiver dripping a byte every few seconds would reset for ever.
 */
export function postJson(
  target: string,
  body: string,
  headers: Record<string, string>,
  options: { allowPrivate: boolean; timeoutMs?: number },
): Promise<SendResult> {
  const timeoutMs = options.timeoutMs ?? TIMEOUT_MS
  const started = performance.now()
  return new Promise((resolve) => {
    let settled = false
    let timer: NodeJS.Timeout | undefined
    const settle = (partial: Omit<SendResult, 'durationMs'>) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      resolve({
        ...partial,
        excerpt: partial.excerpt === null ? null : storableText(partial.excerpt) || null,
        error: partial.error === null ? null : storableText(partial.error),
        durationMs: Math.round(performance.now() - started),
      })
    }
    const failed = (error: string) => settle({ status: null, headers: {}, excerpt: null, error })

    let url: URL
    try {
      url = new URL(target)
    } catch {
      return failed('invalid URL')
    }
    const host = url.hostname.replace(/^\[|\]$/g, '')
    if (!options.allowPrivate && net.isIP(host) && !isPublicAddress(host)) {
      return failed(`refused: ${host} is not a public address`)
    }
    const client = url.protocol === 'https:' ? https : http
    let response: http.IncomingMessage | undefined
    const chunks: Buffer[] = []
    let size = 0
    // At most 64 KB is read, so decoding all of it before cutting costs little and never splits a character.
    const answer = (error: string | null) =>
      settle({
        status: response?.statusCode ?? null,
        headers: response?.headers ?? {},
        excerpt: Buffer.concat(chunks).toString('utf8'),
        error,
      })

    const req = client.request(
      url,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'paylinks-webhooks/1', ...headers },
        ...(options.allowPrivate ? {} : { lookup: guardedLookup }),
      },
      (res) => {
        response = res
        res.on('data', (chunk: Buffer) => {
          if (size < MAX_RESPONSE_BYTES) chunks.push(chunk)
          size += chunk.length
          // Past the limit the rest is not worth reading: close, keeping what was read.
          if (size >= MAX_RESPONSE_BYTES) res.destroy()
        })
        const end = () => answer(null)
        res.on('end', end)
        res.on('close', end)
        res.on('error', end)
      },
    )
    timer = setTimeout(() => {
      answer(`timed out after ${seconds(timeoutMs)}`)
      req.destroy()
    }, timeoutMs)
    req.on('error', (err) => failed(err.message))
    req.end(body)
  })
}
