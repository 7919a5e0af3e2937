/**
 * `wasmfleet hub add|list|show|rotate|remove`: site hubs seen from the centre (docs/federation.md).
 * `hub add --config-out FILE` writes the hub's own config (hub/config.ts field names), holding its
 * secret, so the file is written 0600. Running a hub (`wasmfleet hub --config FILE`) is
 * cli/commands/hub-run.ts; `hubCommand(runner)` composes both under one `hub` command.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { replaceSecretFile } from '../secret-file.js';
import { basename, dirname, resolve } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { clientFor } from '../api-client.js';
import { cliErrors } from '../errors.js';
import { asList, parseKeyValues, type GlobalArgs } from '../global-options.js';
import { emit, table } from '../output.js';

interface HubView {
  id: string;
  parent: string | null;
  urls: string[];
  selector: Record<string, string>;
  online: boolean;
  uplink: string;
  backlog: { batches: number; bytes: number; oldestAt: string | null; oldestAgeSeconds: number | null };
  lost: Record<string, number>;
  devices: { total: number; direct: number; connected: number; online: number };
  [key: string]: unknown;
}

interface HubProvisioned {
  hub: HubView;
  devicesMoved: number;
  upstream: { urls: string[]; username: string; clientId: string; password: string };
}

/** The port devices reach the hub on: the first --url's, else MQTT's default. */
export function listenPortOf(urls: readonly string[]): number {
  for (const url of urls) {
    try {
      const parsed = new URL(url);
      if (parsed.port) return Number(parsed.port);
      return parsed.protocol === 'mqtts:' ? 8883 : 1883;
    } catch {
      // The API refused malformed URLs already; keep looking.
    }
  }
  return 1883;
}

/** The hub's config file (hub/config.ts HubConfigSchema): id, secret, upstream, local listener, data dir. */
export function hubConfigOf(provisioned: HubProvisioned, options: { listenHost: string; listenPort: number; dataDir: string }) {
  return {
    hubId: provisioned.hub.id,
    secret: provisioned.upstream.password,
    upstream: { urls: provisioned.upstream.urls },
    listen: { host: options.listenHost, port: options.listenPort },
    dataDir: options.dataDir,
  };
}

type AddArgs = GlobalArgs & {
  id: string;
  tag?: string[];
  device?: string[];
  parent?: string;
  url?: string[];
  'config-out'?: string;
  'listen-host': string;
  'listen-port'?: number;
  'data-dir'?: string;
};

const add: CommandModule<GlobalArgs, AddArgs> = {
  command: 'add <id>',
  describe: "Provision a site hub; its secret is shown (and written to --config-out) once",
  builder: (argv) =>
    argv
      .positional('id', { type: 'string', demandOption: true, describe: 'hub id (lowercase letters, digits, . _ -)' })
      .option('tag', { type: 'string', array: true, describe: 'selector key=value (repeatable, AND): devices with these tags go behind it, now and when added' })
      .option('device', { type: 'string', array: true, describe: 'a device to put behind it (repeatable)' })
      .option('parent', { type: 'string', describe: 'the hub it connects to upstream (nested hubs); default: the central broker' })
      .option('url', { type: 'string', array: true, describe: 'URL devices (and child hubs) use to reach this hub, e.g. mqtt://hub-north.local:1883 (repeatable)' })
      .option('config-out', { type: 'string', describe: "write the hub's config file (mode 0600: it holds the secret)" })
      .option('listen-host', { type: 'string', default: '0.0.0.0', describe: "interface the hub's broker listens on" })
      .option('listen-port', { type: 'number', describe: "port the hub's broker listens on (default: the first --url's port, else 1883)" })
      .option('data-dir', { type: 'string', describe: "the hub's data directory (default: <config name>.data beside the config file)" })
      .example('$0 hub add north --tag site=north --url mqtt://hub-north.local:1883 --config-out north.hub.json', 'a hub for every device tagged site=north')
      .example('$0 hub add north-line2 --parent north --device gw-07 --device gw-08 --url mqtt://10.0.2.1:1883 --config-out line2.hub.json', 'a nested hub below north for two devices')
      .example('$0 hub add north --tag site=north --json', 'provision only; print the secret as JSON') as Argv<AddArgs>,
  handler: async (args) => {
    const urls = asList(args.url);
    const port = args['listen-port'] ?? listenPortOf(urls);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw cliErrors.WF_CLI_BAD_ARGUMENT({ option: '--listen-port', reason: 'must be an integer 0-65535' });
    const provisioned = await clientFor(args).post<HubProvisioned>('/api/v1/hubs', {
      id: args.id,
      selector: parseKeyValues('tag', args.tag),
      ...(args.device ? { devices: asList(args.device) } : {}),
      ...(args.parent !== undefined ? { parent: args.parent } : {}),
      urls,
    });
    let configFile: string | undefined;
    if (args['config-out']) {
      configFile = resolve(args['config-out']);
      const dataDir = args['data-dir'] ?? `${basename(configFile).replace(/\.json$/, '')}.data`;
      const config = hubConfigOf(provisioned, { listenHost: args['listen-host'], listenPort: port, dataDir });
      try {
        writeFileSync(configFile, JSON.stringify(config, null, 2) + '\n', { mode: 0o600 });
      } catch (error) {
        throw cliErrors.WF_CLI_FILE({ path: configFile, reason: (error as Error).message });
      }
    }
    emit(args.json, { ...provisioned, ...(configFile ? { hubConfig: configFile } : {}) }, () =>
      [
        `provisioned hub ${provisioned.hub.id}${provisioned.hub.parent ? ` below ${provisioned.hub.parent}` : ''}; ${provisioned.devicesMoved} device(s) behind it now`,
        `  upstream  ${provisioned.upstream.urls.join(', ')}`,
        `  username  ${provisioned.upstream.username} (clientId ${provisioned.upstream.clientId})`,
        `  secret    ${provisioned.upstream.password}   (shown once)`,
        provisioned.hub.urls.length === 0 ? '  note      no --url: devices cannot be pointed at this hub until it has one' : `  devices   connect to ${provisioned.hub.urls.join(', ')}`,
        configFile ? `  hub config written to ${configFile} (in ${dirname(configFile)}); run: wasmfleet hub --config ${configFile}` : '',
      ]
        .filter(Boolean)
        .join('\n'),
    );
  },
};

