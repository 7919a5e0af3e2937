/** `wasmfleet audit`: the audit log of changes (admin only), newest first. */
import type { Argv, CommandModule } from 'yargs';
import { clientFor } from '../api-client.js';
import type { GlobalArgs } from '../global-options.js';
import { emit, table } from '../output.js';

interface AuditArgs extends GlobalArgs {
  actor?: string;
  action?: string;
  target?: string;
  since?: string;
  until?: string;
  failed?: boolean;
  before?: number;
  limit: number;
}

interface AuditEntry {
  id: number;
  at: string;
  actorName: string;
  action: string;
  target: string | null;
  status: number | null;
  remoteAddress: string | null;
  [key: string]: unknown;
}

export const auditCommand: CommandModule<GlobalArgs, AuditArgs> = {
  command: 'audit',
  describe: 'Show the audit log: who changed what, when and from where (admin token)',
  builder: (argv) =>
    argv
      .option('actor', { type: 'string', describe: 'token id or name' })
      .option('action', { type: 'string', describe: 'action, or a prefix ending in "." (device., token., module.)' })
      .option('target', { type: 'string', describe: 'device id, token id, name@version ...' })
      .option('since', { type: 'string', describe: 'ISO 8601 time, inclusive' })
      .option('until', { type: 'string', describe: 'ISO 8601 time, inclusive' })
      .option('failed', { type: 'boolean', describe: 'only refused or failed attempts (--no-failed: only successes)' })
      .option('before', { type: 'number', describe: 'entries older than this id (paging)' })
      .option('limit', { type: 'number', default: 100, describe: 'at most this many entries (1-1000)' })
      .example('$0 audit --action device. --since 2026-11-01T00:00:00Z', 'device changes this month')
      .example('$0 audit --actor ci-deployer --failed --json', "a token's refused attempts") as Argv<AuditArgs>,
  handler: async (args) => {
    const result = await clientFor(args).get<{ entries: AuditEntry[]; nextBefore: number | null }>('/api/v1/audit', {
      actor: args.actor,
      action: args.action,
      target: args.target,
      since: args.since,
      until: args.until,
      failed: args.failed,
      before: args.before,
      limit: args.limit,
    });
    emit(args.json, result, () =>
      [
        table(result.entries, ['id', 'at', 'actorName', 'action', 'target', 'status', 'remoteAddress']),
        result.nextBefore !== null ? `(more: --before ${result.nextBefore})` : '',
      ]
        .filter(Boolean)
        .join('\n'),
    );
  },
};
