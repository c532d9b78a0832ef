// A TCP hop between paylinks and the suite's PostgreSQL that a test can cut, to see what paylinks does
// when its database goes away: every open connection is reset and new ones are refused, as when the
// server stops or the network drops. Bytes pass through unchanged.
import net from 'node:net'

export interface DatabaseProxy {
  /** The database's URL through the proxy. */
  url: string
  /** Resets every connection and refuses new ones. */
  cut(): Promise<void>
  close(): Promise<void>
}

/** Where the URL's server listens: a Unix socket (`?host=/dir`, or a host that is a path) or host and port. */
function targetOf(url: URL): net.NetConnectOpts {
  const host = url.searchParams.get('host') ?? decodeURIComponent(url.hostname)
  const port = Number(url.port || 5432)
  return host.startsWith('/') ? { path: `${host}/.s.PGSQL.${port}` } : { host, port }
}

export async function startDatabaseProxy(databaseUrl: string): Promise<DatabaseProxy> {
  const target = new URL(databaseUrl)
  // paylinks' side of each connection; the other side (perhaps a Unix socket) closes with it.
  const clients = new Set<net.Socket>()
  const server = net.createServer((client) => {
    const upstream = net.connect(targetOf(target))
    clients.add(client)
    client.on('close', () => clients.delete(client))
    for (const socket of [client, upstream]) socket.on('error', () => {})
    client.pipe(upstream).pipe(client)
    client.on('close', () => upstream.destroy())
    upstream.on('close', () => client.destroy())
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as net.AddressInfo
  const url = new URL(`postgresql://127.0.0.1:${port}${target.pathname}`)
  url.username = target.username
  url.password = target.password
  let closed: Promise<void> | undefined
  const close = () => {
    closed ??= new Promise<void>((resolve) => {
      server.close(() => resolve())
      for (const client of clients) client.resetAndDestroy()
    })
    return closed
  }
  return { url: url.toString(), cut: close, close }
}
