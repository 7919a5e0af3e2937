/** `wasmfleet deploy NAME@VERSION`: target a module version at devices by id, tag or profile. */
import type { Argv, CommandModule } from 'yargs';
import { parseModuleRef } from '../../protocol/index.js';
import { clientFor, type ApiClient } from '../api-client.js';
import { cliErrors } from '../errors.js';
import { asList, parseConfigValues, parseKeyValues, type GlobalArgs } from '../global-options.js';
import { emit } from '../output.js';
import { renderDeployment, type DeploymentView } from './deployment.js';

interface DeployArgs extends GlobalArgs {
  ref: string;
  device?: string[];
  tag?: string[];
  profile?: string;
  config?: string[];
  input?: string;
  wait: boolean;
  timeout: number;
}

/** Polls until no device is pending, or the timeout passes; returns the last view. */
export async function waitForDeployment(api: ApiClient, id: string, timeoutMs: number): Promise<DeploymentView> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const view = await api.get<DeploymentView>(`/api/v1/deployments/${encodeURIComponent(id)}`);
    if (view.counts.pending === 0 || Date.now() >= deadline) return view;
    await new Promise((r) => setTimeout(r, 250));
  }
}

export const deployCommand: CommandModule<GlobalArgs, DeployArgs> = {
  command: 'deploy <ref>',
  describe: 'Deploy NAME@VERSION to devices selected by --device, --tag and/or --profile',
  builder: (argv: Argv<GlobalArgs>) =>
    argv
      .positional('ref', { type: 'string', demandOption: true, describe: 'module NAME@VERSION' })
      .option('device', { type: 'string', array: true, describe: 'target device id (repeatable)' })
      .option('tag', { type: 'string', array: true, describe: 'target devices with tag key=value (repeatable, AND)' })
      .option('profile', { type: 'string', describe: 'target devices with this firmware profile' })
      .option('config', { type: 'string', array: true, describe: 'module param=value (repeatable), checked against the manifest' })
      .option('input', { type: 'string', describe: "sensor source id from the profile (default: the profile's first source)" })
      .option('wait', { type: 'boolean', default: false, describe: 'wait until every targeted device applied or failed' })
      .option('timeout', { type: 'number', default: 60, describe: 'seconds --wait waits at most' })
      .example('$0 deploy ema@1.0.0 --tag site=north --config alpha=0.2', 'smooth the default source at site north')
      .example('$0 deploy zscore@1.0.0 --device gw-01 --device gw-02 --input vibration --wait', 'two devices, vibration input') as Argv<DeployArgs>,
  handler: async (args) => {
    const ref = parseModuleRef(args.ref);
    if (!ref) throw cliErrors.WF_CLI_BAD_ARGUMENT({ option: 'NAME@VERSION', reason: `'${args.ref}' is not like ema@1.0.0` });
    const devices = asList(args.device);
    const tags = parseKeyValues('tag', args.tag);
    if (devices.length === 0 && Object.keys(tags).length === 0 && !args.profile) {
      throw cliErrors.WF_CLI_BAD_ARGUMENT({ option: '--device/--tag/--profile', reason: 'name at least one target' });
    }
    const api = clientFor(args);
    const created = await api.post<{ id: string }>('/api/v1/deployments', {
      module: ref.name,
      version: ref.version,
      target: {
        ...(devices.length > 0 ? { devices } : {}),
        ...(Object.keys(tags).length > 0 ? { tags } : {}),
        ...(args.profile ? { profile: args.profile } : {}),
      },
      config: parseConfigValues(args.config),
      ...(args.input ? { input: args.input } : {}),
    });
    const view = args.wait
      ? await waitForDeployment(api, created.id, args.timeout * 1000)
      : await api.get<DeploymentView>(`/api/v1/deployments/${encodeURIComponent(created.id)}`);
    emit(args.json, view, () => renderDeployment(view));
    if (args.wait && (view.counts.pending > 0 || view.counts.failed > 0)) process.exitCode = 1;
  },
};
