// The bare Node.js baseline: an http server that answers every request with a fixed 302.
import http from 'node:http'

const port = Number(process.argv[2] ?? 0)
const server = http.createServer((_req, res) => {
  res.writeHead(302, { location: 'http://127.0.0.1/pay/ord_000000000000000000000000' })
  res.end()
})
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`listening ${server.address().port}\n`)
})
process.on('SIGTERM', () => server.close(() => process.exit(0)))
