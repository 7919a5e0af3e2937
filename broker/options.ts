/**
 * Every broker option and its default, in one schema, validated once and frozen (Fastify style).
 * Injectables that are not data (the CredentialVerifier, the logger) travel beside the options
 * and are checked by hand, because a JSON Schema cannot describe a function.
 */
import { Type, type Static } from '@sinclair/typebox';
import { NETWORK_DEFAULTS } from '../common/network-defaults.js';
import { withDefaults, deepFreeze } from '../common/validate.js';
import { silentLogger, type Logger } from '../common/logger.js';
import { MAX_PACKET_BYTES } from '../protocol/limits.js';
import type { CredentialVerifier } from './credentials.js';
import { brokerErrors } from './errors.js';

/**
 * MQTT's Remaining Length is at most 268,435,455 bytes (§2.2.3), so a whole packet cannot exceed
 * that plus a 5-byte fixed header; a larger ceiling would be meaningless.
 */
const MQTT_MAX_PACKET = 268_435_455 + 5;

/**
 * The deepest protocol topic is `wf/v1/devices/{id}/{channel}` (5 levels) [WF-P-T-2]; a lower
 * limit would refuse our own traffic. Aedes clamps anything above 100 silently, so we refuse it.
 */
const PROTOCOL_TOPIC_DEPTH = 5;
export const AEDES_MAX_TOPIC_LEVELS = 100;

/** The TLS listener (docs/broker.md §TLS). Certificates come from files so they can be renewed without a rebuild. */
export const BrokerTlsSchema = Type.Object(
  {
    host: Type.Optional(Type.String({ minLength: 1, description: 'interface of the TLS listener; the `host` option when absent' })),
    port: Type.Integer({ minimum: 0, maximum: 65535, default: NETWORK_DEFAULTS.mqttTlsPort, description: '0 picks a free port' }),
    certFile: Type.String({ minLength: 1, description: 'server certificate (PEM), e.g. from `wasmfleet certs init`' }),
    keyFile: Type.String({ minLength: 1, description: 'its private key (PEM)' }),
    caFile: Type.Optional(Type.String({ minLength: 1, description: 'CA (PEM) that client certificates must chain to; required with requireClientCert' })),
    requireClientCert: Type.Boolean({
      default: false,
      description: 'mutual TLS: refuse a handshake without a client certificate from caFile; its CN/SAN must name the authenticated device',
    }),
  },
  { additionalProperties: false },
);

export const BrokerOptionsSchema = Type.Object(
  {
    host: Type.String({ minLength: 1, default: NETWORK_DEFAULTS.host, description: 'interface to listen on' }),
    port: Type.Integer({ minimum: 0, maximum: 65535, default: NETWORK_DEFAULTS.mqttPort, description: '0 picks a free port' }),
    tcp: Type.Boolean({ default: true, description: 'plain MQTT on `port`; false (with `tls`) runs TLS-only' }),
    tls: Type.Optional(BrokerTlsSchema),
    maxPacketBytes: Type.Integer({
      minimum: 1024,
      maximum: MQTT_MAX_PACKET,
      default: MAX_PACKET_BYTES,
      description: 'largest whole MQTT packet (fixed header included); larger ones drop the connection',
    }),
    allowAnonymous: Type.Boolean({
      default: false,
      description: 'development only: accept a CONNECT without username; such a client may only read device status, reported state and results',
    }),
    connectTimeoutMs: Type.Integer({
      minimum: 100,
      maximum: 300_000,
      default: 10_000,
      description: 'time a new TCP connection has to send CONNECT',
    }),
    keepaliveLimitSec: Type.Integer({
      minimum: 0,
      maximum: 65535,
      default: 0,
      description: 'largest keepalive a client may ask for; 0 = no limit',
    }),
    maxTopicDepth: Type.Integer({
      minimum: PROTOCOL_TOPIC_DEPTH,
      maximum: AEDES_MAX_TOPIC_LEVELS,
      default: 16,
      description: 'most `/`-separated levels in any topic or filter',
    }),
    drainTimeoutMs: Type.Integer({
      minimum: 0,
      maximum: 600_000,
      default: 30_000,
      description: 'a subscriber whose socket stays full this long is disconnected; 0 waits forever',
    }),
    queueLimit: Type.Integer({
      minimum: 1,
      maximum: 10_000,
      default: 42,
      description: 'packets queued per client before its session is established',
    }),
    maxInflightInbound: Type.Integer({
      minimum: 1,
      maximum: 65535,
      default: 100,
      description: 'inbound QoS 2 publishes a client may hold awaiting PUBREL',
    }),
    // A device legitimately publishes about maxModules × 1000 / batch.intervalMs results a second
    // (32 on sim-x86-64) plus status and reported state; a QoS 1 publish over the limit closes the
    // connection, so the default leaves wide headroom and still stops a flood.
    publishRatePerSec: Type.Integer({
      minimum: 0,
      maximum: 100_000,
      default: 200,
      description: 'sustained publishes per second per device (or anonymous) client; 0 = no limit',
    }),
    publishBurst: Type.Integer({
      minimum: 1,
      maximum: 1_000_000,
      default: 2000,
      description: 'publishes a client may send at once before publishRatePerSec applies',
    }),
    servicePublishRatePerSec: Type.Integer({
      minimum: 0,
      maximum: 1_000_000,
      default: 0,
      description: 'sustained publishes per second for the service account; 0 = exempt (a resync publishes every retained message at once)',
    }),
    servicePublishBurst: Type.Integer({
      minimum: 1,
      maximum: 1_000_000,
      default: 10_000,
      description: 'burst for the service account when servicePublishRatePerSec is set',
    }),
    connectRatePerAddress: Type.Integer({
      minimum: 0,
      maximum: 100_000,
      default: 10,
      description: 'new TCP connections per second from one remote address; 0 = no limit',
    }),
    connectBurstPerAddress: Type.Integer({
      minimum: 1,
      maximum: 1_000_000,
      default: 30,
      description: 'connections one address may open at once before connectRatePerAddress applies',
    }),
    connectRateGlobal: Type.Integer({
      minimum: 0,
      maximum: 1_000_000,
      default: 200,
      description: 'new TCP connections per second to the whole broker; 0 = no limit',
    }),
    connectBurstGlobal: Type.Integer({
      minimum: 1,
      maximum: 1_000_000,
      default: 1000,
      description: 'connections the broker accepts at once before connectRateGlobal applies',
    }),
    heartbeatIntervalMs: Type.Integer({
      minimum: 1000,
      maximum: 3_600_000,
      default: 60_000,
      description: 'interval of the $SYS heartbeat Aedes publishes; in a cluster, a node silent for 3 of them is dead and its clients\' wills are published',
    }),
    redis: Type.Optional(
      Type.String({
        pattern: '^rediss?://[^\\s]+$',
        maxLength: 2048,
        description: 'cluster mode (docs/scale-out.md): subscriptions, retained messages and sessions live in this Redis, shared by every node using it',
      }),
    ),
  },
  { additionalProperties: false },
);

