/** `wasmfleet device rotate-credentials ID`: a new MQTT secret for a device, shown once. */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { clientFor } from '../api-client.js';
import { cliErrors } from '../errors.js';
import type { GlobalArgs } from '../global-options.js';
import { emit } from '../output.js';
import { replaceSecretFile } from '../secret-file.js';

interface RotateArgs extends GlobalArgs {
  id: string;
  grace?: number;
  immediate?: boolean;
  'agent-config'?: string;
}

interface Rotated {
  deviceId: string;
  mqtt: { url: string; username: string; password: string };
  rotatedAt: string;
  previousValidUntil: string | null;
}

type AgentConfigFile = { deviceId?: string; broker?: Record<string, unknown> };

/**
 * Reads the agent config before the rotation: a wrong or unreadable file must fail before the
 * server issues a secret that would then be lost.
 */
function readAgentConfig(path: string, deviceId: string): { file: string; config: AgentConfigFile } {
  const file = resolve(path);
  try {
    const config = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as AgentConfigFile) : undefined;
    if (!config?.broker || typeof config.broker !== 'object' || config.deviceId !== deviceId) throw new Error(`not an agent config of device '${deviceId}'`);
    return { file, config };
  } catch (error) {
    throw cliErrors.WF_CLI_FILE({ path: file, reason: (error as Error).message });
  }
}

/** Puts the new password into the agent config, keeping every other field (replaced whole, mode 0600). */
function writeAgentConfig({ file, config }: { file: string; config: AgentConfigFile }, password: string): string {
  config.broker!.password = password;
  try {
    replaceSecretFile(file, config);
  } catch (error) {
    throw cliErrors.WF_CLI_FILE({ path: file, reason: `${(error as Error).message}; the new password was printed above, keep it` });
  }
  return file;
}

export const rotateCommand: CommandModule<GlobalArgs, RotateArgs> = {
  command: 'rotate-credentials <id>',
  describe: 'Issue a new MQTT secret; the old one works until the device connects with the new one or --grace ends',
  builder: (argv) =>
    argv
      .positional('id', { type: 'string', demandOption: true })
      .option('grace', { type: 'number', describe: 'seconds the old secret stays valid (default 86400, at most 604800)' })
      .option('immediate', { type: 'boolean', describe: 'revoke the old secret now and disconnect the device (suspected compromise)' })
      .option('agent-config', { type: 'string', describe: "write the new secret into this agent config file" })
      .conflicts('grace', 'immediate')
      .example('$0 device rotate-credentials gw-01 --agent-config gw-01.agent.json', 'routine rotation; copy the file to the gateway')
      .example('$0 device rotate-credentials gw-01 --immediate', 'cut off a leaked secret now') as Argv<RotateArgs>,
  handler: async (args) => {
    const body = args.immediate ? { graceSeconds: 0 } : args.grace !== undefined ? { graceSeconds: args.grace } : {};
    const target = args['agent-config'] ? readAgentConfig(args['agent-config'], args.id) : undefined;
    const rotated = await clientFor(args).post<Rotated>(`/api/v1/devices/${encodeURIComponent(args.id)}/credentials/rotate`, body);
    let configFile: string | undefined;
    try {
      configFile = target ? writeAgentConfig(target, rotated.mqtt.password) : undefined;
    } catch (error) {
      process.stderr.write(`new password of ${rotated.deviceId}: ${rotated.mqtt.password}\n`);
      throw error;
    }
    emit(args.json, { ...rotated, ...(configFile ? { agentConfig: configFile } : {}) }, () =>
      [
        `rotated credentials of ${rotated.deviceId}`,
        `  password  ${rotated.mqtt.password}   (shown once)`,
        rotated.previousValidUntil
          ? `  the old password works until ${rotated.previousValidUntil}, or until the device connects with the new one`
          : '  the old password no longer works; open sessions were disconnected',
        configFile ? `  agent config updated: ${configFile}` : '',
      ]
        .filter(Boolean)
        .join('\n'),
    );
  },
};
