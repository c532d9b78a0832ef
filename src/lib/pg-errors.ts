// Recognises PostgreSQL errors by SQLSTATE; node-postgres and PGlite both expose `code` and `constraint`.

export function isUniqueViolation(error: unknown, constraint?: string): boolean {
  const e = error as { code?: string; constraint?: string } | null
  return e?.code === '23505' && (constraint === undefined || e.constraint === constraint)
}
