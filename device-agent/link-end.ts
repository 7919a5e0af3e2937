/**
 * Ends the agent's MQTT connection within a bound, whatever the broker does. mqtt.js on its own
 * does not: a QoS 1 publish whose PUBACK never comes (the broker went away mid-stop) stays in
 * flight, `end()` waits for it, and the client reconnects to resend it, for as long as the broker
 * is gone. Here nothing in flight is waited for: results stay in the spool until the API acks
 * them, so the next run sends them again; the status is retained, so the next connect rewrites it.
 */
import type { MqttClient } from 'mqtt';
import { settledWithin } from '../common/stop-sequence.js';

/** Grace for the connection to close after DISCONNECT before the socket is destroyed. */
const DISCONNECT_GRACE_MS = 200;

/**
 * Sends DISCONNECT when the link is up, so the broker discards the will and the `shutdown`
 * status just published stands [MQTT-3.1.2-10]; closes the socket otherwise. Either way it also
 * stops reconnecting, and returns within `DISCONNECT_GRACE_MS` plus a few ms.
 */
export async function endLink(client: MqttClient): Promise<void> {
  // In-flight publishes would hold end() back until their PUBACK; their callbacks see an error.
  for (const id of Object.keys(client.outgoing)) client.removeOutgoingMessage(Number(id));
  const ended = client.endAsync(!client.connected);
  if (await settledWithin(ended, DISCONNECT_GRACE_MS)) return;
  // A peer that is up but does not answer (stopped, or a dead route): cut the socket.
  client.stream?.destroy();
  await settledWithin(ended, 50);
}
