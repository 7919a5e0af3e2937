/**
 * `wasmfleet device import FILE.csv|FILE.jsonl`: provisions every device of a file through
 * POST /api/v1/devices/batch, in requests of --batch-size, and writes one agent config per device
 * (mode 0600) into --agent-config-dir. The file is checked whole first: a bad row refuses it with
 * every bad line listed and nothing provisioned. Each request is all or nothing; if one is
 * refused (an id that exists), the devices of earlier requests stay provisioned and their configs
 * are written, and the error names the file line.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { extname, join, resolve } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import type { AgentTrust } from '../../protocol/index.js';
import { clientFor } from '../api-client.js';
import { parseDeviceFile, type DeviceRow } from '../device-file.js';
import { cliErrors } from '../errors.js';
import type { GlobalArgs } from '../global-options.js';
import { emit, progressBar, table } from '../output.js';
import { writeAgentConfig } from './device.js';

interface ImportArgs extends GlobalArgs {
  file: string;
  'agent-config-dir'?: string;
  'batch-size': number;
}

interface BatchResponse {
  devices: Array<{ device: { id: string; profile: string; tags: Record<string, string>; online: boolean }; mqtt: { url: string; username: string; password: string } }>;
  trust: AgentTrust;
}

interface Imported {
  id: string;
  mqtt: { url: string; username: string; password: string };
  agentConfig?: string;
}

const MAX_BATCH = 10_000;

function formatOf(file: string): 'csv' | 'jsonl' {
  const ext = extname(file).toLowerCase();
  if (ext === '.csv') return 'csv';
  if (ext === '.jsonl' || ext === '.ndjson') return 'jsonl';
  throw cliErrors.WF_CLI_BAD_ARGUMENT({ option: 'FILE', reason: `expected a .csv or .jsonl file, got '${file}'` });
}

function readRows(path: string): DeviceRow[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw cliErrors.WF_CLI_FILE({ path, reason: (error as Error).message });
  }
  const parsed = parseDeviceFile(text, formatOf(path));
  if (!parsed.ok) {
    const shown = parsed.problems.slice(0, 50).map((p) => `  line ${p.line}: ${p.field}: ${p.reason}`);
    if (parsed.problems.length > shown.length) shown.push(`  … and ${parsed.problems.length - shown.length} more`);
    throw cliErrors.WF_CLI_IMPORT_ROWS({ path, count: parsed.problems.length, rows: shown.join('\n'), problems: parsed.problems });
  }
  return parsed.rows;
}

/** An API refusal naming `body/devices/N/…` is about row N of this request: name its file line. */
function onLine(error: unknown, chunk: readonly DeviceRow[], path: string, provisioned: number): Error {
  const details = (error as { details?: { apiField?: string; reason?: string } }).details;
  const match = /^body\/devices\/(\d+)(\/.*)?$/.exec(details?.apiField ?? '');
  const row = match ? chunk[Number(match[1])] : undefined;
  const where = row ? `line ${row.line} (${row.id}): ` : '';
  const kept = provisioned > 0 ? `; the ${provisioned} device(s) of earlier requests stay provisioned (their configs are written)` : '; nothing was provisioned';
  const wrapped = new Error(`${path}: ${where}${details?.reason ?? (error as Error).message}${kept}`);
  Object.assign(wrapped, { code: (error as { code?: string }).code, details: { ...details, line: row?.line, provisioned } });
  return wrapped;
}

export const importCommand: CommandModule<GlobalArgs, ImportArgs> = {
  command: 'import <file>',
  describe: 'Provision every device of a CSV (id,profile,tags) or JSON Lines file, writing one agent config each',
  builder: (argv) =>
    argv
      .positional('file', { type: 'string', demandOption: true, describe: '.csv with header id,profile[,tags] (tags: k=v;k=v) or .jsonl of {"id","profile","tags"}' })
      .option('agent-config-dir', { type: 'string', describe: 'write <id>.json (mode 0600) for every device here; state dirs go beside them' })
      .option('batch-size', { type: 'number', default: 1000, describe: `devices per request (1-${MAX_BATCH}); each request is all or nothing` })
      .example('$0 device import fleet.csv --agent-config-dir ./configs', 'provision every device of fleet.csv')
      .example('$0 device import fleet.jsonl --json > credentials.json', 'the credentials as JSON (shown once)') as Argv<ImportArgs>,
  handler: async (args) => {
    const size = args['batch-size'];
    if (!Number.isInteger(size) || size < 1 || size > MAX_BATCH) {
      throw cliErrors.WF_CLI_BAD_ARGUMENT({ option: '--batch-size', reason: `must be an integer from 1 to ${MAX_BATCH}` });
    }
    const path = resolve(args.file);
    const rows = readRows(path);
    const dir = args['agent-config-dir'] !== undefined ? resolve(args['agent-config-dir']) : undefined;
    if (dir) {
      try {
        mkdirSync(dir, { recursive: true, mode: 0o700 });
      } catch (error) {
        throw cliErrors.WF_CLI_FILE({ path: dir, reason: (error as Error).message });
      }
    }
    const api = clientFor(args);
    const bar = progressBar(rows.length, 'provisioning');
    const imported: Imported[] = [];
    let trust: AgentTrust | undefined;
    bar.update(0);
    try {
      for (let start = 0; start < rows.length; start += size) {
        const chunk = rows.slice(start, start + size);
        let response: BatchResponse;
        try {
          response = await api.post<BatchResponse>('/api/v1/devices/batch', { devices: chunk.map(({ id, profile, tags }) => ({ id, profile, tags })) });
        } catch (error) {
          throw onLine(error, chunk, path, imported.length);
        }
        trust = response.trust;
        for (const { device, mqtt } of response.devices) {
          const agentConfig = dir ? writeAgentConfig(join(dir, `${device.id}.json`), { device, mqtt, trust }) : undefined;
          imported.push({ id: device.id, mqtt, ...(agentConfig ? { agentConfig } : {}) });
        }
        bar.update(imported.length);
      }
    } finally {
      bar.done();
    }
    emit(args.json, { devices: imported, trust, ...(dir ? { agentConfigDir: dir } : {}) }, () =>
      dir
        ? `provisioned ${imported.length} devices; agent configs (with their passwords) in ${dir}`
        : [
            `provisioned ${imported.length} devices; their passwords are shown only now:`,
            table(imported.map((d) => ({ id: d.id, username: d.mqtt.username, password: d.mqtt.password, broker: d.mqtt.url })), ['id', 'username', 'password', 'broker']),
          ].join('\n'),
    );
  },
};
