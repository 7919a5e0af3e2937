/**
 * `wasmfleet deploy NAME@VERSION`: roll a module version out to devices by id, tag or profile,
 * in waves behind a health gate (docs/rollouts.md). The defaults are safe; `--immediate` sends
 * every device at once with no soak.
 */
import type { Argv, CommandModule } from 'yargs';
import { parseModuleRef } from '../../protocol/index.js';
import { clientFor, type ApiClient } from '../api-client.js';
import { cliErrors } from '../errors.js';
import { asList, parseConfigValues, parseKeyValues, type GlobalArgs } from '../global-options.js';
import { emit } from '../output.js';
import { getDeployment, renderDeployment, watchDeployment, type DeploymentView } from './rollout-view.js';

interface DeployArgs extends GlobalArgs {
  ref: string;
  device?: string[];
  tag?: string[];
  profile?: string;
  config?: string[];
  input?: string;
  'memory-pages'?: number;
  'cpu-ms'?: number;
  'max-outputs'?: number;
  canary?: string;
  'wave-growth'?: number;
  rate?: number;
  soak?: number;
  'apply-timeout'?: number;
  'failure-threshold'?: string;
  results: boolean;
  'window-cron'?: string;
  'window-minutes'?: number;
  immediate: boolean;
  wait: boolean;
  watch: boolean;
  timeout: number;
}

/** Waits until the rollout ends (or the timeout passes); returns the last view. */
export async function waitForDeployment(api: ApiClient, id: string, timeoutMs: number): Promise<DeploymentView> {
  return watchDeployment(api, id, { timeoutMs, out: process.stderr, draw: false });
}

/** "5" → 5, "10%" → "10%": counts travel as numbers, percentages as strings. */
function countOrPercent(option: string, value: string | undefined): number | string | undefined {
  if (value === undefined) return undefined;
  if (/^\d+(\.\d+)?%$/.test(value)) return value;
  if (/^\d+$/.test(value)) return Number(value);
  throw cliErrors.WF_CLI_BAD_ARGUMENT({ option, reason: `'${value}' is neither a count (5) nor a percentage (10%)` });
}

export function strategyFromArgs(args: DeployArgs): Record<string, unknown> {
  const strategy: Record<string, unknown> = args.immediate ? { canary: 0, soakSeconds: 0, ratePerMinute: 0 } : {};
  const canary = countOrPercent('--canary', args.canary);
  const threshold = countOrPercent('--failure-threshold', args['failure-threshold']);
  if (canary !== undefined) strategy.canary = canary;
  if (threshold !== undefined) strategy.failureThreshold = threshold;
  if (args['wave-growth'] !== undefined) strategy.waveGrowth = args['wave-growth'];
  if (args.rate !== undefined) strategy.ratePerMinute = args.rate;
  if (args.soak !== undefined) strategy.soakSeconds = args.soak;
  if (args['apply-timeout'] !== undefined) strategy.applyTimeoutSeconds = args['apply-timeout'];
  if (!args.results) strategy.requireResults = false;
  if ((args['window-cron'] === undefined) !== (args['window-minutes'] === undefined)) {
    throw cliErrors.WF_CLI_BAD_ARGUMENT({ option: '--window-cron/--window-minutes', reason: 'a maintenance window needs both' });
  }
  if (args['window-cron'] !== undefined) strategy.window = { cron: args['window-cron'], durationMinutes: args['window-minutes'] };
  return strategy;
}

const LIMIT_OPTIONS = [
  ['memory-pages', 'memoryPages'],
  ['cpu-ms', 'cpuMsPerBatch'],
  ['max-outputs', 'maxOutputsPerBatch'],
] as const;

/** The runtime limits the deployment requests; the API checks their ranges. */
export function limitsFromArgs(args: DeployArgs): Record<string, number> {
  const limits: Record<string, number> = {};
  for (const [option, key] of LIMIT_OPTIONS) {
    const value = args[option];
    if (value === undefined) continue;
    if (!Number.isInteger(value) || value < 1) throw cliErrors.WF_CLI_BAD_ARGUMENT({ option: `--${option}`, reason: `'${value}' is not a positive integer` });
    limits[key] = value;
  }
  return limits;
}

