// The `paylinks` command: serve, migrate, and merchant, key and user administration on the server's database.
import { readFileSync } from 'node:fs'
// Only what every command needs is imported up front: `--help` answers without loading the app.
import { pathToFileURL } from 'node:url'
import { Command, CommanderError } from 'commander'
import { type Config, ConfigError, loadConfig } from './lib/config.js'
import type { Database } from './lib/db.js'
import { AppError } from './lib/errors.js'
import { SecretBoxError } from './lib/secret-box.js'
import { generatePassword } from './modules/users/password.js'
import type { User } from './modules/users/service.js'
import type { Services } from './services.js'

class CliError extends Error {}

/** The package's version, read from the package.json beside src/ and dist/. */
function packageVersion(): string {
  const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))
  return String(manifest.version)
}

/**
 * Opens the configured database (starting the embedded PostgreSQL when there is no DATABASE_URL). A SIGINT
 * or SIGTERM while it is open closes it, so the embedded server stops with the command.
 */
async function openCliDatabase(config: Config): Promise<Database> {
  const { EmbeddedDatabaseError, openDatabase } = await import('./lib/db.js')
  let database: Database
  try {
    database = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir })
  } catch (error) {
    if (error instanceof EmbeddedDatabaseError) throw new CliError(error.message)
    throw error
  }
  const onSignal = (signal: NodeJS.Signals) => {
    database.close().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143))
  }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  return {
    ...database,
    close: async () => {
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
      await database.close()
    },
  }
}

/** Opens the configured database, brings it up to date, runs `work`, and closes it. */
async function withServices<T>(config: Config, work: (services: Services) => Promise<T>): Promise<T> {
  const modules = Promise.all([import('./lib/migrate.js'), import('./services.js'), import('./lib/time.js')])
  const database = await openCliDatabase(config)
  try {
    const [{ migrateToLatest }, { createServices }, { systemClock }] = await modules
    await migrateToLatest(database)
    return await work(createServices(config, database, systemClock))
  } finally {
    await database.close()
  }
}

/** The password from stdin (without its final newline), or a generated one to show once. */
async function newPassword(
  fromStdin: boolean | undefined,
): Promise<{ password: string; generated: boolean }> {
  if (!fromStdin) return { password: generatePassword(), generated: true }
  const chunks: Buffer[] = []
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
  return {
    password: Buffer.concat(chunks)
      .toString('utf8')
      .replace(/\r?\n$/, ''),
    generated: false,
  }
}

function print(json: boolean, value: unknown, text: string): void {
  process.stdout.write(json ? `${JSON.stringify(value)}\n` : `${text}\n`)
}

/** A user and, when it was generated here, its password: printed this once and never again. */
function printUser(
  json: boolean,
  user: User,
  secret: { password: string; generated: boolean },
  headline: string,
): void {
  const shown = secret.generated ? secret.password : undefined
  print(
    json,
    {
      user: { id: user.id, email: user.email, merchant_id: user.merchant_id },
      ...(shown ? { password: shown } : {}),
    },
    shown ? `${headline}\npassword (shown only now): ${shown}` : headline,
  )
}

