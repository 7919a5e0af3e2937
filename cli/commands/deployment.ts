/** `wasmfleet deployment show|list|pause|resume|cancel|rollback|history`. */
import type { Argv, CommandModule } from 'yargs';
import { fetchAllPages } from '../paging.js';
import { clientFor } from '../api-client.js';
import type { GlobalArgs } from '../global-options.js';
import { emit, table } from '../output.js';
import { getDeployment, renderDeployment, watchDeployment, type DeploymentView } from './rollout-view.js';

export { renderDeployment, type DeploymentView } from './rollout-view.js';

type ShowArgs = GlobalArgs & { id: string; watch: boolean; timeout: number };

const show: CommandModule<GlobalArgs, ShowArgs> = {
  command: 'show <id>',
  describe: "Show a deployment: status, a progress bar per wave, each device's state and reason",
  builder: (argv) =>
    argv
      .positional('id', { type: 'string', demandOption: true })
      .option('watch', { type: 'boolean', default: false, describe: 'redraw the wave bars live until the rollout ends' })
      .option('timeout', { type: 'number', default: 3600, describe: 'seconds --watch waits at most' })
      .example('$0 deployment show dep_123 --watch', 'live progress until the rollout ends')
      .example('$0 deployment show dep_123 --json', 'the deployment as JSON') as Argv<ShowArgs>,
  handler: async (args) => {
    const api = clientFor(args);
    const view = args.watch
      ? await watchDeployment(api, args.id, { timeoutMs: args.timeout * 1000, out: args.json ? process.stderr : process.stdout, draw: true })
      : await getDeployment(api, args.id);
    emit(args.json, view, () => renderDeployment(view));
  },
};

const list: CommandModule<GlobalArgs, GlobalArgs & { status?: string[]; module?: string; limit?: number }> = {
  command: 'list',
  describe: 'List deployments, newest first, with their status; pages through every match',
  builder: (argv) =>
    argv
      .option('status', { type: 'string', array: true, describe: 'only these statuses (repeatable: running, paused, completed, aborted, ...)' })
      .option('module', { type: 'string', describe: 'only deployments of this module' })
      .option('limit', { type: 'number', describe: 'stop after this many (default: all)' })
      .example('$0 deployment list', 'every deployment with its status and counts')
      .example('$0 deployment list --status running --status paused', 'rollouts still in progress') as Argv<GlobalArgs & { status?: string[]; module?: string; limit?: number }>,
  handler: async (args) => {
    if (args.limit !== undefined && !(Number.isInteger(args.limit) && args.limit > 0)) throw new Error('--limit must be a positive integer');
    const deployments = await fetchAllPages<DeploymentView>(clientFor(args), '/api/v1/deployments', 'deployments', { status: args.status, module: args.module }, args.limit !== undefined ? { max: args.limit } : {});
    const result = { deployments };
    emit(args.json, result, () =>
      table(
        result.deployments.map((d) => ({ ...d, healthy: d.counts.healthy, failed: (d.counts.failed ?? 0) + (d.counts.unhealthy ?? 0) + (d.counts['timed-out'] ?? 0) })),
        ['id', 'module', 'version', 'status', 'healthy', 'failed', 'createdAt'],
      ),
    );
  },
};

const ACTIONS = {
  pause: 'Pause a rollout: no new device is sent until resume (devices in flight are still judged)',
  resume: 'Resume a paused rollout',
  cancel: 'Cancel a rollout: devices not reached yet never get it; reached ones keep it',
  rollback: 'Roll back: every device the deployment reached gets its previous entry at a new revision',
} as const;

const control = (action: keyof typeof ACTIONS): CommandModule<GlobalArgs, GlobalArgs & { id: string }> => ({
  command: `${action} <id>`,
  describe: ACTIONS[action],
  builder: (argv) =>
    argv.positional('id', { type: 'string', demandOption: true }).example(`$0 deployment ${action} dep_123`, ACTIONS[action]) as Argv<GlobalArgs & { id: string }>,
  handler: async (args) => {
    const api = clientFor(args);
    await api.post(`/api/v1/deployments/${encodeURIComponent(args.id)}/${action}`, undefined);
    const view = await getDeployment(api, args.id);
    emit(args.json, view, () => renderDeployment(view));
  },
});

interface HistoryEntry {
  deploymentId: string;
  module: string;
  version: string;
  state: string;
  reason: string | null;
  updatedAt: string;
}

const history: CommandModule<GlobalArgs, GlobalArgs & { device: string }> = {
  command: 'history <device>',
  describe: "A device's deployments, newest first, with its state and reason in each",
  builder: (argv) =>
    argv.positional('device', { type: 'string', demandOption: true }).example('$0 deployment history gw-01', 'what gw-01 was sent and how it went') as Argv<
      GlobalArgs & { device: string }
    >,
  handler: async (args) => {
    const result = await clientFor(args).get<{ deployments: HistoryEntry[] }>(`/api/v1/devices/${encodeURIComponent(args.device)}/deployments`);
    emit(args.json, result, () =>
      table(result.deployments.map((h) => ({ ...h, module: `${h.module}@${h.version}` })), ['deploymentId', 'module', 'state', 'reason', 'updatedAt']),
    );
  },
};

export const deploymentCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'deployment <command>',
  describe: 'Inspect and control deployments (rollouts)',
  builder: (argv) =>
    argv
      .command(show)
      .command(list)
      .command(control('pause'))
      .command(control('resume'))
      .command(control('cancel'))
      .command(control('rollback'))
      .command(history)
      .demandCommand(1)
      .example('$0 deployment show dep_123 --watch', 'live wave progress') as Argv<GlobalArgs>,
  handler: () => undefined,
};
