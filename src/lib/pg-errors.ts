// Recognises PostgreSQL errors by SQLSTATE, from the `code` and `constraint` that node-postgres exposes.

export function isUniqueViolation(error: unknown, constraint?: string): boolean {
  const e = error as { code?: string; constraint?: string } | null
  return e?.code === '23505' && (constraint === undefined || e.constraint === constraint)
}

/**
 * The server is going away or cannot take connections: 57P01 admin, 57P02 crash shutdown, 57P03 starting up,
 * 53300 too many connections (refused at connect).
 */
const SERVER_GONE = new Set(['57P01', '57P02', '57P03', '53300'])
/** Class 08 but a fault of the statement sent (a malformed message), on a connection that stays usable. */
const PROTOCOL_VIOLATION = '08P01'
/** The database's host name did not resolve (for now, or at all). */
const NAME_UNRESOLVED = new Set(['ENOTFOUND', 'EAI_AGAIN'])
/** The socket to the server failed: reset, refused, written to after the other end closed, timed out, unreachable. */
const SOCKET_FAILED = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
])
/** node-postgres and its pool report a lost or unusable connection as plain errors, told by their message. */
const CONNECTION_LOST =
  /^(?:Connection terminated|Client has encountered a connection error|Client was closed|Cannot use a pool after calling end|timeout exceeded when trying to connect)/

/**
 * The connection to the database failed, rather than the statement: SQLSTATE class 08, the server shutting
 * down or not yet up, a failed socket, or node-postgres' own word for a lost connection (looked for along
 * the error's causes too). Whatever else was sent on that connection failed with it.
 */
export function isConnectionError(error: unknown): boolean {
  for (let e = error, depth = 0; e && typeof e === 'object' && depth < 5; depth++) {
    const { code, message, syscall, cause } = e as {
      code?: unknown
      message?: unknown
      syscall?: unknown
      cause?: unknown
    }
    if (typeof code === 'string') {
      if (code.startsWith('08') && code !== PROTOCOL_VIOLATION) return true
      if (SERVER_GONE.has(code) || SOCKET_FAILED.has(code)) return true
      // A Unix socket (the embedded server's) that is not there any more.
      if (code === 'ENOENT' && syscall === 'connect') return true
      if (NAME_UNRESOLVED.has(code) && syscall === 'getaddrinfo') return true
    }
    if (typeof message === 'string' && CONNECTION_LOST.test(message)) return true
    e = cause
  }
  return false
}
