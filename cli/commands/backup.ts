/**
 * `wasmfleet backup`: a consistent copy of the fleet database while the server keeps running,
 * through SQLite's online backup API (WAL readers never block the ingesting writer, and the copy
 * includes what is committed in the WAL). The copy is then opened and integrity-checked.
 */
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import Database from 'better-sqlite3';
import { reasonOf } from '../../common/errors.js';
import { cliErrors } from '../errors.js';
import type { GlobalArgs } from '../global-options.js';
import { emit } from '../output.js';

interface BackupArgs extends GlobalArgs {
  data: string;
  out: string;
}

export interface BackupSummary {
  source: string;
  out: string;
  bytes: number;
  pages: number;
  integrity: string;
  devices: number;
  modules: number;
  resultBatches: number;
}

export async function backupDatabase(dataDir: string, out: string): Promise<BackupSummary> {
  const source = resolve(dataDir, 'fleet.db');
  const target = resolve(out);
  if (!existsSync(source)) throw cliErrors.WF_CLI_FILE({ path: source, reason: 'no fleet database here (--data names the server data directory)' });
  if (existsSync(target)) throw cliErrors.WF_CLI_FILE({ path: target, reason: 'already exists; a backup never overwrites' });
  const db = new Database(source, { fileMustExist: true });
  let pages = 0;
  try {
    db.pragma('busy_timeout = 5000');
    const progress = await db.backup(target);
    pages = progress.totalPages;
  } catch (error) {
    throw cliErrors.WF_CLI_FILE({ path: target, reason: `backup failed: ${reasonOf(error)}` });
  } finally {
    db.close();
  }
  const copy = new Database(target, { readonly: true, fileMustExist: true });
  try {
    const count = (table: string) => copy.prepare(`SELECT count(*) FROM ${table}`).pluck().get() as number;
    return {
      source,
      out: target,
      bytes: statSync(target).size,
      pages,
      integrity: copy.pragma('integrity_check', { simple: true }) as string,
      devices: count('devices'),
      modules: count('modules'),
      resultBatches: count('result_batches'),
    };
  } finally {
    copy.close();
  }
}

export const backupCommand: CommandModule<GlobalArgs, BackupArgs> = {
  command: 'backup',
  describe: 'Copy the fleet database consistently while the server runs (SQLite online backup)',
  builder: (argv: Argv<GlobalArgs>) =>
    argv
      .option('data', { type: 'string', default: './data', describe: 'the server data directory (holds fleet.db)' })
      .option('out', { type: 'string', demandOption: true, describe: 'file to write; must not exist' })
      .example('$0 backup --data ./data --out backups/fleet-$(date +%F).db', 'back up a running server')
      .epilogue('Restore: stop the server, replace DATA/fleet.db with the copy, delete DATA/fleet.db-wal and DATA/fleet.db-shm, start it. See docs/operations.md.') as Argv<BackupArgs>,
  handler: async (args) => {
    const summary = await backupDatabase(args.data, args.out);
    emit(args.json, summary, () =>
      [
        `backup written: ${summary.out} (${summary.bytes} bytes, integrity ${summary.integrity})`,
        `  ${summary.devices} devices, ${summary.modules} modules, ${summary.resultBatches} result batches`,
        `  also keep ${join(resolve(args.data), 'service.secret')} and admin.token with it`,
      ].join('\n'),
    );
  },
};