const columns = (hubs: HubView[]) =>
  hubs.map((hub) => ({
    id: hub.id,
    parent: hub.parent ?? '',
    uplink: hub.uplink,
    devices: `${hub.devices.connected}/${hub.devices.total}`,
    backlog: `${hub.backlog.batches} (${hub.backlog.bytes} B${hub.backlog.oldestAgeSeconds !== null ? `, oldest ${hub.backlog.oldestAgeSeconds} s` : ''})`,
    lost: Object.values(hub.lost).reduce((sum, n) => sum + n, 0),
    selector: hub.selector,
  }));

const list: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'list',
  describe: 'List hubs: uplink state, devices connected/behind, backlog held, batches lost',
  builder: (argv) => argv.example('$0 hub list', 'every hub at a glance').example('$0 hub list --json', 'as JSON') as Argv<GlobalArgs>,
  handler: async (args) => {
    const { hubs } = await clientFor(args).get<{ hubs: HubView[] }>('/api/v1/hubs');
    emit(args.json, { hubs }, () => (hubs.length === 0 ? 'no hubs' : table(columns(hubs), ['id', 'parent', 'uplink', 'devices', 'backlog', 'lost', 'selector'])));
  },
};

const show: CommandModule<GlobalArgs, GlobalArgs & { id: string }> = {
  command: 'show <id>',
  describe: 'Show one hub with its status, backlog and devices',
  builder: (argv) => argv.positional('id', { type: 'string', demandOption: true }).example('$0 hub show north --json', "hub north's status as JSON") as Argv<GlobalArgs & { id: string }>,
  handler: async (args) => {
    const hub = await clientFor(args).get<HubView>(`/api/v1/hubs/${encodeURIComponent(args.id)}`);
    emit(args.json, hub, () => JSON.stringify(hub, null, 2));
  },
};

const remove: CommandModule<GlobalArgs, GlobalArgs & { id: string }> = {
  command: 'remove <id>',
  describe: 'Remove a hub: its secret stops working, its session is closed, and its devices move to its parent hub (or back to the central broker)',
  builder: (argv) => argv.positional('id', { type: 'string', demandOption: true }).example('$0 hub remove north', 'decommission hub north') as Argv<GlobalArgs & { id: string }>,
  handler: async (args) => {
    await clientFor(args).delete(`/api/v1/hubs/${encodeURIComponent(args.id)}`);
    emit(args.json, { removed: args.id }, () => `removed hub ${args.id}`);
  },
};

interface HubRotated {
  hubId: string;
  upstream: { username: string; password: string };
  rotatedAt: string;
  previousValidUntil: string | null;
}

type RotateArgs = GlobalArgs & { id: string; 'grace-seconds'?: number; 'config-out'?: string };

