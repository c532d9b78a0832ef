// The built-in sandbox provider: simulates card payments with the documented test cards.
import { randomBytes } from 'node:crypto'
import { summarize } from './card.js'
import type { CardInput, ChargeRequest, ChargeResult, PaymentProvider, SaveCardResult } from './provider.js'

const TEST_CARDS: Record<string, { code: string; message: string } | null> = {
  '4242424242424242': null,
  '4000000000000002': { code: 'card_declined', message: 'The card was declined.' },
  '4000000000009995': { code: 'insufficient_funds', message: 'The card has insufficient funds.' },
}

export class SandboxProvider implements PaymentProvider {
  readonly name = 'sandbox'

  rejectCard(card: CardInput): string | undefined {
    if (card.number in TEST_CARDS) return undefined
    return 'This is a sandbox: use a test card such as 4242 4242 4242 4242 (real cards are never charged).'
  }

  async charge(request: ChargeRequest): Promise<ChargeResult> {
    const outcome = TEST_CARDS[request.card.number]
    const card = summarize(request.card)
    if (outcome === undefined)
      throw new Error('sandbox: not a test card; rejectCard() should have refused it')
    if (outcome) return { status: 'declined', ...outcome, card }
    return { status: 'succeeded', reference: `sbx_ch_${randomBytes(10).toString('hex')}`, card }
  }

  async saveCard(input: CardInput): Promise<SaveCardResult> {
    const outcome = TEST_CARDS[input.number]
    const card = summarize(input)
    if (outcome === undefined)
      throw new Error('sandbox: not a test card; rejectCard() should have refused it')
    if (outcome) return { status: 'declined', reference: null, card, ...outcome }
    return { status: 'saved', reference: `sbx_pm_${randomBytes(10).toString('hex')}`, card }
  }
}
