/**
 * The agent config file (JSON, written by `wasmfleet device add --agent-config`). Validated once
 * against the schema below, with defaults filled, then frozen; a refusal names the field.
 * Relative paths in the file (profile, stateDir, broker.caFile/certFile/keyFile) are relative to the file itself,
 * so a config and its state directory can be moved together.
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import { deepFreeze, withDefaults } from '../common/validate.js';
import { isWasmfleetError, reasonOf } from '../common/errors.js';
import { loadProfile, type FirmwareProfile } from '../firmware-profiles/index.js';
import { AgentTrustSchema, DEVICE_ID_PATTERN } from '../protocol/index.js';
import { agentErrors } from './errors.js';
import { ISOLATIONS, type Isolation } from '../wasm-host/select.js';
import { DEFAULT_ACK_TIMEOUT_MS } from './spool/sender.js';

export const DEFAULT_MODULE_FETCH_TIMEOUT_MS = 10_000;
export const DEFAULT_RECONNECT_PERIOD_MS = 2_000;
export const DEFAULT_RECONNECT_MAX_MS = 60_000;

const BrokerUrl = Type.String({ pattern: '^(mqtt|mqtts|tcp|tls|ws|wss)://[^\\s]+$', maxLength: 2048 });

export const AgentConfigSchema = Type.Object(
  {
    deviceId: Type.String({ pattern: DEVICE_ID_PATTERN }),
    broker: Type.Object(
      {
        /** The broker; or the first of `urls`. */
        url: Type.Optional(BrokerUrl),
        /**
         * Several broker nodes of one cluster (docs/scale-out.md): the agent connects to the first
         * and, when its node dies or refuses it, fails over to the next, round robin, with the
         * same jittered backoff as any reconnect.
         */
        urls: Type.Optional(Type.Array(BrokerUrl, { minItems: 1, maxItems: 32 })),
        username: Type.String({ minLength: 1, maxLength: 256 }),
        password: Type.String({ minLength: 1, maxLength: 1024 }),
        /** CA bundle (PEM) trusted for mqtts/wss, for brokers with a private CA. */
        caFile: Type.Optional(Type.String({ minLength: 1 })),
        /** Client certificate and key (PEM) for brokers that require mutual TLS; CN = the device id. */
        certFile: Type.Optional(Type.String({ minLength: 1 })),
        keyFile: Type.Optional(Type.String({ minLength: 1 })),
      },
      { additionalProperties: false },
    ),
    /** A built-in firmware profile name (e.g. `sim-x86-64`) or a path to a profile JSON file. */
    profile: Type.String({ minLength: 1, maxLength: 4096 }),
    stateDir: Type.String({ minLength: 1, maxLength: 4096 }),
    /**
     * The root public key and the first trusted-keys list, written at provisioning. Modules and
     * desired states are accepted only when signed by keys this trusts (docs/security.md).
     */
    trust: AgentTrustSchema,
    logLevel: Type.Optional(
      Type.Union([Type.Literal('debug'), Type.Literal('info'), Type.Literal('warn'), Type.Literal('error'), Type.Literal('silent')]),
    ),
    moduleFetchTimeoutMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 600_000, default: DEFAULT_MODULE_FETCH_TIMEOUT_MS })),
    /**
     * Where modules run: `metered` on the agent's own thread with the CPU budget compiled into
     * the module (small: no isolate per module), or `worker`, a worker thread per module that a
     * watchdog terminates past its budget (a batch never delays the agent; ~9 MiB per module).
     */
    isolation: Type.Optional(Type.Union(ISOLATIONS.map((name) => Type.Literal(name)), { default: 'metered' })),
    /**
     * With `isolation: "worker"`: keep one booted, idle sandbox worker so a module start after the first takes milliseconds
     * instead of a thread boot (~45 ms); it costs one idle worker's memory (~8 MiB). Turn it off
     * on gateways where memory matters more than start latency.
     */
    spareWorker: Type.Optional(Type.Boolean({ default: true })),
    /**
     * The first reconnect window and the base of the exponential backoff (full jitter);
     * 0 disables reconnecting, which only tests want.
     */
    reconnectPeriodMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 600_000, default: DEFAULT_RECONNECT_PERIOD_MS })),
    /** The widest reconnect window the backoff grows to. */
    reconnectMaxMs: Type.Optional(Type.Integer({ minimum: 1, maximum: 3_600_000, default: DEFAULT_RECONNECT_MAX_MS })),
    /**
     * How long a published result waits for the API's ack before it is sent again (after a
     * connect the first resends come sooner: device-agent/spool/sender.ts).
     */
    resultAckTimeoutMs: Type.Optional(Type.Integer({ minimum: 1_000, maximum: 3_600_000, default: DEFAULT_ACK_TIMEOUT_MS })),
  },
  { additionalProperties: false },
);

