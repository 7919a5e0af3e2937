/**
 * A site hub (docs/federation.md): the site's broker, one uplink, and the parts between them,
 * built one by one and composed here. Everything it needs to run its site alone is on its disk:
 * the site document (credentials), desired states and modules, and results in custody.
 *
 * Stop: bounded at STOP_BOUND_MS (3.2 s, inside the 5 s every process keeps), step by step.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../common/logger.js';
import { reasonOf } from '../common/errors.js';
import { runStopSequence, type StopStep } from '../common/stop-sequence.js';
import { hubTopics } from '../protocol/hubs.js';
import type { RunningBroker } from '../broker/index.js';
import type { HubConfig } from './config.js';
import { CHILD_STATUS_FILTER, ChildHubs } from './child-hubs.js';
import { DownRelay } from './down-relay.js';
import { hubErrors } from './errors.js';
import { startLocalBroker, type LocalBroker } from './local-broker.js';
import { RelayStore } from './relay-store.js';
import { siteCredentialVerifier } from './site-credentials.js';
import { SiteStore } from './site-store.js';
import { hubStatus, StatusPublisher } from './status.js';
import { Tamperer, type TamperControls, type TamperOptions } from './tamper.js';
import { openUplink, type Uplink } from './uplink.js';
import { SITE_FILTERS, UpRelay, type Custody } from './up-relay.js';

export interface HubDeps {
  readonly logger: Logger;
  /** Result custody (hub/custody/): opened on `dir`, bounded by the config's custody limits. */
  readonly openCustody: (options: { dir: string; maxBytes: number; maxAgeMs: number; logger: Logger }) => Promise<Custody>;
  /** TEST ONLY (tamper.ts); no config file reaches it. */
  readonly tamper?: TamperOptions;
}

export interface RunningHub {
  readonly hubId: string;
  /** The site broker, where devices connect. */
  readonly broker: RunningBroker;
  readonly uplinkConnected: boolean;
  siteRevision(): number;
  backlog(): ReturnType<Custody['backlog']>;
  /** Present only when started with `tamper`. */
  readonly tamper: TamperControls | undefined;
  close(): Promise<void>;
}

export const STOP_BUDGETS_MS = { status: 50, uplink: 700, relay: 400, site: 1_100, custody: 1_000 } as const;
export const STOP_BOUND_MS = Object.values(STOP_BUDGETS_MS).reduce((sum, ms) => sum + ms, 0);

