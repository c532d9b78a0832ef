// A webhook receiver on loopback whose answers a test scripts, and which keeps every request it got.
import http from 'node:http'
import type { AddressInfo } from 'node:net'

export interface Received {
  headers: http.IncomingHttpHeaders
  body: string
  /** True once our answer is complete; false while it is held or dripping. */
  answered: boolean
  /** True when the sender closed the connection before the answer was complete. */
  cut: boolean
}

export interface Answer {
  status: number
  body?: string | Buffer
  headers?: Record<string, string>
  /** Sends the headers, then one byte of `x` every `dripMs` until the sender gives up. */
  dripMs?: number
  /** Holds the answer until `release()`. */
  hang?: boolean
}

export interface Receiver {
  url: string
  port: number
  received: Received[]
  /** Answers, in order, for the next requests; afterwards 200. */
  script(...answers: Answer[]): void
  /** Sends the answers held by `hang`. */
  release(): void
  close(): Promise<void>
}

export async function startReceiver(port = 0): Promise<Receiver> {
  const received: Received[] = []
  let answers: Answer[] = []
  let held: (() => void)[] = []
  const server = http.createServer((req, res) => {
    let body = ''
    req.on('data', (chunk) => {
      body += chunk
    })
    req.on('end', () => {
      const entry: Received = { headers: req.headers, body, answered: false, cut: false }
      received.push(entry)
      const answer = answers.shift() ?? { status: 200, body: 'ok' }
      res.on('close', () => {
        if (!res.writableFinished) entry.cut = true
      })
      res.on('finish', () => {
        entry.answered = true
      })
      const send = () => {
        if (res.destroyed) return
        res.writeHead(answer.status, answer.headers ?? {})
        if (answer.dripMs === undefined) return res.end(answer.body ?? '')
        res.flushHeaders()
        const drip = setInterval(() => res.write('x'), answer.dripMs)
        res.on('close', () => clearInterval(drip))
      }
      if (answer.hang) held.push(send)
      else send()
    })
  })
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  const actual = (server.address() as AddressInfo).port
  return {
    url: `http://127.0.0.1:${actual}/hooks`,
    port: actual,
    received,
    script: (...next) => {
      answers = next
    },
    release: () => {
      for (const send of held.splice(0)) send()
    },
    close: () =>
      new Promise((resolve) => {
        held = []
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
