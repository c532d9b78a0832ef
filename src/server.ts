// The server process: configuration, logging, database, migrations, first-start demo data, listen, and a
// graceful close on SIGINT/SIGTERM.
import { pathToFileURL } from 'node:url'
import closeWithGrace from 'close-with-grace'
import { buildApp } from './app.js'
import { type DemoData, seedDemoIfEmpty } from './demo.js'
import { type Config, ConfigError, loadConfig } from './lib/config.js'
import { EmbeddedDatabaseError, openDatabase } from './lib/db.js'
import { createLogger } from './lib/logger.js'
import { migrateToLatest } from './lib/migrate.js'
import { systemClock } from './lib/time.js'
import { startOrderSweeper } from './modules/orders/sweeper.js'
import { createServices } from './services.js'

export async function startServer(config: Config): Promise<void> {
  const logger = createLogger(config.logLevel)
  const database = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir })
  const { applied } = await migrateToLatest(database)
  if (applied.length > 0) logger.info({ migrations: applied }, 'applied migrations')
  const services = createServices(config, database, systemClock, { logger })
  const demo = await seedDemoIfEmpty(services)
  const app = await buildApp(services, {
    logger,
    http: { connectionTimeout: 60_000, keepAliveTimeout: 72_000, requestTimeout: 30_000 },
  })

  let stopSweeper: (() => Promise<void>) | undefined
  closeWithGrace({ delay: 10_000, logger }, async ({ signal, err }) => {
    if (err) logger.error({ err }, 'closing after an uncaught error')
    else logger.info({ signal }, 'closing: finishing requests in flight')
    await stopSweeper?.()
    await services.dispatcher.stop()
    await app.close()
    services.mailer.close()
    await database.close()
  })

  await app.listen({ port: config.port, host: config.host })
  stopSweeper = startOrderSweeper(services.orders, logger)
  services.dispatcher.start()
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
    if (error instanceof ConfigError || error instanceof EmbeddedDatabaseError) {
      process.stderr.write(`paylinks: ${error.message}\n`)
      process.exit(1)
    }
    throw error
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await runServer()
}
