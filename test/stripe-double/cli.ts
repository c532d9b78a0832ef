// Runs the Stripe double on its own (`npm run stripe-double -- --help`), with one account ready, so that
// paylinks can be run against it: STRIPE_API_URL=<the printed URL>.
import { parseArgs } from 'node:util'
import { startStripeDouble } from './index.js'

const USAGE = `Usage: npm run stripe-double -- [options]

  --port N            port to listen on (12111; 0 picks a free one)
  --host ADDRESS      address to listen on (127.0.0.1)
  --public-url URL    base of the hosted checkout pages' URLs (http://HOST:PORT)
  --account-id ID     the account's id (acct_… generated)
  --secret-key KEY    its test secret key (sk_test_… generated)
  --webhook-url URL   where its events go (none: set one later with PUT /_double/accounts/ID/webhook)
  --webhook-secret S  the whsec_… secret events are signed with (generated)
  --delay-ms N        after how long bank debits settle, refunds of 4000 0000 0000 5126 fail and disputes
                      of 4000 0000 0000 0259 open (3000)`

function fail(message: string): never {
  console.error(`${message}\n\n${USAGE}`)
  process.exit(2)
}

function integer(value: string, name: string): number {
  if (!/^\d+$/.test(value)) fail(`--${name} must be a whole number, not ${value}`)
  return Number(value)
}

const SPEC = {
  port: { type: 'string', default: '12111' },
  host: { type: 'string', default: '127.0.0.1' },
  'public-url': { type: 'string' },
  'account-id': { type: 'string' },
  'secret-key': { type: 'string' },
  'webhook-url': { type: 'string' },
  'webhook-secret': { type: 'string' },
  'delay-ms': { type: 'string', default: '3000' },
  help: { type: 'boolean', default: false },
} as const
let options: ReturnType<typeof parseArgs<{ options: typeof SPEC }>>['values']
try {
  options = parseArgs({ options: SPEC, strict: true }).values
} catch (error) {
  fail((error as Error).message)
}
if (options.help) {
  console.log(USAGE)
  process.exit(0)
}

const double = await startStripeDouble({
  port: integer(options.port, 'port'),
  host: options.host,
  publicUrl: options['public-url'],
  scheduledDelayMs: integer(options['delay-ms'], 'delay-ms'),
})
let account: ReturnType<typeof double.createAccount>
try {
  account = double.createAccount({
    id: options['account-id'],
    secretKey: options['secret-key'],
    webhookUrl: options['webhook-url'],
    webhookSecret: options['webhook-secret'],
  })
} catch (error) {
  await double.close()
  fail((error as Error).message)
}

console.log(`Stripe double listening on ${double.url}
  STRIPE_API_URL=${double.url}
  account        ${account.id}
  secret key     ${account.secretKey}
  live key       ${account.liveSecretKey}
  webhook secret ${account.webhookSecret}
  webhook URL    ${account.webhookUrl ?? `none yet: PUT ${double.url}/_double/accounts/${account.id}/webhook {"url": "…"}`}
  test cards     4242 4242 4242 4242 succeeds, 4000 0000 0000 0002 declines (more on the checkout page)`)

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void double.close().then(() => process.exit(0))
  })
}
