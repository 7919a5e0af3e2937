/** What route handlers are given: the parts of the API they may use, nothing global. */
import type { Logger } from '../../common/logger.js';
import type { FleetApiOptions } from '../config.js';
import type { FleetEvents } from '../events/index.js';
import type { Ingestion } from '../ingest.js';
import type { RolloutEngine } from '../deployments/engine.js';
import type { JobScheduler } from '../jobs/index.js';
import type { MqttLink } from '../mqtt-link.js';
import type { FleetSigning } from '../signing/fleet-signing.js';
import type { Store } from '../store/index.js';
import type { CredentialReplica } from '../credential-replica.js';
import type { HubChanges } from '../hubs/changes.js';

export interface RouteContext {
  store: Store;
  /** Cluster mode: credential changes are written through to Redis for the broker nodes. */
  credentials?: CredentialReplica;
  link: MqttLink;
  /** Re-publishes hub site documents after a change (hubs/changes.ts). */
  hubs: HubChanges;
  ingestion: Ingestion;
  jobs: JobScheduler;
  rollouts: RolloutEngine;
  events: FleetEvents;
  options: FleetApiOptions;
  signing: FleetSigning;
  logger: Logger;
  version: string;
}
