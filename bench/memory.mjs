// Memory of a server and of the PostgreSQL it uses, read from /proc while the load runs: the server's own
// process, and the postmaster with every child it has at the moment (backends come and go with the pool).
// VmHWM would give a peak only per process; the peak that matters is that of their sum, so it is sampled.
import { readFileSync } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'

const INTERVAL_MS = 200

/** The pid in <dataDir>/pg/postmaster.pid, while that postmaster runs. */
export async function postmasterPid(dataDir) {
  const text = await fs.readFile(path.join(dataDir, 'pg', 'postmaster.pid'), 'utf8').catch(() => '')
  const pid = Number(text.split('\n')[0])
  return Number.isInteger(pid) && pid > 0 && alive(pid) ? pid : undefined
}

/** Whether a process runs; a zombie (exited, not yet reaped) does not. */
export function alive(pid) {
  try {
    process.kill(pid, 0)
  } catch (error) {
    if (error.code !== 'EPERM') return false
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z'
  } catch {
    return false
  }
}

/** Direct children of a process, over all its threads (a child belongs to the thread that forked it). */
async function children(pid) {
  const tasks = await fs.readdir(`/proc/${pid}/task`).catch(() => [])
  const found = []
  for (const task of tasks) {
    const text = await fs.readFile(`/proc/${pid}/task/${task}/children`, 'utf8').catch(() => '')
    for (const child of text.split(' ')) if (child.trim()) found.push(Number(child))
  }
  return found
}

async function tree(root) {
  const pids = [root]
  for (let i = 0; i < pids.length; i++) pids.push(...(await children(pids[i])))
  return pids
}

/** Resident and proportional set size of one process in kB (PSS shares shared memory among its users). */
async function usage(pid) {
  const text = await fs.readFile(`/proc/${pid}/smaps_rollup`, 'utf8').catch(() => '')
  const field = (name) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? 0)
  return { rss: field('Rss'), pss: field('Pss') }
}

/**
 * One reading: the server process alone, and everything else under it or under the postmaster (which is
 * the server's child when paylinks runs its embedded database, and nobody's of ours otherwise).
 */
export async function readMemory({ server, postmaster }) {
  const pids = new Set(await tree(server))
  if (postmaster) for (const pid of await tree(postmaster)) pids.add(pid)
  const reading = { nodeKb: 0, postgresKb: 0, pssKb: 0, processes: 0 }
  for (const pid of pids) {
    const { rss, pss } = await usage(pid)
    if (rss === 0) continue // gone between the listing and the read
    reading.processes++
    reading.pssKb += pss
    if (pid === server) reading.nodeKb += rss
    else reading.postgresKb += rss
  }
  return reading
}

/** Samples every 200 ms until stopped; stop() gives the reading whose RSS sum was highest, in MB. */
export function sampleMemory(pids) {
  let peak
  let running = true
  const loop = (async () => {
    while (running) {
      const reading = await readMemory(pids)
      if (!peak || reading.nodeKb + reading.postgresKb > peak.nodeKb + peak.postgresKb) peak = reading
      await new Promise((resolve) => setTimeout(resolve, INTERVAL_MS))
    }
  })()
  return {
    stop: async () => {
      running = false
      await loop
      return inMb(peak)
    },
  }
}

/** The highest of a few readings over a second, for a server at rest. */
export async function restingMemory(pids) {
  const sampler = sampleMemory(pids)
  await new Promise((resolve) => setTimeout(resolve, 1000))
  return sampler.stop()
}

function inMb(reading) {
  const mb = (kb) => Math.round(kb / 1024)
  return {
    node: mb(reading.nodeKb),
    postgres: mb(reading.postgresKb),
    total: mb(reading.nodeKb + reading.postgresKb),
    pss: mb(reading.pssKb),
    processes: reading.processes,
  }
}
