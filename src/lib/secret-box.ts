// Seals provider credentials at rest with AES-256-GCM under the master key (PAYLINKS_MASTER_KEY, or a key
// generated into the data directory). Each sealed value names the key that sealed it, so that a rotation
// can open old values with the previous key while sealing new ones with the current one.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'

const VERSION = 'v1'

export class SecretBoxError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'SecretBoxError'
  }
}

/** The id a sealed value carries: the first 8 hex of the key's SHA-256 (it reveals nothing of the key). */
export function keyId(key: Buffer): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 8)
}

export class SecretBox {
  private loaded: { keys: Map<string, Buffer>; currentKeyId: string } | undefined

  /**
   * The first key seals; every key opens (the rest are previous keys kept during a rotation). The keys may
   * be given as a function, read on first use: a process that never seals or opens anything (a start that
   * cannot listen, most CLI commands) does not create a key file.
   */
  constructor(private readonly source: Buffer[] | (() => Buffer[])) {}

  private get state() {
    if (this.loaded) return this.loaded
    const keys = typeof this.source === 'function' ? this.source() : this.source
    const [current] = keys
    if (!current) throw new SecretBoxError('a secret box needs at least one key')
    for (const key of keys) {
      if (key.length !== 32) throw new SecretBoxError('master keys are 32 bytes')
    }
    this.loaded = { keys: new Map(keys.map((k) => [keyId(k), k])), currentKeyId: keyId(current) }
    return this.loaded
  }

  /** The id of the key new values are sealed with. */
  get currentKeyId(): string {
    return this.state.currentKeyId
  }

  private get keys(): Map<string, Buffer> {
    return this.state.keys
  }

  /** Seals `plaintext` bound to `context` (e.g. the row's id): a value moved to another row does not open. */
  seal(plaintext: string, context: string): string {
    const key = this.keys.get(this.currentKeyId) as Buffer
    const iv = randomBytes(12)
    const cipher = createCipheriv('aes-256-gcm', key, iv)
    cipher.setAAD(Buffer.from(context, 'utf8'))
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()])
    return [VERSION, this.currentKeyId, iv, body, cipher.getAuthTag()]
      .map((part) => (typeof part === 'string' ? part : part.toString('base64url')))
      .join('.')
  }

  open(sealed: string, context: string): string {
    const [version, id, iv, body, tag] = sealed.split('.')
    if (version !== VERSION || !id || !iv || body === undefined || !tag)
      throw new SecretBoxError('not a sealed value')
    const key = this.keys.get(id)
    if (!key) throw new SecretBoxError(`sealed with key ${id}, which is not among the configured master keys`)
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'))
      decipher.setAAD(Buffer.from(context, 'utf8'))
      decipher.setAuthTag(Buffer.from(tag, 'base64url'))
      return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString(
        'utf8',
      )
    } catch {
      throw new SecretBoxError('a sealed value does not open: wrong key or tampered data')
    }
  }

  /** True when the value was sealed with an older key and should be sealed again. */
  isStale(sealed: string): boolean {
    return sealed.split('.')[1] !== this.currentKeyId
  }
}

/** Reads a master key written as 64 hex digits or as base64 of 32 bytes; undefined when it is neither. */
export function parseMasterKey(text: string): Buffer | undefined {
  const raw = text.trim()
  if (/^[0-9a-fA-F]{64}$/.test(raw)) return Buffer.from(raw, 'hex')
  if (/^[A-Za-z0-9+/_-]{43}=?$/.test(raw)) {
    const key = Buffer.from(raw, raw.includes('-') || raw.includes('_') ? 'base64url' : 'base64')
    return key.length === 32 ? key : undefined
  }
  return undefined
}

export const MASTER_KEY_FILE = 'master.key'

/**
 * The master key file of a data directory, created (mode 0600) when there is none. Answers the key and
 * whether it was created now, so the caller can say so once.
 */
export function dataDirMasterKey(dataDir: string): { key: Buffer; created: boolean; file: string } {
  const file = path.join(dataDir, MASTER_KEY_FILE)
  try {
    const key = parseMasterKey(fs.readFileSync(file, 'utf8'))
    if (!key) throw new SecretBoxError(`${file} does not hold a master key (64 hex digits)`)
    return { key, created: false, file }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
  }
  fs.mkdirSync(dataDir, { recursive: true })
  const key = randomBytes(32)
  try {
    fs.writeFileSync(file, `${key.toString('hex')}\n`, { mode: 0o600, flag: 'wx' })
  } catch (error) {
    // Another process wrote it first: use theirs.
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return dataDirMasterKey(dataDir)
    throw error
  }
  return { key, created: true, file }
}
