/** The firmware profile schema. See docs/profiles.md for every field. */
import { Type, type Static } from '@sinclair/typebox';
import { DEFAULT_MQTT_URL, NETWORK_DEFAULTS } from '../common/network-defaults.js';
import { RUNTIME_LIMIT_FIELDS } from '../protocol/runtime-limits.js';

const SourceId = Type.String({ pattern: '^[a-z][a-z0-9_-]{0,31}$' });

/** A seeded, deterministic synthetic signal: value(i) depends only on seed and sample index. */
export const SimulatedSourceSchema = Type.Object(
  {
    kind: Type.Literal('simulated'),
    id: SourceId,
    unit: Type.Optional(Type.String({ maxLength: 16 })),
    rateHz: Type.Number({ exclusiveMinimum: 0, maximum: 10000 }),
    seed: Type.Integer({ minimum: 0, default: 1 }),
    offset: Type.Number({ default: 0 }),
    sine: Type.Optional(
      Type.Object({ amplitude: Type.Number(), periodS: Type.Number({ exclusiveMinimum: 0 }) }, { additionalProperties: false }),
    ),
    noise: Type.Optional(Type.Object({ stddev: Type.Number({ minimum: 0 }) }, { additionalProperties: false })),
    randomWalk: Type.Optional(Type.Object({ step: Type.Number({ minimum: 0 }) }, { additionalProperties: false })),
    spikes: Type.Optional(
      Type.Object(
        { probability: Type.Number({ minimum: 0, maximum: 1 }), magnitude: Type.Number() },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
export type SimulatedSource = Static<typeof SimulatedSourceSchema>;

/**
 * How a line of text (serial, UDP) or a message payload (MQTT) becomes one sample value:
 * `number` takes the whole text as a number, `json` follows a dotted field path into a JSON
 * document (`temperature`, `sensors.0.value`), `csv` takes one column. Anything else is a bad
 * line: counted and ignored.
 */
export const LineFormatSchema = Type.Union(
  [
    Type.Object({ format: Type.Literal('number') }, { additionalProperties: false }),
    Type.Object(
      { format: Type.Literal('json'), field: Type.String({ pattern: '^[A-Za-z0-9_$-]+(\\.[A-Za-z0-9_$-]+){0,15}$' }) },
      { additionalProperties: false },
    ),
    Type.Object(
      {
        format: Type.Literal('csv'),
        column: Type.Integer({ minimum: 0, maximum: 255 }),
        separator: Type.String({ minLength: 1, maxLength: 1, default: ',' }),
      },
      { additionalProperties: false },
    ),
  ],
  { default: { format: 'number' } },
);
export type LineFormat = Static<typeof LineFormatSchema>;

/** Fields every push source (MQTT, serial, UDP) shares: its buffer bound and value transform. */
const pushFields = {
  id: SourceId,
  unit: Type.Optional(Type.String({ maxLength: 16 })),
  /** Samples kept between two batches; past it the oldest are dropped and counted. */
  maxBuffered: Type.Integer({ minimum: 16, maximum: 1048576, default: 8192 }),
  /** value = parsed × scale + offset, e.g. 0.001 for millidegrees. */
  scale: Type.Number({ default: 1 }),
  offset: Type.Number({ default: 0 }),
};

/** A Linux thermal zone: `ROOT/class/thermal/thermal_zoneN/temp`, in millidegrees Celsius. */
export const ThermalSourceSchema = Type.Object(
  {
    kind: Type.Literal('sysfs-thermal'),
    id: SourceId,
    unit: Type.String({ maxLength: 16, default: 'degC' }),
    /** Zone number N, or the zone whose `type` file says this (e.g. `cpu-thermal`). */
    zone: Type.Union([Type.Integer({ minimum: 0, maximum: 1023 }), Type.String({ pattern: '^[A-Za-z0-9_.-]{1,64}$' })]),
    rateHz: Type.Number({ exclusiveMinimum: 0, maximum: 100 }),
    /** The sysfs mount; tests point it at a folder laid out like sysfs. */
    root: Type.String({ minLength: 1, maxLength: 4096, default: '/sys' }),
  },
  { additionalProperties: false },
);
export type ThermalSource = Static<typeof ThermalSourceSchema>;

/**
 * One channel of a Linux IIO sensor: `ROOT/bus/iio/devices/DEVICE/in_CHANNEL_raw`, converted
 * with its `_scale` and `_offset` (channel's own, else its type's: `in_voltage_scale` for
 * `voltage0`) as (raw + offset) × scale × factor.
 */
export const IioSourceSchema = Type.Object(
  {
    kind: Type.Literal('sysfs-iio'),
    id: SourceId,
    unit: Type.Optional(Type.String({ maxLength: 16 })),
    /** `iio:deviceN`, or the device whose `name` file says this (e.g. `bme280`). */
    device: Type.String({ pattern: '^[A-Za-z0-9_:.-]{1,64}$' }),
    /** The channel part of `in_<channel>_raw`, e.g. `temp`, `voltage0`, `humidityrelative`. */
    channel: Type.String({ pattern: '^[a-z][a-z0-9_]{0,63}$' }),
    rateHz: Type.Number({ exclusiveMinimum: 0, maximum: 1000 }),
    /** Extra multiplier after IIO's own scale, e.g. 0.001 for IIO's milli-units. */
    factor: Type.Number({ default: 1 }),
    root: Type.String({ minLength: 1, maxLength: 4096, default: '/sys' }),
  },
  { additionalProperties: false },
);
export type IioSource = Static<typeof IioSourceSchema>;

/** Messages from a local sensor bridge's MQTT broker (Zigbee2MQTT, Tasmota, ...): one sample each. */
export const MqttSourceSchema = Type.Object(
  {
    kind: Type.Literal('mqtt'),
    ...pushFields,
    url: Type.String({ pattern: '^(mqtt|mqtts|tcp|ws)://[^\\s]+$', maxLength: 2048, default: DEFAULT_MQTT_URL }),
    username: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    password: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })),
    /** Topic filters, wildcards allowed, e.g. `zigbee2mqtt/greenhouse-sensor`. */
    topics: Type.Array(Type.String({ minLength: 1, maxLength: 256 }), { minItems: 1, maxItems: 16 }),
    parse: LineFormatSchema,
    /** Payloads larger than this are counted bad without being parsed. */
    maxPayloadBytes: Type.Integer({ minimum: 16, maximum: 1048576, default: 65536 }),
  },
  { additionalProperties: false },
);
export type MqttSource = Static<typeof MqttSourceSchema>;

/** A serial port (or any character device, FIFO or file) read line by line. */
export const SerialSourceSchema = Type.Object(
  {
    kind: Type.Literal('serial'),
    ...pushFields,
    path: Type.String({ minLength: 1, maxLength: 4096 }),
    /** Set with `stty` before opening a tty; absent: the port is used as it is. */
    baud: Type.Optional(Type.Integer({ minimum: 50, maximum: 4000000 })),
    parse: LineFormatSchema,
    maxLineBytes: Type.Integer({ minimum: 16, maximum: 65536, default: 1024 }),
    /** Wait before reopening after the device closes or is missing. */
    reopenMs: Type.Integer({ minimum: 10, maximum: 600000, default: 2000 }),
  },
  { additionalProperties: false },
);
export type SerialSource = Static<typeof SerialSourceSchema>;

/** UDP datagrams of text lines (one sample per line), e.g. from a microcontroller on the LAN. */
export const UdpSourceSchema = Type.Object(
  {
    kind: Type.Literal('udp'),
    ...pushFields,
    host: Type.String({ minLength: 1, maxLength: 255, default: NETWORK_DEFAULTS.host }),
    /** 0 picks a free port (tests). */
    port: Type.Integer({ minimum: 0, maximum: 65535 }),
    parse: LineFormatSchema,
    maxLineBytes: Type.Integer({ minimum: 16, maximum: 65536, default: 1024 }),
  },
  { additionalProperties: false },
);
export type UdpSource = Static<typeof UdpSourceSchema>;

export const SOURCE_KINDS = ['simulated', 'sysfs-thermal', 'sysfs-iio', 'mqtt', 'serial', 'udp'] as const;

/** Each kind's own schema: a refusal names the field inside the source, not just the union. */
export const SOURCE_SCHEMAS = {
  simulated: SimulatedSourceSchema,
  'sysfs-thermal': ThermalSourceSchema,
  'sysfs-iio': IioSourceSchema,
  mqtt: MqttSourceSchema,
  serial: SerialSourceSchema,
  udp: UdpSourceSchema,
} as const;

export const SourceSchema = Type.Union([
  SimulatedSourceSchema,
  ThermalSourceSchema,
  IioSourceSchema,
  MqttSourceSchema,
  SerialSourceSchema,
  UdpSourceSchema,
]);
export type SourceConfig = Static<typeof SourceSchema>;

/** Where install.sh puts the agent on the gateway, and what runs it. */
export const InstallSchema = Type.Object(
  {
    dir: Type.String({ pattern: '^/[A-Za-z0-9_./-]{1,200}$', default: '/opt/wasmfleet' }),
    /** Under /var/lib: the unit's StateDirectory= creates it owned by the service user. */
    stateDir: Type.String({ pattern: '^/var/lib/[A-Za-z0-9_.-]{1,64}$', default: '/var/lib/wasmfleet' }),
    user: Type.String({ pattern: '^[a-z_][a-z0-9_-]{0,31}$', default: 'wasmfleet' }),
    /** Extra groups for the service user, e.g. `dialout` for serial ports, `i2c` for IIO sensors. */
    groups: Type.Array(Type.String({ pattern: '^[a-z_][a-z0-9_-]{0,31}$' }), { maxItems: 16, default: [] }),
    /** Only systemd today; the field exists so a profile says what it assumes. */
    serviceManager: Type.Literal('systemd', { default: 'systemd' }),
  },
  { additionalProperties: false, default: {} },
);

export const ProfileSchema = Type.Object(
  {
    name: Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,47}$' }),
    description: Type.String({ maxLength: 500 }),
    arch: Type.Union([Type.Literal('x64'), Type.Literal('arm64'), Type.Literal('armv7l')]),
    minNodeVersion: Type.String({ pattern: '^\\d+\\.\\d+\\.\\d+$' }),
    /** The agent republishes its status this often; silent past twice this means offline. */
    heartbeatIntervalS: Type.Integer({ minimum: 1, maximum: 3600 }),
    batch: Type.Object(
      {
        /** A batch is handed to modules at least this often... */
        intervalMs: Type.Integer({ minimum: 10, maximum: 600000 }),
        /** ...or as soon as it holds this many samples. */
        maxSamples: Type.Integer({ minimum: 1, maximum: 65536 }),
      },
      { additionalProperties: false },
    ),
    /** Ceilings this hardware grants each module; a module's own request can only lower them. */
    moduleLimits: Type.Object(
      {
        ...RUNTIME_LIMIT_FIELDS,
        maxModules: Type.Integer({ minimum: 1, maximum: 32 }),
        /**
         * Linear memory all modules together may be granted, in MiB: the sum of their granted
         * `memoryPages` must fit. At least one module's ceiling (checked when loading).
         */
        memoryBudgetMiB: Type.Integer({ minimum: 1, maximum: 65536, default: 64 }),
      },
      { additionalProperties: false },
    ),
    /**
     * The on-disk results spool used while the broker is unreachable or slow. When either bound
     * is hit the oldest results are dropped, counted and reported (docs/operations.md).
     */
    spool: Type.Object(
      {
        maxBytes: Type.Integer({ minimum: 65536, maximum: 4294967296, default: 16777216 }),
        maxAgeS: Type.Integer({ minimum: 60, maximum: 31536000, default: 604800 }),
      },
      { additionalProperties: false, default: {} },
    ),
    install: InstallSchema,
    sources: Type.Array(SourceSchema, { minItems: 1, maxItems: 64 }),
  },
  { additionalProperties: false },
);
export type FirmwareProfile = Static<typeof ProfileSchema>;
