/**
 * The fleet API: inventory in SQLite, REST for operators, MQTT (as a plain client) to the fleet.
 * createFleetApi wires the parts; listen() binds HTTP and connects MQTT; close() undoes it all.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { createLogger, type Logger } from '../common/logger.js';
import { fromRoot } from '../common/paths.js';
import { resolveOptions, type FleetApiOptions, type FleetApiOptionsPartial } from './config.js';
import { buildApp } from './http/app.js';
import { createRolloutEngine, type RolloutEngine } from './deployments/engine.js';
import { createFleetEvents, type FleetEvents } from './events/index.js';
import { collectProcessMetrics } from '../common/metrics.js';
import { registerFleetGauges } from './metrics.js';
import { createIngestion, type Ingestion } from './ingest.js';
import { createFleetJobs, type JobScheduler } from './jobs/index.js';
import { createMqttLink, type MqttLink } from './mqtt-link.js';
import { createCredentialReplica, type CredentialReplica } from './credential-replica.js';
import { retainedSource } from './retained-source.js';
import { HubStatusInbox } from './hubs/status-inbox.js';
import { createHubChanges } from './hubs/changes.js';
import { openStore, tokenIdOf, type Store } from './store/index.js';
import { createFleetSigning, type FleetSigning } from './signing/fleet-signing.js';

export { openStore, type Store } from './store/index.js';
export { storeCredentialVerifier, type ServiceAccount, type CredentialSource } from './credentials-verifier.js';
export { openCredentialReader, type CredentialReader } from './credentials-reader.js';
export { apiErrors } from './errors.js';
export { resolveOptions, FleetApiOptionsSchema, type FleetApiOptions, type FleetApiOptionsPartial } from './config.js';
export type { MqttLink, LinkCounters } from './mqtt-link.js';
export type { JobView } from './jobs/index.js';
export type { FleetSigning } from './signing/fleet-signing.js';
export { KEY_FILES } from './signing/key-files.js';

export interface FleetApi {
  readonly app: FastifyInstance;
  readonly store: Store;
  readonly link: MqttLink;
  readonly ingestion: Ingestion;
  readonly jobs: JobScheduler;
  readonly rollouts: RolloutEngine;
  readonly events: FleetEvents;
  readonly options: FleetApiOptions;
  readonly signing: FleetSigning;
  /** Hub statuses received, stored, dropped (hubs/status-inbox.ts). */
  readonly hubStatuses: HubStatusInbox;
  listen(): Promise<{ url: string }>;
  close(): Promise<void>;
  /** A new admin token, returned in clear once. */
  createAdminToken(name?: string): string;
  /** Runs a scheduled job now, e.g. 'offline-detection'. */
  runJob(name: string): Promise<unknown>;
}

export interface FleetApiDeps {
  logger?: Logger;
  /**
   * An already opened store (e.g. shared with the broker's verifier). It stays its opener's to
   * close, after whatever else reads it has stopped (`wasmfleet server`: the broker).
   */
  store?: Store;
}

function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(fromRoot('package.json'), 'utf8')) as { version?: string }).version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

