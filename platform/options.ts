/**
 * Options of the three server processes (`server`, `broker`, `api`), with their defaults in one
 * place: each schema is made of the same field groups, so a flag means the same in every process.
 */
import { Type, type Static, type TObject } from '@sinclair/typebox';
import { DEFAULT_MQTT_URL, NETWORK_DEFAULTS } from '../common/network-defaults.js';
import { describeProblems, deepFreeze, withDefaults } from '../common/validate.js';
import { platformErrors } from './errors.js';

const dataDirField = {
  dataDir: Type.String({ minLength: 1, default: NETWORK_DEFAULTS.dataDir }),
};

/** What a broker process listens on and whom it admits. */
const brokerFields = {
  /** Address the listeners bind to. */
  host: Type.String({ minLength: 1, default: NETWORK_DEFAULTS.host }),
  mqttPort: Type.Integer({ minimum: 0, maximum: 65535, default: NETWORK_DEFAULTS.mqttPort }),
  /** Plain MQTT on mqttPort, on by default for development; false (with mqttTls) runs TLS-only. */
  mqttTcp: Type.Boolean({ default: true }),
  /** The broker's TLS listener (docs/broker.md §TLS); off when absent. Files as `wasmfleet certs init` writes them. */
  mqttTls: Type.Optional(
    Type.Object(
      {
        port: Type.Integer({ minimum: 0, maximum: 65535, default: NETWORK_DEFAULTS.mqttTlsPort }),
        certFile: Type.String({ minLength: 1 }),
        keyFile: Type.String({ minLength: 1 }),
        /** The CA: client certificates must chain to it, and the API's link trusts it. */
        caFile: Type.Optional(Type.String({ minLength: 1 })),
        requireClientCert: Type.Boolean({ default: false }),
        /** The API link's client certificate (CN wf:fleet-api) under requireClientCert. */
        serviceCertFile: Type.Optional(Type.String({ minLength: 1 })),
        serviceKeyFile: Type.Optional(Type.String({ minLength: 1 })),
      },
      { additionalProperties: false },
    ),
  ),
  /** Development only: MQTT clients without a username may read device reports (docs/broker.md §Anonymous access). */
  allowAnonymous: Type.Boolean({ default: false }),
  /**
   * Cluster mode (docs/scale-out.md): this broker is one node of a fleet shared through Redis, and
   * admits devices from the credential replica the API keeps there.
   */
  redis: Type.Optional(Type.String({ pattern: '^rediss?://[^\\s]+$', maxLength: 2048 })),
  /**
   * Cluster mode: the node's $SYS heartbeat; a node silent for 3 of them is dead and a surviving
   * node publishes its devices' wills (broker/options.ts heartbeatIntervalMs; its default when absent).
   */
  heartbeatMs: Type.Optional(Type.Integer({ minimum: 1000, maximum: 3_600_000 })),
};

/** What an API process listens on and tells devices. */
const apiFields = {
  host: brokerFields.host,
  httpPort: Type.Integer({ minimum: 0, maximum: 65535, default: NETWORK_DEFAULTS.httpPort }),
  /** Broker URL written into agent configs; the broker's own URL when absent. */
  publicMqttUrl: Type.Optional(Type.String({ pattern: '^mqtts?://' })),
  /** Every broker node's URL for agent configs (docs/scale-out.md); the first is publicMqttUrl. */
  publicMqttUrls: Type.Optional(Type.Array(Type.String({ pattern: '^mqtts?://' }), { minItems: 1, maxItems: 32 })),
  /** Cluster mode: device credentials are replicated into this Redis for the broker nodes. */
  redis: brokerFields.redis,
};

/** `wasmfleet server`: both, in one process. */
export const PlatformOptionsSchema = Type.Object({ ...dataDirField, ...brokerFields, ...apiFields }, { additionalProperties: false });
export type PlatformOptions = Static<typeof PlatformOptionsSchema>;

/** `wasmfleet broker`: the broker alone, admitting devices from the data directory's SQLite file. */
export const BrokerProcessOptionsSchema = Type.Object({ ...dataDirField, ...brokerFields }, { additionalProperties: false });
export type BrokerProcessOptions = Static<typeof BrokerProcessOptionsSchema>;

/** `wasmfleet api`: the API, its jobs and its MQTT link, reaching a broker only over MQTT. */
export const ApiProcessOptionsSchema = Type.Object(
  {
    ...dataDirField,
    ...apiFields,
    mqttUrl: Type.String({ pattern: '^mqtts?://', default: DEFAULT_MQTT_URL }),
    /** Several broker nodes: the link connects to the first and fails over along the list. */
    mqttUrls: Type.Optional(Type.Array(Type.String({ pattern: '^mqtts?://' }), { minItems: 1, maxItems: 32 })),
    /** For an mqtts:// broker: its CA (PEM), and under mutual TLS the service certificate and key. */
    mqttCaFile: Type.Optional(Type.String({ minLength: 1 })),
    mqttCertFile: Type.Optional(Type.String({ minLength: 1 })),
    mqttKeyFile: Type.Optional(Type.String({ minLength: 1 })),
  },
  { additionalProperties: false },
);
export type ApiProcessOptions = Static<typeof ApiProcessOptionsSchema>;

function resolveWith<T extends TObject>(schema: T, input: Partial<Static<T>>): Readonly<Static<T>> {
  const result = withDefaults(schema, input);
  if (!result.ok) throw platformErrors.WF_PLATFORM_OPTION_INVALID({ reason: describeProblems(result.problems), field: result.problems[0]?.field });
  return deepFreeze(result.value);
}

export const resolvePlatformOptions = (input: Partial<PlatformOptions>): Readonly<PlatformOptions> => resolveWith(PlatformOptionsSchema, input);
export const resolveBrokerProcessOptions = (input: Partial<BrokerProcessOptions>): Readonly<BrokerProcessOptions> => resolveWith(BrokerProcessOptionsSchema, input);
export const resolveApiProcessOptions = (input: Partial<ApiProcessOptions>): Readonly<ApiProcessOptions> => resolveWith(ApiProcessOptionsSchema, input);
