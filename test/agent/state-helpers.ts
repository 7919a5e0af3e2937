/** Real parts for the state-on-disk tests: a broker that can be closed mid-test, agents that log to an array. */
import { createServer, type AddressInfo } from 'node:net';
import type { TestContext } from 'node:test';
import { Aedes } from 'aedes';
import { createLogger } from '../../common/logger.js';
import { topics, type DesiredState } from '../../protocol/index.js';
import { startAgent, type RunningAgent } from '../../device-agent/agent.js';
import { connectClient, envelopeOf, testTrust, type ExampleModule } from './helpers.js';

export const DEVICE = 'gw-01';

export interface ClosableBroker {
  readonly url: string;
  close(): Promise<void>;
}

/** Like helpers.startBroker, but closing it is part of the test; closing twice is harmless. */
export async function startClosableBroker(t: TestContext): Promise<ClosableBroker> {
  const aedes = await Aedes.createBroker();
  const server = createServer(aedes.handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  let closed: Promise<void> | undefined;
  const close = () =>
    (closed ??= (async () => {
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    })());
  t.after(close);
  return { url: `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`, close };
}

export interface LoggedAgent {
  readonly agent: RunningAgent;
  readonly logs: Record<string, unknown>[];
}

export async function startLoggedAgent(t: TestContext, url: string, stateDir: string): Promise<LoggedAgent> {
  const logs: Record<string, unknown>[] = [];
  const logger = createLogger({ level: 'debug', component: 'agent', write: (line) => logs.push(JSON.parse(line) as Record<string, unknown>) });
  const agent = await startAgent(
    { deviceId: DEVICE, broker: { url, username: DEVICE, password: 'pw' }, profile: 'sim-x86-64', stateDir, moduleFetchTimeoutMs: 3000, reconnectPeriodMs: 0, trust: testTrust() },
    { logger },
  );
  t.after(() => agent.stop());
  return { agent, logs };
}

/** Retains the module envelope and a desired state, as fleet-api would. */
export async function publishFleet(t: TestContext, url: string, module: ExampleModule | undefined, desired: DesiredState): Promise<void> {
  const fleet = await connectClient(t, url, `fleet-${Math.random().toString(16).slice(2)}`);
  if (module) await fleet.publishAsync(topics.module(module.sha256), JSON.stringify(envelopeOf(module)), { qos: 1, retain: true });
  await fleet.publishAsync(topics.device(DEVICE, 'desired'), JSON.stringify(desired), { qos: 1, retain: true });
  await fleet.endAsync();
}

export const logged = (logs: Record<string, unknown>[], msg: string) => logs.filter((line) => line.msg === msg);
