// An online copy of the embedded database, made with PostgreSQL's own base-backup procedure
// (pg_backup_start, copy the files, pg_backup_stop, keep the WAL written meanwhile). The copy is a complete
// cluster of the same PostgreSQL: put it back as <dataDir>/pg and the next start replays it to the moment
// the backup ended. The package ships no pg_dump or pg_basebackup, so this needs nothing but the server.
import fs from 'node:fs/promises'
import path from 'node:path'
import pg from 'pg'
import {
  DataDirLockedError,
  EmbeddedDatabaseError,
  embeddedConnection,
  embeddedLayout,
  startEmbedded,
} from './embedded-postgres.js'

/** Files and folder contents that a base backup leaves out (the list pg_basebackup uses). */
const SKIPPED_FILES = new Set([
  'postmaster.pid',
  'postmaster.opts',
  'pg_internal.init',
  'backup_label',
  'tablespace_map',
  'backup_label.old',
  'tablespace_map.old',
  'current_logfiles',
])
const EMPTIED_DIRS = new Set([
  'pg_wal',
  'pg_dynshmem',
  'pg_notify',
  'pg_replslot',
  'pg_serial',
  'pg_snapshots',
  'pg_stat_tmp',
  'pg_subtrans',
])

export interface BackupOutcome {
  files: number
  bytes: number
  /** True when the copy was taken from a running paylinks's server, false when this command started one. */
  online: boolean
}

/** Copies the embedded database of `dataDir` into the new folder `target`, whether or not paylinks runs. */
export async function backupEmbedded(dataDir: string, target: string): Promise<BackupOutcome> {
  const layout = embeddedLayout(dataDir)
  const dest = path.resolve(target)
  if (await fs.stat(dest).catch(() => undefined))
    throw new EmbeddedDatabaseError(`${dest} already exists: name a new folder`)
  let stop: (() => Promise<void>) | undefined
  let online = false
  try {
    stop = (await startEmbedded({ dataDir })).stop
  } catch (error) {
    // A running paylinks holds the directory: copy from its server, through the socket.
    if (!(error instanceof DataDirLockedError)) throw error
    online = true
  }
  const client = new pg.Client(embeddedConnection(layout.dataDir, 'postgres'))
  client.on('error', () => {})
  try {
    await client.connect()
    await fs.mkdir(dest, { recursive: true, mode: 0o700 })
    // A temporary slot keeps every WAL segment from here on until this session ends, so no checkpoint
    // during the copy recycles one the copy needs.
    await client.query('select pg_create_physical_replication_slot($1, true, true)', [
      `paylinks_backup_${process.pid}`,
    ])
    await client.query("select pg_backup_start('paylinks backup', true)")
    const copied = { files: 0, bytes: 0 }
    await copyTree(layout.clusterDir, dest, copied)
    const { rows } = await client.query<{ labelfile: string; spcmapfile: string | null; last_wal: string }>(
      'select labelfile, spcmapfile, pg_walfile_name(lsn) as last_wal from pg_backup_stop(false)',
    )
    const stopped = rows[0]
    const firstWal = /^START WAL LOCATION: .* \(file ([0-9A-F]{24})\)$/m.exec(stopped?.labelfile ?? '')?.[1]
    if (!stopped || !firstWal) throw new Error('pg_backup_stop did not describe the backup')
    await fs.writeFile(path.join(dest, 'backup_label'), stopped.labelfile, { mode: 0o600 })
    if (stopped.spcmapfile) await fs.writeFile(path.join(dest, 'tablespace_map'), stopped.spcmapfile)
    // The WAL from the backup's checkpoint to its end, all of it still there thanks to the slot; segments
    // made ready for later writes are not needed.
    for (const name of await fs.readdir(path.join(layout.clusterDir, 'pg_wal'))) {
      const segment = /^[0-9A-F]{24}$/.test(name)
      if (segment ? name < firstWal || name > stopped.last_wal : !name.endsWith('.history')) continue
      await fs.copyFile(path.join(layout.clusterDir, 'pg_wal', name), path.join(dest, 'pg_wal', name))
      copied.files++
      copied.bytes += (await fs.stat(path.join(dest, 'pg_wal', name))).size
    }
    await fs.mkdir(path.join(dest, 'pg_wal', 'archive_status'), { mode: 0o700 })
    await fs.mkdir(path.join(dest, 'pg_wal', 'summaries'), { mode: 0o700 })
    return { ...copied, online }
  } catch (error) {
    await fs.rm(dest, { recursive: true, force: true })
    throw error
  } finally {
    await client.end().catch(() => {})
    await stop?.()
  }
}

async function copyTree(from: string, to: string, copied: { files: number; bytes: number }): Promise<void> {
  await fs.mkdir(to, { recursive: true, mode: 0o700 })
  let entries: import('node:fs').Dirent[]
  try {
    entries = await fs.readdir(from, { withFileTypes: true })
  } catch (error) {
    // A folder removed while copying (a dropped database's) is not part of the backup.
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return
    throw error
  }
  for (const entry of entries) {
    const source = path.join(from, entry.name)
    const dest = path.join(to, entry.name)
    if (entry.isDirectory()) {
      if (entry.name.startsWith('pgsql_tmp')) continue
      if (EMPTIED_DIRS.has(entry.name)) {
        await fs.mkdir(dest, { recursive: true, mode: 0o700 })
        continue
      }
      await copyTree(source, dest, copied)
    } else if (entry.isFile() && !SKIPPED_FILES.has(entry.name)) {
      try {
        await fs.copyFile(source, dest)
        copied.files++
        copied.bytes += (await fs.stat(dest)).size
      } catch (error) {
        // Files may vanish while the server runs (a temporary relation); the WAL replay covers them.
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
      }
    }
  }
}