function merchantTable(
  rows: { id: string; name: string; email: string | null; created_at: string }[],
): string {
  if (rows.length === 0) return 'no merchants yet; create one with: paylinks merchant create --name NAME'
  const table = [
    ['ID', 'NAME', 'EMAIL', 'CREATED'],
    ...rows.map((m) => [m.id, m.name, m.email ?? '-', m.created_at.replace(/\.\d{3}Z$/, 'Z')]),
  ]
  const widths = table[0]?.map((_, column) => Math.max(...table.map((row) => row[column]?.length ?? 0))) ?? []
  return table
    .map((row) =>
      row
        .map((cell, column) => cell.padEnd(widths[column] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')
}

export function buildCli(env: NodeJS.ProcessEnv): Command {
  const config = () => loadConfig(env)
  const program = new Command('paylinks')
    .description(
      'Self-hosted payment links and hosted checkout.\nConfiguration comes from the environment (see README).',
    )
    .version(packageVersion(), '-V, --version', 'print the version of paylinks')
    .showHelpAfterError()
    .exitOverride()

  program
    .command('serve')
    .description('run the HTTP server (the same as npm start)')
    .action(async () => (await import('./server.js')).runServer(env))

  program
    .command('migrate')
    .description('apply pending database migrations and exit')
    .action(async () => {
      const { migrateToLatest } = await import('./lib/migrate.js')
      const database = await openCliDatabase(config())
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

  merchant
    .command('list')
    .description('list every merchant with its id (for key create --merchant and user create --merchant)')
    .option('--json', 'print one JSON object: {"merchants":[{"id","name","email","created_at"}]}')
    .action(async (opts: { json?: boolean }) => {
      const merchants = await withServices(config(), (s) => s.merchants.listMerchants())
      const rows = merchants.map((m) => ({
        id: m.id,
        name: m.name,
        email: m.email,
        created_at: m.created_at.toISOString(),
      }))
      print(Boolean(opts.json), { merchants: rows }, merchantTable(rows))
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

  const user = program.command('user').description('manage dashboard users')
  user
    .command('create')
    .description('create a user who signs in to the dashboard for a merchant')
    .requiredOption('--merchant <id>', 'merchant id')
    .requiredOption('--email <email>', 'the email to sign in with')
    .option('--name <name>', 'the person’s name')
    .option('--password-stdin', 'read the password from stdin instead of generating one')
    .option('--json', 'print one JSON object: {"user":{"id","email","merchant_id"},"password"}')
    .action(
      async (opts: {
        merchant: string
        email: string
        name?: string
        passwordStdin?: boolean
        json?: boolean
      }) => {
        const { password, generated } = await newPassword(opts.passwordStdin)
        const created = await withServices(config(), (s) =>
          s.users.create({ merchantId: opts.merchant, email: opts.email, name: opts.name, password }),
        )
        printUser(
          Boolean(opts.json),
          created,
          { password, generated },
          `user ${created.id} (${created.email}) for merchant ${created.merchant_id}`,
        )
      },
    )
  user
    .command('password')
    .description('set a new password for a user and sign them out everywhere')
    .requiredOption('--email <email>', 'the user’s email')
    .option('--password-stdin', 'read the password from stdin instead of generating one')
    .option('--json', 'print one JSON object: {"user":{"id","email","merchant_id"},"password"}')
    .action(async (opts: { email: string; passwordStdin?: boolean; json?: boolean }) => {
      const { password, generated } = await newPassword(opts.passwordStdin)
      const updated = await withServices(config(), (s) => s.users.setPassword(opts.email, password))
      printUser(
        Boolean(opts.json),
        updated,
        { password, generated },
        `new password set for ${updated.email}; their sessions have ended`,
      )
    })

  const stats = program.command('stats').description('statistics rollups')
  stats
    .command('rebuild')
    .description('recompute every statistics rollup from the raw visits and orders (safe while serving)')
    .action(async () => {
      const started = Date.now()
      const { rebuildStats } = await import('./modules/analytics/rollup.js')
      const { rows } = await withServices(config(), (s) => s.database.db.transaction().execute(rebuildStats))
      process.stdout.write(`rebuilt ${rows} rollup rows in ${Date.now() - started} ms\n`)
    })

  const secrets = program.command('secrets').description('payment provider credentials sealed at rest')
  secrets
    .command('rotate')
    .description(
      'seal every provider credential again with the first key of PAYLINKS_MASTER_KEY ("new,old": the first seals, all open)',
    )
    .action(async () => {
      const { accounts, resealed } = await withServices(config(), (s) => s.payments.accounts.resealAll())
      process.stdout.write(
        `resealed ${resealed} of ${accounts} provider accounts with the current master key` +
          (accounts > resealed ? ` (${accounts - resealed} had it already)` : '') +
          '; the previous keys can now be removed from PAYLINKS_MASTER_KEY\n',
      )
    })

  const db = program.command('db').description('the database: connecting to it, backing it up')
  db.command('url')
    .description(
      'print the URL that psql and pg_dump connect with (the embedded one answers while paylinks runs)',
    )
    .action(async () => {
      const cfg = config()
      const { embeddedUrl } = await import('./lib/embedded-postgres.js')
      process.stdout.write(`${cfg.databaseUrl ?? embeddedUrl(cfg.dataDir)}\n`)
    })
  db.command('backup')
    .description('copy the embedded database into a new folder, while the server runs or not (see README)')
    .argument('<folder>', 'a folder that does not exist yet')
    .action(async (folder: string) => {
      const cfg = config()
      if (cfg.databaseUrl) {
        throw new CliError('DATABASE_URL is set: back up that server with its own tools (pg_dump)')
      }
      const [{ backupEmbedded }, { EmbeddedDatabaseError }] = await Promise.all([
        import('./lib/embedded-backup.js'),
        import('./lib/embedded-postgres.js'),
      ])
      const started = Date.now()
      try {
        const { files, bytes, online } = await backupEmbedded(cfg.dataDir, folder)
        process.stdout.write(
          `backed up ${files} files (${(bytes / 1024 / 1024).toFixed(1)} MB) ${online ? 'from the running server ' : ''}` +
            `into ${folder} in ${Date.now() - started} ms\n`,
        )
      } catch (error) {
        if (error instanceof EmbeddedDatabaseError) throw new CliError(error.message)
        throw error
      }
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
    if (
      error instanceof ConfigError ||
      error instanceof CliError ||
      error instanceof AppError ||
      error instanceof SecretBoxError
    ) {
      process.stderr.write(`paylinks: ${error.message}\n`)
      process.exit(1)
    }
    throw error
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main()
}
