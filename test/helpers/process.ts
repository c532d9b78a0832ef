// Runs paylinks as real processes, from dist/: the suite's global setup compiles it from the sources when
// they changed, so the sources under test are the ones run, with no compiler in every process.
import { type ChildProcess, spawn } from 'node:child_process'
import fs from 'node:fs/promises'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { Readable } from 'node:stream'
import { createTestDatabase } from './database.js'

const ROOT = path.resolve(import.meta.dirname, '../..')

/**
 * The time limit of a test that starts paylinks processes. Each one loads the server and opens its
 * database; while the rest of the suite runs beside it on two cores, a test of five such processes has
 * taken over 30 s, so these tests get far more room than the suite's default.
 */
export const PROCESS_TIMEOUT = 120_000

/**
 * An environment on an empty database: by default a database of its own on the suite's PostgreSQL (see
 * global-setup.ts); with `embedded`, an empty data directory where paylinks starts its own embedded
 * PostgreSQL, for the tests of the embedded default itself.
 */
export async function freshDatabaseEnv(
  options: { embedded?: boolean } = {},
): Promise<{ env: Record<string, string>; cleanup(): Promise<void> }> {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'paylinks-test-'))
  if (options.embedded) {
    return {
      env: { PAYLINKS_DATA_DIR: dataDir },
      cleanup: () => fs.rm(dataDir, { recursive: true, force: true }),
    }
  }
  const database = await createTestDatabase()
  return {
    env: { PAYLINKS_DATA_DIR: dataDir, DATABASE_URL: database.url },
    cleanup: async () => {
      await database.drop()
      await fs.rm(dataDir, { recursive: true, force: true })
    },
  }
}

/**
 * Node's arguments for a paylinks entry point named by its source (`src/server.ts` runs as
 * `dist/server.js`); anything else (a test's own script) runs through tsx.
 */
function nodeArgs(args: string[]): string[] {
  const [entry, ...rest] = args
  const compiled = entry === undefined ? null : /^src\/(.+)\.ts$/.exec(entry)
  return compiled ? [`dist/${compiled[1]}.js`, ...rest] : ['--import', 'tsx', ...args]
}

function childEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const base = { ...process.env }
  delete base.DATABASE_URL
  delete base.PORT
  return { ...base, LOG_LEVEL: 'warn', ...env }
}

export interface CliResult {
  code: number | null
  stdout: string
  stderr: string
}

/** Runs `paylinks ARGS` as a real process, for tests where a separate process is the point. */
export function runCliProcess(
  args: string[],
  env: Record<string, string>,
  stdin?: string,
): Promise<CliResult> {
  return runToExit(['src/cli.ts', ...args], env, stdin)
}

class Exited extends Error {
  constructor(readonly code: number) {
    super(`process.exit(${code})`)
  }
}

/**
 * Runs `paylinks ARGS` inside this process, as its bin does (`main`), with its own environment: what it
 * writes to stdout and stderr, and the code it exits with. No process start-up, so a test may call it often.
 */
export async function runCli(
  args: string[],
  env: Record<string, string>,
  stdin?: string,
): Promise<CliResult> {
  const { main } = await import('../../src/cli.js')
  let stdout = ''
  let stderr = ''
  const capture = (append: (text: string) => void) =>
    ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      append(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'))
      const done = rest.find((arg) => typeof arg === 'function') as (() => void) | undefined
      done?.()
      return true
    }) as typeof process.stdout.write
  const saved = {
    stdout: process.stdout.write,
    stderr: process.stderr.write,
    exit: process.exit,
    stdin: Object.getOwnPropertyDescriptor(process, 'stdin'),
  }
  process.stdout.write = capture((text) => {
    stdout += text
  })
  process.stderr.write = capture((text) => {
    stderr += text
  })
  process.exit = ((code?: number) => {
    throw new Exited(code ?? 0)
  }) as typeof process.exit
  Object.defineProperty(process, 'stdin', {
    value: Readable.from(stdin === undefined ? [] : [Buffer.from(stdin)]),
    configurable: true,
  })
  let code = 0
  try {
    await main(['node', 'paylinks', ...args], childEnv(env))
  } catch (error) {
    if (!(error instanceof Exited)) throw error
    code = error.code
  } finally {
    process.stdout.write = saved.stdout
    process.stderr.write = saved.stderr
    process.exit = saved.exit
    if (saved.stdin) Object.defineProperty(process, 'stdin', saved.stdin)
  }
  return { code, stdout, stderr }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      )
    })
  })
}

export interface ServerProcess {
  child: ChildProcess
  port: number
  baseUrl: string
  output(): string
  exited: Promise<number | null>
  stop(signal?: NodeJS.Signals): Promise<number | null>
}

/** Starts `src/server.ts` and resolves once it prints that it listens (or rejects with its output). */
export async function startServer(
  env: Record<string, string>,
  args: string[] = ['src/server.ts'],
): Promise<ServerProcess> {
  const port = await freePort()
  const child = spawn(process.execPath, nodeArgs(args), {
    cwd: ROOT,
    env: childEnv({ PORT: String(port), ...env }),
  })
  let out = ''
  child.stdout?.on('data', (d) => {
    out += d
  })
  child.stderr?.on('data', (d) => {
    out += d
  })
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${out}`)), 60_000)
    const check = setInterval(() => {
      if (out.includes('paylinks is listening')) {
        clearInterval(check)
        clearTimeout(timer)
        resolve()
      }
    }, 50)
    exited.then((code) => {
      clearInterval(check)
      clearTimeout(timer)
      reject(new Error(`server exited with ${code}:\n${out}`))
    })
  })
  return {
    child,
    port,
    baseUrl: `http://127.0.0.1:${port}`,
    output: () => out,
    exited,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null) child.kill(signal)
      return exited
    },
  }
}

/** Runs a process to its end and collects what it printed. */
export function runToExit(args: string[], env: Record<string, string>, stdin?: string): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, nodeArgs(args), { cwd: ROOT, env: childEnv(env) })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => {
      stdout += d
    })
    child.stderr.on('data', (d) => {
      stderr += d
    })
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
    child.stdin.end(stdin ?? '')
  })
}

/** GET a JSON document from a running server. */
export async function fetchJson(url: string, headers: Record<string, string> = {}) {
  const res = await fetch(url, { headers })
  // biome-ignore lint/suspicious/noExplicitAny: tests read response bodies field by field and assert them.
  return { status: res.status, body: (await res.json()) as any }
}