export type BrokerOptions = Readonly<Static<typeof BrokerOptionsSchema>>;
export type BrokerTlsOptions = Readonly<Static<typeof BrokerTlsSchema>>;
type TlsInput = Pick<Static<typeof BrokerTlsSchema>, 'certFile' | 'keyFile'> & Partial<Static<typeof BrokerTlsSchema>>;
export type BrokerOptionsInput = Partial<Omit<Static<typeof BrokerOptionsSchema>, 'tls'>> & { tls?: TlsInput };

/** What `startBroker` takes: the schema options plus the injectables. */
export interface BrokerStartOptions extends BrokerOptionsInput {
  readonly verifier: CredentialVerifier;
  readonly logger?: Logger;
}

export interface ResolvedBrokerConfig {
  readonly options: BrokerOptions;
  readonly verifier: CredentialVerifier;
  readonly logger: Logger;
}

/** Validates once, fills defaults, freezes; throws WF_BROKER_BAD_OPTION naming the option. */
export function resolveBrokerOptions(input: BrokerStartOptions): ResolvedBrokerConfig {
  if (input === null || typeof input !== 'object') {
    throw brokerErrors.WF_BROKER_BAD_OPTION({ option: '(options)', reason: 'expected an object' });
  }
  const { verifier, logger, ...data } = input;
  if (!verifier || typeof verifier.verify !== 'function') {
    throw brokerErrors.WF_BROKER_BAD_OPTION({
      option: 'verifier',
      reason: 'a CredentialVerifier with verify(username, password) is required',
    });
  }
  if (logger !== undefined && (typeof logger !== 'object' || typeof logger.warn !== 'function')) {
    throw brokerErrors.WF_BROKER_BAD_OPTION({ option: 'logger', reason: 'expected a Logger' });
  }
  // platform/ passes `undefined` for options it leaves to us; treat that as "not given".
  const given = Object.fromEntries(Object.entries(data).filter(([, value]) => value !== undefined));
  const result = withDefaults(BrokerOptionsSchema, given);
  if (!result.ok) {
    const first = result.problems[0];
    throw brokerErrors.WF_BROKER_BAD_OPTION({
      option: first?.field || '(options)',
      reason: first?.message ?? 'invalid',
    });
  }
  const options = result.value;
  if (!options.tcp && !options.tls) {
    throw brokerErrors.WF_BROKER_BAD_OPTION({ option: 'tcp', reason: 'with tcp false a `tls` listener is required, or the broker would listen nowhere' });
  }
  if (options.tls?.requireClientCert && !options.tls.caFile) {
    throw brokerErrors.WF_BROKER_BAD_OPTION({ option: 'tls/caFile', reason: 'requireClientCert needs the CA that client certificates chain to' });
  }
  return { options: deepFreeze(options), verifier, logger: logger ?? silentLogger };
}
