// Outgoing mail through SMTP_URL (nodemailer); without it, mail is written to the log instead.
import type { Transporter } from 'nodemailer'
import type { Logger } from './logger.js'

export interface Mail {
  to: string
  subject: string
  text: string
  replyTo?: string
}

export interface Mailer {
  /** 'sent' when the SMTP server accepted it, 'logged' when no SMTP server is configured. Throws on failure. */
  send(mail: Mail): Promise<'sent' | 'logged'>
  close(): void
}

export const MAIL_FROM = 'paylinks <no-reply@paylinks.invalid>'

export function createMailer(smtpUrl: string | undefined, logger: Logger): Mailer {
  if (!smtpUrl) {
    return {
      send: async (mail) => {
        logger.info(
          { mail: { to: mail.to, subject: mail.subject, replyTo: mail.replyTo, text: mail.text } },
          'mail (SMTP_URL unset: logged, not sent)',
        )
        return 'logged'
      },
      close: () => {},
    }
  }
  // nodemailer is loaded with the first mail: a server that sends none does not hold it (7 MB).
  let transport: Promise<Transporter> | undefined
  const open = () => {
    transport ??= import('nodemailer').then(({ default: nodemailer }) =>
      nodemailer.createTransport(smtpUrl, { from: MAIL_FROM }),
    )
    return transport
  }
  return {
    send: async (mail) => {
      await (await open()).sendMail({ from: MAIL_FROM, ...mail })
      return 'sent'
    },
    close: () => {
      transport?.then((t) => t.close()).catch(() => {})
    },
  }
}
