// PostgreSQL text cannot hold a NUL character: every decoded string of a request (path parameters,
// query string, body, at any depth, keys included) is checked before validation, so that a NUL is a 400
// naming the field on every route instead of a database error on some.
import type { FastifyRequest } from 'fastify'
import { AppError } from './errors.js'

export const NUL_RULE = 'nul'

interface Step {
  value: unknown
  key: string | number | undefined
  parent: Step | undefined
}

/** `prices[0].currency`, as validation messages name fields; a NUL in a key is shown as `\0`. */
function pathOf(step: Step): string {
  const keys: (string | number)[] = []
  for (let s: Step | undefined = step; s?.key !== undefined; s = s.parent) keys.unshift(s.key)
  return keys.reduce<string>((name, key) => {
    if (typeof key === 'number') return `${name}[${key}]`
    const shown = key.replaceAll('\0', '\\0')
    return name ? `${name}.${shown}` : shown
  }, '')
}

/**
 * The path of the first string or key holding a NUL, or undefined. Iterative, with parent links instead
 * of path copies, so that a body nested thousands of levels deep costs neither the stack nor quadratic time.
 */
export function findNul(root: unknown): string | undefined {
  const stack: Step[] = [{ value: root, key: undefined, parent: undefined }]
  for (let step = stack.pop(); step; step = stack.pop()) {
    const { value } = step
    if (typeof value === 'string') {
      if (value.includes('\0')) return pathOf(step)
    } else if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) stack.push({ value: value[i], key: i, parent: step })
    } else if (value !== null && typeof value === 'object') {
      for (const [key, child] of Object.entries(value)) {
        const entry = { value: child, key, parent: step }
        if (key.includes('\0')) return pathOf(entry)
        stack.push(entry)
      }
    }
  }
  return undefined
}

const PARTS = [
  ['params', (r: FastifyRequest) => r.params],
  ['querystring', (r: FastifyRequest) => r.query],
  ['body', (r: FastifyRequest) => r.body],
] as const

/** A preValidation hook: the first NUL of the request is a validation failure of its field. */
export async function rejectNulCharacters(request: FastifyRequest): Promise<void> {
  for (const [location, part] of PARTS) {
    const field = findNul(part(request))
    if (field === undefined) continue
    const name = field || location
    throw new AppError('validation_failed', `${name}: must not contain NUL characters`, {
      field: name,
      rule: NUL_RULE,
      location,
    })
  }
}
