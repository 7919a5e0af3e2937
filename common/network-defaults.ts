/**
 * The addresses every part listens on or dials when nobody says otherwise, in one place: the
 * broker's MQTT ports, the REST API's port, the loopback host they bind to, and the URLs built
 * from them. Option schemas, CLI flags and the agent's source defaults all read these.
 */
export const NETWORK_DEFAULTS = Object.freeze({
  /** Loopback: a development install is reachable from this machine only until told otherwise. */
  host: '127.0.0.1',
  mqttPort: 1883,
  mqttTlsPort: 8883,
  httpPort: 8080,
  /** The server side's data directory (SQLite file, secrets, keys, admin token). */
  dataDir: './data',
});

export const DEFAULT_MQTT_URL = `mqtt://${NETWORK_DEFAULTS.host}:${NETWORK_DEFAULTS.mqttPort}`;
export const DEFAULT_API_URL = `http://${NETWORK_DEFAULTS.host}:${NETWORK_DEFAULTS.httpPort}`;