/** What callers may pass: the defaulted fields may be left out. */
export type AgentConfig = Static<typeof AgentConfigSchema>;
/** After validation every defaulted field is present. */
type DefaultedAgentConfig = AgentConfig & { broker: AgentConfig['broker'] & { url: string; urls: string[] } } & { moduleFetchTimeoutMs: number; reconnectPeriodMs: number; reconnectMaxMs: number; resultAckTimeoutMs: number; spareWorker: boolean; isolation: Isolation };
export type ResolvedAgentConfig = Readonly<DefaultedAgentConfig>;

/**
 * Validates a config object (from a file or built in code), fills defaults and freezes it.
 * `baseDir` resolves relative paths; without it they are left as given.
 */
export function resolveAgentConfig(input: unknown, baseDir?: string): ResolvedAgentConfig {
  const result = withDefaults(AgentConfigSchema, input);
  if (!result.ok) {
    const first = result.problems[0];
    throw agentErrors.WF_AGENT_CONFIG_INVALID({ field: first?.field || '(document)', reason: first?.message ?? 'invalid' });
  }
  const config = result.value as DefaultedAgentConfig;
  // Either form names the brokers; after this both are there: `url` is the first of `urls`.
  const first = config.broker.urls?.[0] ?? config.broker.url;
  if (first === undefined) throw agentErrors.WF_AGENT_CONFIG_INVALID({ field: 'broker/url', reason: 'a broker url (or a list in broker/urls) is required' });
  if (config.broker.url !== undefined && config.broker.urls !== undefined && config.broker.urls[0] !== config.broker.url) {
    throw agentErrors.WF_AGENT_CONFIG_INVALID({ field: 'broker/url', reason: 'with broker/urls, broker/url may only repeat its first entry' });
  }
  config.broker.urls = config.broker.urls ?? [first];
  config.broker.url = first;
  if (baseDir !== undefined) {
    const at = (path: string) => (isAbsolute(path) ? path : resolve(baseDir, path));
    config.stateDir = at(config.stateDir);
    if (isProfilePath(config.profile)) config.profile = at(config.profile);
    if (config.broker.caFile !== undefined) config.broker.caFile = at(config.broker.caFile);
    if (config.broker.certFile !== undefined) config.broker.certFile = at(config.broker.certFile);
    if (config.broker.keyFile !== undefined) config.broker.keyFile = at(config.broker.keyFile);
  }
  return deepFreeze(config);
}

/** Reads, validates and freezes an agent config file. */
export function loadAgentConfig(path: string): ResolvedAgentConfig {
  let document: unknown;
  try {
    document = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw agentErrors.WF_AGENT_CONFIG_UNREADABLE({ path, reason: reasonOf(error) });
  }
  return resolveAgentConfig(document, dirname(resolve(path)));
}

/** Mirrors loadProfile's own rule for telling a path from a built-in name. */
function isProfilePath(nameOrPath: string): boolean {
  return nameOrPath.includes('/') || nameOrPath.endsWith('.json');
}

/**
 * The firmware profile a config names. loadProfile already refuses with the field named; the
 * refusal is wrapped so the agent's own registry carries it and the original code stays visible.
 */
export function loadAgentProfile(config: Pick<AgentConfig, 'profile'>): FirmwareProfile {
  try {
    return loadProfile(config.profile);
  } catch (error) {
    if (isWasmfleetError(error)) {
      throw agentErrors.WF_AGENT_PROFILE_INVALID({ reason: `${error.code}: ${error.message}`, cause: error.code, field: error.details.field });
    }
    throw agentErrors.WF_AGENT_PROFILE_INVALID({ reason: reasonOf(error) });
  }
}
