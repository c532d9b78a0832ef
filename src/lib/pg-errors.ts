// Recognises PostgreSQL errors by SQLSTATE, from the `code` and `constraint` that node-postgres exposes.

export function isUniqueViolation(error: unknown, constraint?: string): boolean {
  const e = error as { code?: string; constraint?: string } | null
  return e?.code === '23505' && (constraint === undefined || e.constraint === constraint)
}