export const deployCommand: CommandModule<GlobalArgs, DeployArgs> = {
  command: 'deploy <ref>',
  describe: 'Roll NAME@VERSION out to devices selected by --device, --tag and/or --profile, in waves behind a health gate',
  builder: (argv: Argv<GlobalArgs>) =>
    argv
      .positional('ref', { type: 'string', demandOption: true, describe: 'module NAME@VERSION' })
      .option('device', { type: 'string', array: true, describe: 'target device id (repeatable)' })
      .option('tag', { type: 'string', array: true, describe: 'target devices with tag key=value (repeatable, AND)' })
      .option('profile', { type: 'string', describe: 'target devices with this firmware profile' })
      .option('config', { type: 'string', array: true, describe: 'module param=value (repeatable), checked against the manifest' })
      .option('input', { type: 'string', describe: "sensor source id from the profile (default: the profile's first source)" })
      .option('memory-pages', { type: 'number', describe: "memory maximum in 64 KiB pages (a request: each device grants the smallest of this, the manifest's and its profile's)" })
      .option('cpu-ms', { type: 'number', describe: 'CPU time budget per batch in ms (a request, as --memory-pages)' })
      .option('max-outputs', { type: 'number', describe: 'metric points plus events one batch may emit (a request, as --memory-pages)' })
      .option('canary', { type: 'string', describe: 'first wave: a count (5) or a percentage (10%); 0: no canary (default 5%)' })
      .option('wave-growth', { type: 'number', describe: 'each wave is this many times the previous one (default 2)' })
      .option('rate', { type: 'number', describe: 'devices per minute at most; 0: unthrottled (default 1000)' })
      .option('soak', { type: 'number', describe: 'seconds each device must stay applied and healthy before the next wave (default 60)' })
      .option('apply-timeout', { type: 'number', describe: 'seconds from sending to applied before a device counts as timed out (default 300)' })
      .option('failure-threshold', { type: 'string', describe: 'failed devices that abort and roll back: a count (3) or a percentage (10%, the default)' })
      .option('results', { type: 'boolean', default: true, describe: 'healthy needs results during the soak (--no-results for silent modules)' })
      .option('window-cron', { type: 'string', describe: "maintenance window: when it opens, 5-field cron in UTC (e.g. '0 2 * * *')" })
      .option('window-minutes', { type: 'number', describe: 'maintenance window: how long it stays open' })
      .option('immediate', { type: 'boolean', default: false, describe: 'every device at once, no canary, no soak, unthrottled (the threshold still rolls back)' })
      .option('wait', { type: 'boolean', default: false, describe: 'wait until the rollout ends; exit 1 unless it completed with no failure' })
      .option('watch', { type: 'boolean', default: false, describe: 'like --wait, drawing a live progress bar per wave' })
      .option('timeout', { type: 'number', default: 600, describe: 'seconds --wait/--watch wait at most' })
      .example('$0 deploy ema@1.0.0 --tag site=north --config alpha=0.2 --watch', 'safe defaults: 5% canary, doubling waves, 60 s soak, live bars')
      .example('$0 deploy zscore@1.0.0 --device gw-01 --device gw-02 --input vibration --immediate --wait', 'two devices at once')
      .example('$0 deploy fft@1.0.0 --profile rpi4-arm64 --cpu-ms 20 --max-outputs 64', 'tighter runtime limits than the manifest asks for')
      .example("$0 deploy ema@1.1.0 --tag site=north --canary 2 --failure-threshold 1 --window-cron '0 2 * * *' --window-minutes 120", 'nightly window, abort on the first failure') as Argv<DeployArgs>,
  handler: async (args) => {
    const ref = parseModuleRef(args.ref);
    if (!ref) throw cliErrors.WF_CLI_BAD_ARGUMENT({ option: 'NAME@VERSION', reason: `'${args.ref}' is not like ema@1.0.0` });
    const devices = asList(args.device);
    const tags = parseKeyValues('tag', args.tag);
    if (devices.length === 0 && Object.keys(tags).length === 0 && !args.profile) {
      throw cliErrors.WF_CLI_BAD_ARGUMENT({ option: '--device/--tag/--profile', reason: 'name at least one target' });
    }
    const strategy = strategyFromArgs(args);
    const limits = limitsFromArgs(args);
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
      ...(Object.keys(limits).length > 0 ? { limits } : {}),
      ...(Object.keys(strategy).length > 0 ? { strategy } : {}),
    });
    const follow = args.wait || args.watch;
    const view = follow
      ? await watchDeployment(api, created.id, { timeoutMs: args.timeout * 1000, out: args.json ? process.stderr : process.stdout, draw: args.watch })
      : await getDeployment(api, created.id);
    emit(args.json, view, () => renderDeployment(view));
    const failed = ['failed', 'unhealthy', 'timed-out'].reduce((n, s) => n + (view.counts[s] ?? 0), 0);
    if (follow && (view.status !== 'completed' || failed > 0)) process.exitCode = 1;
  },
};
