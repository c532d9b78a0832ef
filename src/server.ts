// The server process: configuration, logging, database, migrations, first-start demo data, listen, and a
// graceful close on SIGINT/SIGTERM.
import { pathToFileURL } from 'node:url'
import closeWithGrace from 'close-with-grace'
import { type FastifyReply, type FastifyRequest, LogController } from 'fastify'
import { buildApp } from './app.js'
import { type DemoData, seedDemoIfEmpty } from './demo.js'
import { type Config, ConfigError, loadConfig } from './lib/config.js'
import { EmbeddedDatabaseError, openDatabase } from './lib/db.js'
import { createLogger } from './lib/logger.js'
import { migrateToLatest } from './lib/migrate.js'
import { systemClock } from './lib/time.js'
import { startPaymentSweeper } from './modules/payments/sweeper.js'
import { createServices } from './services.js'

/** A listen failure a person can fix (the port is taken, not allowed, or HOST is wrong), told in one line. */
export class ListenError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ListenError'
  }
}

function listenError(error: unknown, config: Config): ListenError | undefined {
  const code = (error as NodeJS.ErrnoException).code
  const where = `${config.host}:${config.port}`
  switch (code) {
    case 'EADDRINUSE':
      return new ListenError(
        `cannot listen on ${where}: the port is in use by another program; stop it or set PORT to a free port`,
      )
    case 'EACCES':
      return new ListenError(
        `cannot listen on ${where}: not allowed to use port ${config.port}; set PORT to a port above 1023`,
      )
    case 'EADDRNOTAVAIL':
      return new ListenError(
        `cannot listen on ${where}: HOST=${config.host} is not an address of this machine; set HOST (127.0.0.1, or 0.0.0.0 for every interface)`,
      )
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_FAIL':
      return new ListenError(
        `cannot listen on ${where}: HOST=${config.host} does not resolve to an address; set HOST (127.0.0.1, or 0.0.0.0 for every interface)`,
      )
    default:
      return undefined
  }
}

/**
 * On a terminal a person reads the logs beside the first start's credentials: each request's two lines
 * are debug there, so that opening a page does not scroll the banner away. Failures keep their level.
 */
class TerminalLogController extends LogController {
  override incomingRequest(request: FastifyRequest): void {
    request.log.debug({ req: request }, 'incoming request')
  }
  override requestCompleted(
    error: Error | null | undefined,
    request: FastifyRequest,
    reply: FastifyReply,
  ): void {
    if (error) super.requestCompleted(error, request, reply)
    else reply.log.debug({ res: reply, responseTime: reply.elapsedTime }, 'request completed')
  }
}

export async function startServer(config: Config): Promise<void> {
  const terminal = process.stdout.isTTY === true
  const logger = createLogger(config.logLevel, { pretty: terminal })
  const database = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir })
  const { applied } = await migrateToLatest(database)
  if (applied.length > 0) logger.info({ migrations: applied }, 'applied migrations')
  const services = createServices(config, database, systemClock, { logger })
  const app = await buildApp(services, {
    logger,
    http: {
      connectionTimeout: 60_000,
      keepAliveTimeout: 72_000,
      requestTimeout: 30_000,
      ...(terminal ? { logController: new TerminalLogController() } : {}),
    },
  })

  let stopSweeper: (() => Promise<void>) | undefined
  let stopCounter: (() => Promise<void>) | undefined
  let stopSandbox: (() => Promise<void>) | undefined
  // Longer than a webhook attempt's 15 s bound, so that attempts under way finish and are recorded.
  closeWithGrace({ delay: 20_000, logger }, async ({ signal, err }) => {
    if (err) logger.error({ err }, 'closing after an uncaught error')
    else logger.info({ signal }, 'closing: finishing requests in flight')
    await stopSweeper?.()
    await stopCounter?.()
    await stopSandbox?.()
    await services.dispatcher.stop()
    await app.close()
    services.mailer.close()
    await database.close()
  })

  // Nothing is created before the port is bound: the first start's key and password are shown only once,
  // so a start that cannot serve must not use them up.
  try {
    await app.listen({ port: config.port, host: config.host })
  } catch (error) {
    await app.close()
    services.mailer.close()
    await database.close()
    throw listenError(error, config) ?? error
  }

  const demo = await seedDemoIfEmpty(services)
  stopSweeper = startPaymentSweeper(services.payments, logger)
  stopCounter = services.counter.start()
  stopSandbox = services.sandbox.start()
  services.dispatcher.start()
  // Last, after the start-up logs, so that it is the first thing a person reads.
  process.stdout.write(banner(config, database.kind, demo))
}

function banner(config: Config, kind: 'embedded' | 'postgres', demo: DemoData | undefined): string {
  const base = config.publicUrl
  const where = kind === 'embedded' ? `embedded PostgreSQL in ${config.dataDir}` : 'PostgreSQL'
  const lines = [
    '',
    `paylinks is listening on http://${config.host}:${config.port} (${where})`,
    `API reference: ${base}/docs`,
  ]
  if (demo) {
    const auth = `-H "Authorization: Bearer ${demo.apiKey}"`
    lines.push(
      '',
      'First start: created a demo merchant, project, products and paylink.',
      `  Dashboard:  ${base}/dashboard`,
      `    sign in as ${demo.userEmail} with the password ${demo.userPassword}  (shown only now;`,
      `    \`paylinks user password --email ${demo.userEmail}\` sets a new one)`,
      `  API key (shown only now):  ${demo.apiKey}`,
      `    another one later: npx paylinks key create --merchant ${demo.merchantId}`,
      `  Demo paylink (open it in a browser and pay with 4242 4242 4242 4242):`,
      `    ${base}/paylink/${demo.paylinkId}?utm_source=readme&utm_medium=terminal`,
      '',
      'Try:',
      `  curl ${auth} ${base}/admin/api/v1/projects`,
      `  curl ${auth} ${base}/admin/api/v1/products?project_id=${demo.projectId}`,
      `  curl ${auth} ${base}/admin/api/v1/paylinks/${demo.paylinkId}`,
      `  curl ${auth} ${base}/admin/api/v1/paylinks/${demo.paylinkId}/stat`,
      `  curl ${auth} "${base}/admin/api/v1/paylinks/${demo.paylinkId}/url?utm_source=newsletter&utm_campaign=spring"`,
    )
  }
  return `${lines.join('\n')}\n\n`
}

/** Entry point of `npm start` and `paylinks serve`: problems a person can fix are printed, not thrown. */
export async function runServer(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  try {
    await startServer(loadConfig(env))
  } catch (error) {
    if (
      error instanceof ConfigError ||
      error instanceof EmbeddedDatabaseError ||
      error instanceof ListenError
    ) {
      process.stderr.write(`paylinks: ${error.message}\n`)
      process.exit(1)
    }
    throw error
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await runServer()
}
