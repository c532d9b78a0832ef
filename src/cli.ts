// The `paylinks` command: serve, migrate, and merchant and key administration on the server's database.
import { pathToFileURL } from 'node:url'
import { Command, CommanderError } from 'commander'
import { type Config, ConfigError, loadConfig } from './lib/config.js'
import { type Database, DataDirLockedError, openDatabase } from './lib/db.js'
import { AppError } from './lib/errors.js'
import { migrateToLatest } from './lib/migrate.js'
import { systemClock } from './lib/time.js'
import { rebuildStats } from './modules/analytics/rollup.js'
import { runServer } from './server.js'
import { createServices, type Services } from './services.js'

class CliError extends Error {}

/** Opens the configured database, brings it up to date, runs `work`, and closes it. */
async function withServices<T>(config: Config, work: (services: Services) => Promise<T>): Promise<T> {
  let database: Database
  try {
    database = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir })
  } catch (error) {
    if (error instanceof DataDirLockedError) {
      throw new CliError(
        `${error.message}.\nThe embedded database can be used by one process at a time: stop the server and run this again.`,
      )
    }
    throw error
  }
  try {
    await migrateToLatest(database)
    return await work(createServices(config, database, systemClock))
  } finally {
    await database.close()
  }
}

function print(json: boolean, value: unknown, text: string): void {
  process.stdout.write(json ? `${JSON.stringify(value)}\n` : `${text}\n`)
}

export function buildCli(env: NodeJS.ProcessEnv): Command {
  const config = () => loadConfig(env)
  const program = new Command('paylinks')
    .description(
      'Self-hosted payment links and hosted checkout.\nConfiguration comes from the environment (see README).',
    )
    .showHelpAfterError()
    .exitOverride()

  program
    .command('serve')
    .description('run the HTTP server (the same as npm start)')
    .action(async () => runServer(env))

  program
    .command('migrate')
    .description('apply pending database migrations and exit')
    .action(async () => {
      const cfg = config()
      let database: Database
      try {
        database = await openDatabase({ databaseUrl: cfg.databaseUrl, dataDir: cfg.dataDir })
      } catch (error) {
        if (error instanceof DataDirLockedError) throw new CliError(`${error.message}.`)
        throw error
      }
      try {
        const { applied } = await migrateToLatest(database)
        process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'database is up to date\n')
      } finally {
        await database.close()
      }
    })

  const merchant = program.command('merchant').description('manage merchants')
  merchant
    .command('create')
    .description('create a merchant and its first secret API key (shown once)')
    .requiredOption('--name <name>', 'merchant name')
    .option('--email <email>', 'contact email')
    .option('--json', 'print one JSON object: {"merchant":{"id","name"},"api_key"}')
    .action(async (opts: { name: string; email?: string; json?: boolean }) => {
      const created = await withServices(config(), (s) =>
        s.merchants.createMerchant({ name: opts.name, email: opts.email }),
      )
      print(
        Boolean(opts.json),
        { merchant: { id: created.merchant.id, name: created.merchant.name }, api_key: created.secret },
        `merchant ${created.merchant.id} (${created.merchant.name})\napi key (shown only now): ${created.secret}`,
      )
    })

  const key = program.command('key').description('manage secret API keys')
  key
    .command('create')
    .description('create another secret API key for a merchant (shown once)')
    .requiredOption('--merchant <id>', 'merchant id')
    .option('--json', 'print one JSON object: {"api_key"}')
    .action(async (opts: { merchant: string; json?: boolean }) => {
      const created = await withServices(config(), (s) => s.merchants.createKey(opts.merchant))
      print(
        Boolean(opts.json),
        { api_key: created.secret },
        `key ${created.key.id} for merchant ${opts.merchant}\napi key (shown only now): ${created.secret}`,
      )
    })
  key
    .command('revoke')
    .description('revoke a secret API key by its id (key_…); requests with it get 401 from then on')
    .argument('<key_id>', 'the key id, as listed by GET /admin/api/v1/api-keys')
    .action(async (keyId: string) => {
      const revoked = await withServices(config(), (s) => s.merchants.revokeKey(keyId))
      process.stdout.write(`revoked ${revoked.id} (${revoked.prefix}…)\n`)
    })

  const stats = program.command('stats').description('statistics rollups')
  stats
    .command('rebuild')
    .description('recompute every statistics rollup from the raw visits and orders (safe while serving)')
    .action(async () => {
      const started = Date.now()
      const { rows } = await withServices(config(), (s) => s.database.db.transaction().execute(rebuildStats))
      process.stdout.write(`rebuilt ${rows} rollup rows in ${Date.now() - started} ms\n`)
    })

  return program
}

export async function main(
  argv: string[] = process.argv,
  env: NodeJS.ProcessEnv = process.env,
): Promise<void> {
  try {
    await buildCli(env).parseAsync(argv)
  } catch (error) {
    if (error instanceof CommanderError) process.exit(error.exitCode)
    if (error instanceof ConfigError || error instanceof CliError || error instanceof AppError) {
      process.stderr.write(`paylinks: ${error.message}\n`)
      process.exit(1)
    }
    throw error
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main()
}