/** The hub config `hub add --config-out` wrote, read and checked to be this hub's before anything changes. */
function readHubConfig(path: string, hubId: string): Record<string, unknown> {
  if (!existsSync(path)) throw cliErrors.WF_CLI_BAD_ARGUMENT({ option: '--config-out', reason: `${path} does not exist; name the config \`hub add --config-out\` wrote` });
  let config: Record<string, unknown>;
  try {
    config = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch (error) {
    throw cliErrors.WF_CLI_FILE({ path, reason: (error as Error).message });
  }
  if (config === null || typeof config !== 'object' || config.hubId !== hubId) {
    throw cliErrors.WF_CLI_BAD_ARGUMENT({ option: '--config-out', reason: `${path} is the config of hub '${String(config?.hubId)}', not '${hubId}'` });
  }
  return config;
}

/** The config with the new secret in place of the old one, every other field kept; written beside it and renamed over it, mode 0600. */
function writeHubConfig(path: string, config: Record<string, unknown>, secret: string): void {
  try {
    replaceSecretFile(path, { ...config, secret });
  } catch (error) {
    throw cliErrors.WF_CLI_FILE({ path, reason: (error as Error).message });
  }
}

const rotate: CommandModule<GlobalArgs, RotateArgs> = {
  command: 'rotate <id>',
  describe: "Issue a new secret for a hub (shown once); the old one works until the hub uses the new one or the grace ends (0: cut now)",
  builder: (argv) =>
    argv
      .positional('id', { type: 'string', demandOption: true })
      .option('grace-seconds', { type: 'number', describe: 'how long the old secret keeps working (default: the API\'s, as for devices); 0 revokes it and closes the hub\'s open session at once' })
      .option('config-out', { type: 'string', describe: "the hub's config file (from `hub add --config-out`): its secret is replaced, every other field kept (mode 0600)" })
      .example('$0 hub rotate north --config-out north.hub.json', 'a new secret in north.hub.json; restart the hub with it within the grace')
      .example('$0 hub rotate north --grace-seconds 0 --config-out north.hub.json --json', 'the old secret stops now and its session is cut (a leaked secret)') as Argv<RotateArgs>,
  handler: async (args) => {
    const grace = args['grace-seconds'];
    if (grace !== undefined && (!Number.isInteger(grace) || grace < 0)) throw cliErrors.WF_CLI_BAD_ARGUMENT({ option: '--grace-seconds', reason: 'must be an integer of 0 or more' });
    const configFile = args['config-out'] !== undefined ? resolve(args['config-out']) : undefined;
    // Checked before the secret changes: a rotation whose secret cannot be written is worse than none.
    const config = configFile ? readHubConfig(configFile, args.id) : undefined;
    const rotated = await clientFor(args).post<HubRotated>(`/api/v1/hubs/${encodeURIComponent(args.id)}/credentials/rotate`, grace !== undefined ? { graceSeconds: grace } : {});
    if (configFile && config) writeHubConfig(configFile, config, rotated.upstream.password);
    emit(args.json, { ...rotated, ...(configFile ? { hubConfig: configFile } : {}) }, () =>
      [
        `rotated the secret of hub ${rotated.hubId}`,
        `  username  ${rotated.upstream.username}`,
        `  secret    ${rotated.upstream.password}   (shown once)`,
        rotated.previousValidUntil ? `  old secret works until ${rotated.previousValidUntil}, or until the hub connects with the new one` : '  old secret revoked; the hub\'s open session was closed',
        configFile ? `  hub config ${configFile} updated; restart the hub with it: wasmfleet hub --config ${configFile}` : '',
      ]
        .filter(Boolean)
        .join('\n'),
    );
  },
};

export const hubManagementCommands = [add, list, show, rotate, remove] as const;

/** What `wasmfleet hub --config FILE` runs (cli/commands/hub-run.ts), when composed in. */
export interface HubRunner {
  handler(args: GlobalArgs & { config: string }): Promise<void>;
}

/**
 * `hub add|list|show|remove`, and with a runner `hub --config FILE` as the default when no
 * subcommand is named.
 */
export function hubCommand(runner?: HubRunner): CommandModule<GlobalArgs, GlobalArgs & { config?: string }> {
  return {
    command: runner ? 'hub' : 'hub <command>',
    describe: runner ? 'Run a site hub (--config FILE), or provision, list, show, rotate and remove hubs' : 'Provision, list, show, rotate and remove site hubs',
    builder: (argv) => {
      let built = argv as Argv<GlobalArgs>;
      for (const command of hubManagementCommands) built = built.command(command as CommandModule<GlobalArgs, never>);
      if (runner) built = built.option('config', { type: 'string', describe: 'run the hub described by this config file (written by `hub add --config-out`)' }) as Argv<GlobalArgs>;
      else built = built.demandCommand(1);
      return built.example('$0 hub add north --tag site=north --url mqtt://hub-north.local:1883 --config-out north.hub.json', 'provision a hub') as Argv<GlobalArgs & { config?: string }>;
    },
    handler: async (args) => {
      if (!runner) return;
      if (args.config === undefined) throw cliErrors.WF_CLI_BAD_ARGUMENT({ option: '--config', reason: 'name the hub config file to run, or a subcommand: add, list, show, rotate, remove' });
      await runner.handler({ ...args, config: args.config });
    },
  };
}
