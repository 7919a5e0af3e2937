/**
 * What the agent says when its broker link fails. A refused or dropped connection is expected on
 * a gateway (a node restarting, an uplink down for hours): a warning, said once per outage and
 * again only when the reason changes, not an error line at every reconnect attempt. A broker
 * refusing the device's credentials is an error (someone must act), said once per outage too.
 * Anything else mqtt.js reports (a protocol or TLS fault) is an error every time.
 */
import type { MqttClient } from 'mqtt';
import { reasonOf } from '../common/errors.js';
import type { Logger } from '../common/logger.js';

/** Socket errors of a link that is down or being cut; the reconnect loop handles them. */
const LINK_DOWN_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN', 'EPIPE', 'EAI_AGAIN', 'ENOTFOUND']);

/** MQTT 3.1.1 CONNACK return codes mqtt.js rejects with as `code`: 3 is a node that cannot serve now. */
const CONNACK_SERVER_UNAVAILABLE = 3;
const CONNACK_REFUSALS = new Set([1, 2, 3, 4, 5]);

export interface LinkFailure {
  /** An errno (`ECONNREFUSED`) or `connack-N`. */
  readonly reason: string;
  readonly level: 'warn' | 'error';
}

/** The failure as data, or undefined when it is not a link going down or being refused. */
export function classifyLinkError(error: unknown): LinkFailure | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && LINK_DOWN_CODES.has(code)) return { reason: code, level: 'warn' };
  if (typeof code === 'number' && CONNACK_REFUSALS.has(code)) return { reason: `connack-${code}`, level: code === CONNACK_SERVER_UNAVAILABLE ? 'warn' : 'error' };
  return undefined;
}

export function logLinkErrors(client: MqttClient, logger: Logger): void {
  let saidThisOutage = new Set<string>();
  client.on('connect', () => {
    saidThisOutage = new Set();
  });
  client.on('error', (error) => {
    const failure = classifyLinkError(error);
    if (failure === undefined) {
      logger.error('mqtt error', { error: reasonOf(error) });
      return;
    }
    if (saidThisOutage.has(failure.reason)) return;
    saidThisOutage.add(failure.reason);
    logger[failure.level]('broker connection failed', { reason: failure.reason, error: reasonOf(error) });
  });
}
