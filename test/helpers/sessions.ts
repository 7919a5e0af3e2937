/** How a test watches an MQTT session end or a CONNECT be refused. */
import mqtt, { type MqttClient } from 'mqtt';
import { hubClientId, hubUsername } from '../../protocol/hubs.js';

/** Resolves when the client's connection closes; fails the test when it is still open after `ms`. */
export function closedWithin(client: MqttClient, ms: number, what: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what}: still connected after ${ms} ms`)), ms);
    client.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** The CONNACK return code a hub principal's CONNECT gets (0: admitted, -1: no code). */
export async function hubConnectCode(url: string, hubId: string, password: string): Promise<number> {
  try {
    const client = await mqtt.connectAsync(url, { protocolVersion: 4, clientId: hubClientId(hubId), username: hubUsername(hubId), password, clean: true, reconnectPeriod: 0, connectTimeout: 3000 });
    await client.endAsync(true);
    return 0;
  } catch (error) {
    return (error as { code?: number }).code ?? -1;
  }
}
