// Tells the requests of a public paylink that only look at it: link-preview bots (Slack, Facebook, X,
// WhatsApp, …) and crawlers fetch a link the moment it is shared, and must not create orders or count as
// visitors.
import { isbot } from 'isbot'

/**
 * Clients that isbot counts as bots because they are not a person's everyday browser, but that a person
 * drives and that may well mean to pay: a command-line client (the README opens a link with curl) and a
 * headless browser (how a merchant tests or monitors its checkout). For a payment link, taking a buyer
 * for a bot costs a sale, while taking a bot for a buyer costs one unpaid order that expires.
 */
const DRIVEN_BY_A_PERSON = /^(?:curl|wget|httpie)\/|\bheadless/i

/** Whether the user agent is a link-preview bot or a crawler, which get a preview of the link and no order. */
export function isPreviewBot(userAgent: string | undefined): boolean {
  return isbot(userAgent) && !DRIVEN_BY_A_PERSON.test(userAgent ?? '')
}