export async function createFleetApi(input: FleetApiOptionsPartial, deps: FleetApiDeps = {}): Promise<FleetApi> {
  const options = resolveOptions(input);
  const logger = deps.logger ?? createLogger({ component: 'fleet-api' });
  // Ingestion commits at rate here: WAL checkpoints on their own thread, not in its commits.
  const store = deps.store ?? openStore(options.dbPath, { checkpointInBackground: { onProblem: (reason) => logger.warn('wal checkpoints', { reason }) } });
  let signing: FleetSigning;
  try {
    signing = createFleetSigning(
      store,
      { ...options.signing, keysDir: options.signing.keysDir ?? join(dirname(options.dbPath), 'keys') },
      logger.child({ component: 'fleet-api-signing' }),
    );
  } catch (error) {
    if (!deps.store) store.close();
    throw error;
  }
  collectProcessMetrics();
  const leaveFleetGauges = registerFleetGauges(store);
  const events = createFleetEvents(store, options.events);
  // Each part gets what it needs when it is made: the link publishes, the engine and ingestion
  // publish through it, and the link delivers device messages to ingestion once it connects.
  // Hub statuses arrive on the link; a hub going on- or offline changes which devices a rollout waits for.
  let onHubStatus = (): void => undefined;
  const hubStatuses = new HubStatusInbox(
    {
      store(status) {
        const before = store.getHub(status.hubId)?.status?.state;
        if (!store.setHubStatus(status.hubId, status, new Date().toISOString())) return false;
        if (before !== status.state) {
          logger.info(status.state === 'online' ? 'hub online' : 'hub offline', { hubId: status.hubId, backlog: status.backlog.batches });
          onHubStatus();
        }
        return true;
      },
    },
    logger.child({ component: 'fleet-api-hubs' }),
  );
  const link = createMqttLink({ ...options.mqtt }, retainedSource(store), logger.child({ component: 'fleet-api-mqtt' }), signing, hubStatuses);
  const rollouts = createRolloutEngine(store, link, logger.child({ component: 'fleet-api-rollouts' }), { changed: () => events.rollouts.observe() });
  const ingestion = createIngestion(store, options.ingest, logger, {
    acknowledge: (deviceId, stored, refused) => link.publishAck(deviceId, stored, refused),
    onRolloutSettling: () => rollouts.nudge(),
    events: events.ingest,
  });
  const credentials: CredentialReplica | undefined = options.redis
    ? createCredentialReplica(options.redis, {
        store,
        service: { username: options.mqtt.username, password: options.mqtt.password },
        logger: logger.child({ component: 'fleet-api-credentials' }),
      })
    : undefined;
  onHubStatus = () => rollouts.nudge();
  const hubs = createHubChanges({ store, link, ...(credentials ? { credentials } : {}), logger: logger.child({ component: 'fleet-api-hubs' }) });
  const jobs = createFleetJobs(store, options, logger, { link, signing, rollouts, events });
  let app: FastifyInstance;
  try {
    app = await buildApp({ store, link, hubs, ingestion, jobs, rollouts, events, options, signing, logger, version: packageVersion(), ...(credentials ? { credentials } : {}) });
  } catch (error) {
    await credentials?.close();
    await jobs.stop();
    await rollouts.stop();
    events.close();
    leaveFleetGauges();
    if (!deps.store) store.close();
    throw error;
  }

  let closed = false;
  let connecting: Promise<boolean> | undefined;
  return {
    app,
    store,
    link,
    ingestion,
    jobs,
    rollouts,
    events,
    options,
    signing,
    hubStatuses,
    async listen() {
      const address = await app.listen({ host: options.http.host, port: options.http.port });
      // Broker nodes admit devices from the replica, so it is filled before we go on; if Redis is
      // away the API starts anyway and keeps retrying in the background.
      if (credentials) await credentials.syncAll().catch(() => credentials.start());
      connecting ??= link.connect(ingestion.handlers);
      await connecting;
      const url = new URL(address);
      logger.info('fleet api listening', { url: url.origin, mqtt: link.connected ? 'connected' : 'disconnected' });
      return { url: url.origin };
    },
    async close() {
      if (closed) return;
      closed = true;
      await jobs.stop();
      await rollouts.stop();
      events.close();
      leaveFleetGauges();
      await app.close();
      await link.close();
      await credentials?.close();
      ingestion.close();
      if (!deps.store) store.close();
    },
    createAdminToken: (name = 'admin') => {
      const token = store.createToken(name, 'admin');
      // Tokens made outside the API (the platform's first one) are changes too.
      store.appendAudit({ actorId: null, actorName: 'platform', actorRole: null, action: 'token.create', target: tokenIdOf(token)!, detail: { name, role: 'admin' } });
      return token;
    },
    runJob: (name) => jobs.run(name),
  };
}
