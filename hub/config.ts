/**
 * The hub config file (JSON, written by `wasmfleet hub add --config-out`). Validated once against
 * the schema below with every default filled in here and nowhere else, then frozen; a refusal names
 * the field. Relative file paths (dataDir, TLS files) are relative to the file itself, so a config
 * and its data directory move together. The file never holds a signing key: a hub only relays what
 * agents verify themselves (docs/federation.md §Trust).
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import { NETWORK_DEFAULTS } from '../common/network-defaults.js';
import { deepFreeze, withDefaults } from '../common/validate.js';
import { reasonOf } from '../common/errors.js';
import { HUB_ID_PATTERN } from '../protocol/hubs.js';
import { hubErrors } from './errors.js';

export const HUB_DEFAULTS = Object.freeze({
  listenHost: NETWORK_DEFAULTS.host,
  listenPort: NETWORK_DEFAULTS.mqttPort,
  /** One day of results from a busy site (docs/federation.md §Sizing). */
  custodyMaxBytes: 1024 * 1024 * 1024,
  /** A week: a longer outage is an incident someone has noticed. */
  custodyMaxAgeMs: 7 * 24 * 3600 * 1000,
  statusIntervalMs: 5_000,
  reconnectPeriodMs: 1_000,
});

const BrokerUrl = Type.String({ pattern: '^(mqtt|mqtts|tcp|tls)://[^\\s]+$', maxLength: 2048 });
const FilePath = Type.String({ minLength: 1, maxLength: 4096 });

export const HubConfigSchema = Type.Object(
  {
    hubId: Type.String({ pattern: HUB_ID_PATTERN }),
    /** The hub's secret, shown once by `hub add`; its password upstream as `wf:hub:{hubId}`. */
    secret: Type.String({ minLength: 1, maxLength: 1024 }),
    upstream: Type.Object(
      {
        /**
         * The central broker tier's nodes, or the parent hub's: the uplink connects to the first
         * and fails over to the next, round robin, like the agent's broker/urls.
         */
        urls: Type.Array(BrokerUrl, { minItems: 1, maxItems: 32 }),
        /** CA bundle (PEM) trusted for mqtts upstream. */
        caFile: Type.Optional(FilePath),
        /** Client certificate and key (PEM) when the upstream requires mutual TLS. */
        certFile: Type.Optional(FilePath),
        keyFile: Type.Optional(FilePath),
        /** First reconnect delay; the uplink keeps retrying at this period while upstream is gone. */
        reconnectPeriodMs: Type.Integer({ minimum: 100, maximum: 600_000, default: HUB_DEFAULTS.reconnectPeriodMs }),
      },
      { additionalProperties: false },
    ),
    /** The site's broker, where the site's devices connect. */
    listen: Type.Object(
      {
        host: Type.String({ minLength: 1, default: HUB_DEFAULTS.listenHost }),
        port: Type.Integer({ minimum: 0, maximum: 65535, default: HUB_DEFAULTS.listenPort }),
        /** Plain MQTT on `port`; false (with `tls`) runs TLS-only. */
        tcp: Type.Boolean({ default: true }),
        tls: Type.Optional(
          Type.Object(
            {
              port: Type.Integer({ minimum: 0, maximum: 65535, default: NETWORK_DEFAULTS.mqttTlsPort }),
              certFile: FilePath,
              keyFile: FilePath,
              caFile: Type.Optional(FilePath),
              requireClientCert: Type.Boolean({ default: false }),
            },
            { additionalProperties: false },
          ),
        ),
      },
      { additionalProperties: false, default: {} },
    ),
    /** Where the hub keeps its site document, desired states, modules and result custody. */
    dataDir: FilePath,
    /** Bounds of the result custody; past either, the oldest batches are dropped and counted lost. */
    custody: Type.Object(
      {
        maxBytes: Type.Integer({ minimum: 1024 * 1024, default: HUB_DEFAULTS.custodyMaxBytes }),
        maxAgeMs: Type.Integer({ minimum: 60_000, default: HUB_DEFAULTS.custodyMaxAgeMs }),
      },
      { additionalProperties: false, default: {} },
    ),
    /** Longest gap between two HubStatus messages while the backlog moves (also the shortest). */
    statusIntervalMs: Type.Integer({ minimum: 200, maximum: 600_000, default: HUB_DEFAULTS.statusIntervalMs }),
    logLevel: Type.Optional(
      Type.Union([Type.Literal('debug'), Type.Literal('info'), Type.Literal('warn'), Type.Literal('error'), Type.Literal('silent')]),
    ),
  },
  { additionalProperties: false },
);

export type HubConfigInput = Static<typeof HubConfigSchema>;
type Defaulted = HubConfigInput & {
  upstream: HubConfigInput['upstream'] & { reconnectPeriodMs: number };
  listen: { host: string; port: number; tcp: boolean; tls?: { port: number; certFile: string; keyFile: string; caFile?: string; requireClientCert: boolean } };
  custody: { maxBytes: number; maxAgeMs: number };
  statusIntervalMs: number;
};
export type HubConfig = Readonly<Defaulted>;

/** Validates a config object, fills defaults, resolves relative paths against `baseDir`, freezes. */
export function resolveHubConfig(input: unknown, baseDir?: string): HubConfig {
  const result = withDefaults(HubConfigSchema, input);
  if (!result.ok) {
    const first = result.problems[0];
    throw hubErrors.WF_HUB_CONFIG_INVALID({ field: first?.field || '(document)', reason: first?.message ?? 'invalid' });
  }
  const config = result.value as Defaulted;
  if (!config.listen.tcp && !config.listen.tls) throw hubErrors.WF_HUB_CONFIG_INVALID({ field: 'listen/tcp', reason: 'with tcp false, listen/tls is required' });
  if (config.listen.tls?.requireClientCert && !config.listen.tls.caFile) {
    throw hubErrors.WF_HUB_CONFIG_INVALID({ field: 'listen/tls/caFile', reason: 'requireClientCert needs the CA that client certificates chain to' });
  }
  if ((config.upstream.certFile === undefined) !== (config.upstream.keyFile === undefined)) {
    throw hubErrors.WF_HUB_CONFIG_INVALID({ field: 'upstream/keyFile', reason: 'certFile and keyFile go together' });
  }
  if (baseDir !== undefined) {
    const at = (path: string) => (isAbsolute(path) ? path : resolve(baseDir, path));
    config.dataDir = at(config.dataDir);
    for (const key of ['caFile', 'certFile', 'keyFile'] as const) if (config.upstream[key] !== undefined) config.upstream[key] = at(config.upstream[key]!);
    const tls = config.listen.tls;
    if (tls) for (const key of ['caFile', 'certFile', 'keyFile'] as const) if (tls[key] !== undefined) tls[key] = at(tls[key]!);
  }
  return deepFreeze(config);
}

/** Reads, validates and freezes a hub config file. */
export function loadHubConfig(path: string): HubConfig {
  let document: unknown;
  try {
    document = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw hubErrors.WF_HUB_CONFIG_UNREADABLE({ path, reason: reasonOf(error) });
  }
  return resolveHubConfig(document, dirname(resolve(path)));
}
