/** `wasmfleet deployment show|list`. */
import type { Argv, CommandModule } from 'yargs';
import { clientFor } from '../api-client.js';
import type { GlobalArgs } from '../global-options.js';
import { emit, table } from '../output.js';

export interface DeploymentView {
  id: string;
  module: string;
  version: string;
  createdAt: string;
  counts: { pending: number; applied: number; failed: number; superseded: number };
  devices: { id: string; state: string; reason?: string | null; updatedAt?: string }[];
  [key: string]: unknown;
}

export function renderDeployment(view: DeploymentView): string {
  const c = view.counts;
  return [
    `deployment ${view.id}: ${view.module}@${view.version}`,
    `  applied ${c.applied}  pending ${c.pending}  failed ${c.failed}  superseded ${c.superseded}`,
    table(view.devices, ['id', 'state', 'reason', 'updatedAt']),
  ].join('\n');
}

const show: CommandModule<GlobalArgs, GlobalArgs & { id: string }> = {
  command: 'show <id>',
  describe: "Show a deployment's counts per state and each device's state and reason",
  builder: (argv) =>
    argv
      .positional('id', { type: 'string', demandOption: true })
      .example('$0 deployment show dep_123 --json', 'the deployment as JSON') as Argv<GlobalArgs & { id: string }>,
  handler: async (args) => {
    const view = await clientFor(args).get<DeploymentView>(`/api/v1/deployments/${encodeURIComponent(args.id)}`);
    emit(args.json, view, () => renderDeployment(view));
  },
};

const list: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'list',
  describe: 'List deployments, newest first',
  builder: (argv) => argv.example('$0 deployment list', 'every deployment with its counts'),
  handler: async (args) => {
    const result = await clientFor(args).get<{ deployments: DeploymentView[] }>('/api/v1/deployments');
    emit(args.json, result, () => table(result.deployments.map((d) => ({ ...d, ...d.counts })), ['id', 'module', 'version', 'applied', 'pending', 'failed', 'createdAt']));
  },
};

export const deploymentCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'deployment <command>',
  describe: 'Inspect deployments',
  builder: (argv) =>
    argv.command(show).command(list).demandCommand(1).example('$0 deployment show dep_123', 'per-device states') as Argv<GlobalArgs>,
  handler: () => undefined,
};
