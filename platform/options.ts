/** Options of the single-machine platform, with their defaults in one place. */
import { Type, type Static } from '@sinclair/typebox';
import { describeProblems, deepFreeze, withDefaults } from '../common/validate.js';
import { platformErrors } from './errors.js';

const Port = Type.Integer({ minimum: 0, maximum: 65535 });

export const PlatformOptionsSchema = Type.Object(
  {
    dataDir: Type.String({ minLength: 1, default: './data' }),
    /** Address both listeners bind to. */
    host: Type.String({ minLength: 1, default: '127.0.0.1' }),
    mqttPort: Type.Integer({ minimum: 0, maximum: 65535, default: 1883 }),
    httpPort: Type.Integer({ minimum: 0, maximum: 65535, default: 8080 }),
    /** Broker URL written into agent configs; derived from host and the bound port when absent. */
    publicMqttUrl: Type.Optional(Type.String({ pattern: '^mqtts?://' })),
    /** Every broker node's URL for agent configs (docs/scale-out.md); the first is publicMqttUrl. */
    publicMqttUrls: Type.Optional(Type.Array(Type.String({ pattern: '^mqtts?://' }), { minItems: 1, maxItems: 32 })),
    /** Plain MQTT on mqttPort, on by default for development; false (with mqttTls) runs TLS-only. */
    mqttTcp: Type.Boolean({ default: true }),
    /** The broker's TLS listener (docs/broker.md §TLS); off when absent. Files as `wasmfleet certs init` writes them. */
    mqttTls: Type.Optional(
      Type.Object(
        {
          port: Type.Integer({ minimum: 0, maximum: 65535, default: 8883 }),
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
    /**
     * Cluster mode (docs/scale-out.md): the embedded broker is one node of a fleet shared through
     * this Redis, and authenticates devices from the credential replica the API keeps there.
     */
    redis: Type.Optional(Type.String({ pattern: '^rediss?://[^\\s]+$', maxLength: 2048 })),
    /** Development only: MQTT clients without a username may read device reports (docs/broker.md §Anonymous access). */
    allowAnonymous: Type.Boolean({ default: false }),
  },
  { additionalProperties: false },
);
export type PlatformOptions = Static<typeof PlatformOptionsSchema>;

export { Port };

export function resolvePlatformOptions(input: Partial<PlatformOptions>): Readonly<PlatformOptions> {
  const result = withDefaults(PlatformOptionsSchema, input);
  if (!result.ok) throw platformErrors.WF_PLATFORM_OPTION_INVALID({ reason: describeProblems(result.problems), field: result.problems[0]?.field });
  return deepFreeze(result.value);
}
