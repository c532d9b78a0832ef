// Sending a webhook: only to http(s) URLs on public addresses (unless allowed for local development),
// checked when the URL is saved and again at connection time against DNS rebinding; a 15 s timeout;
// the answer read up to a size limit.
import dns from 'node:dns'
import http from 'node:http'
import https from 'node:https'
import type { LookupFunction } from 'node:net'
import net from 'node:net'
import ipaddr from 'ipaddr.js'

export const TIMEOUT_MS = 15_000
const MAX_RESPONSE_BYTES = 64 * 1024
export const EXCERPT_BYTES = 1024

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
  status: number | null
  headers: http.IncomingHttpHeaders
  excerpt: string | null
  error: string | null
  durationMs: number
}

export function postJson(
  target: string,
  body: string,
  headers: Record<string, string>,
  options: { allowPrivate: boolean },
): Promise<SendResult> {
  const started = performance.now()
  const done = (partial: Omit<SendResult, 'durationMs'>): SendResult => ({
    ...partial,
    durationMs: Math.round(performance.now() - started),
  })
  return new Promise((resolve) => {
    let url: URL
    try {
      url = new URL(target)
    } catch {
      return resolve(done({ status: null, headers: {}, excerpt: null, error: 'invalid URL' }))
    }
    const host = url.hostname.replace(/^\[|\]$/g, '')
    if (!options.allowPrivate && net.isIP(host) && !isPublicAddress(host)) {
      return resolve(
        done({ status: null, headers: {}, excerpt: null, error: `refused: ${host} is not a public address` }),
      )
    }
    const client = url.protocol === 'https:' ? https : http
    const req = client.request(
      url,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'paylinks-webhooks/1', ...headers },
        timeout: TIMEOUT_MS,
        ...(options.allowPrivate ? {} : { lookup: guardedLookup }),
      },
      (res) => {
        const chunks: Buffer[] = []
        let size = 0
        res.on('data', (chunk: Buffer) => {
          if (size < MAX_RESPONSE_BYTES) chunks.push(chunk)
          size += chunk.length
          // Past the limit the rest is not worth reading: close, keeping what was read.
          if (size >= MAX_RESPONSE_BYTES) res.destroy()
        })
        const finish = () => {
          const text = Buffer.concat(chunks).subarray(0, EXCERPT_BYTES).toString('utf8')
          resolve(
            done({
              status: res.statusCode ?? null,
              headers: res.headers,
              excerpt: text || null,
              error: null,
            }),
          )
        }
        res.on('end', finish)
        res.on('close', finish)
        res.on('error', finish)
      },
    )
    req.on('timeout', () => req.destroy(new Error(`timed out after ${TIMEOUT_MS / 1000} s`)))
    req.on('error', (err) => resolve(done({ status: null, headers: {}, excerpt: null, error: err.message })))
    req.end(body)
  })
}