export async function startHub(config: HubConfig, deps: HubDeps): Promise<RunningHub> {
  const logger = deps.logger.child({ hubId: config.hubId });
  mkdirSync(config.dataDir, { recursive: true });
  const { store: site, problem } = SiteStore.open(config.hubId, config.dataDir);
  if (problem) logger.warn('stored site document unreadable; devices are refused until the next one arrives', { code: 'WF_HUB_SITE_REFUSED', reason: problem });
  const relayStore = new RelayStore(config.dataDir);
  const custody = await deps.openCustody({ dir: join(config.dataDir, 'custody'), ...config.custody, logger: logger.child({ component: 'custody' }) });
  let local: LocalBroker;
  try {
    local = await startLocalBroker(config, siteCredentialVerifier(() => site.current), logger);
  } catch (error) {
    await custody.close();
    throw error;
  }
  const tamperer = deps.tamper ? new Tamperer(deps.tamper) : undefined;
  if (tamperer) logger.warn('TAMPERING hub (test only): relayed bytes are altered on purpose');

  const statusSources = {
    siteRevision: () => site.revision,
    devicesConnected: () => local.devicesConnected(),
    backlog: () => custody.backlog(),
    lost: () => custody.lost(),
  };
  const statusTopic = hubTopics.hub(config.hubId, 'status');
  const uplink: Uplink = openUplink({
    config,
    willTopic: statusTopic,
    willPayload: Buffer.from(JSON.stringify(hubStatus(config.hubId, 'offline', statusSources))),
    logger: logger.child({ component: 'uplink' }),
  });
  const status = new StatusPublisher({ hubId: config.hubId, intervalMs: config.statusIntervalMs, sources: statusSources, upstream: uplink, logger });
  const down = new DownRelay({
    store: relayStore,
    upstream: uplink,
    local,
    logger: logger.child({ component: 'down-relay' }),
    ...(tamperer ? { tamper: (topic: string, payload: Buffer) => tamperer.transform(topic, payload) } : {}),
  });
  const up = new UpRelay({ custody, upstream: uplink, local, logger: logger.child({ component: 'up-relay' }) });
  const children = new ChildHubs({ upstream: uplink, local, logger: logger.child({ component: 'child-hubs' }) });

  const applySite = async (removedDevices: readonly string[], removedHubs: readonly string[] = [], revokedDevices: readonly string[] = [], revokedHubs: readonly string[] = []) => {
    const devices = (site.current?.devices ?? []).map((device) => device.deviceId);
    up.setDevices(devices);
    children.setHubs((site.current?.hubs ?? []).map((hub) => hub.hubId));
    await down.setDevices(devices);
    for (const deviceId of removedDevices) {
      const error = hubErrors.WF_HUB_DEVICE_DROPPED({ deviceId, revision: site.revision });
      logger.warn('device dropped from the site', { code: error.code, deviceId, reason: error.message });
      await local.disconnect(deviceId).catch((cause: unknown) => logger.warn('device not disconnected', { deviceId, reason: reasonOf(cause) }));
    }
    // A child hub dropped from the document is refused from now on, and its live session is
    // closed below (and refused every topic within the broker's membership cache time anyway).
    for (const hubId of removedHubs) logger.warn('hub dropped from the site', { hubId });
    // Rotated without grace (or removed): a session opened with the old secret ends now; the
    // reconnect is checked against the new document [WF-P-T-6].
    for (const deviceId of revokedDevices) {
      logger.warn('device credential revoked at the site', { deviceId, revision: site.revision });
      await local.disconnect(deviceId).catch((cause: unknown) => logger.warn('device not disconnected', { deviceId, reason: reasonOf(cause) }));
    }
    for (const hubId of [...removedHubs, ...revokedHubs]) {
      if (revokedHubs.includes(hubId)) logger.warn('hub credential revoked at the site', { childHub: hubId, revision: site.revision });
      await local.disconnectHub(hubId).catch((cause: unknown) => logger.warn('hub not disconnected', { childHub: hubId, reason: reasonOf(cause) }));
    }
  };
  const siteTopic = hubTopics.hub(config.hubId, 'site');
  const onSite = async (payload: Buffer) => {
    const offer = await site.offer(payload);
    if (!offer.ok) {
      if (offer.error.code !== 'WF_HUB_SITE_STALE') logger.warn('site document refused', { code: offer.error.code, reason: offer.error.message });
      return;
    }
    logger.info('site document in force', { revision: offer.site.revision, devices: offer.site.devices.length, hubs: offer.site.hubs.length });
    await applySite(offer.removedDevices, offer.removedHubs, offer.revokedDevices, offer.revokedHubs);
    void status.check(false);
  };
  let siteChain = Promise.resolve();

  uplink.on('message', (topic, payload) => {
    if (topic === siteTopic) {
      siteChain = siteChain.then(() => onSite(payload)).catch((error: unknown) => logger.warn('site document not applied', { reason: reasonOf(error) }));
      return;
    }
    if (down.onUpstream(topic, payload) || up.onUpstream(topic, payload) || children.onUpstream(topic, payload)) return;
    logger.debug('upstream message on no topic of ours', { topic });
  });
  uplink.on('up', () => {
    up.uplinkUp();
    children.uplinkUp();
    void status.check(true);
  });
  uplink.on('down', () => up.uplinkDown());
  local.onMessage((topic, payload) => children.onLocal(topic, payload) || up.onLocal(topic, payload));

  try {
    // The site's devices first, so what they publish as soon as the hub's client subscribes is relayed.
    await applySite([]);
    await local.subscribe([...SITE_FILTERS, CHILD_STATUS_FILTER]);
    await down.serveStored();
  } catch (error) {
    await uplink.close();
    await local.close();
    await custody.close();
    throw error;
  }
  uplink.want([siteTopic]);
  status.start();
  logger.info('hub started', { site: local.broker.url, upstream: config.upstream.urls, siteRevision: site.revision });

  let closing: Promise<void> | undefined;
  const steps: StopStep[] = [
    { name: 'status', maxMs: STOP_BUDGETS_MS.status, run: () => status.stop() },
    {
      name: 'uplink',
      maxMs: STOP_BUDGETS_MS.uplink,
      run: async () => {
        custody.stopForwarding();
        await uplink.close({ topic: statusTopic, payload: status.offline() });
      },
    },
    { name: 'relay writes', maxMs: STOP_BUDGETS_MS.relay, run: () => Promise.all([down.idle(), siteChain]) },
    { name: 'site broker', maxMs: STOP_BUDGETS_MS.site, run: () => local.close() },
    { name: 'custody', maxMs: STOP_BUDGETS_MS.custody, run: () => custody.close() },
  ];
  return {
    hubId: config.hubId,
    broker: local.broker,
    get uplinkConnected() {
      return uplink.connected;
    },
    siteRevision: () => site.revision,
    backlog: () => custody.backlog(),
    tamper: tamperer?.controls((topic, payload) => local.publish(topic, payload, true)),
    close() {
      closing ??= runStopSequence(steps, logger).then((outcome) => logger.info('hub stopped', { elapsedMs: outcome.elapsedMs, overran: outcome.overran }));
      return closing;
    },
  };
}
