/**
 * The device agent: connects, converges to its desired state, runs modules over its sources and
 * publishes results, reported state and status. Everything from the broker is decoded with its
 * cap before parsing [WF-P-CAP-1]; what fails is logged, counted and ignored, never fatal.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { MqttClient } from 'mqtt';
import { reasonOf } from '../common/errors.js';
import { isoTime } from '../common/iso-time.js';
import { createLogger, type Logger } from '../common/logger.js';
import { fromRoot } from '../common/paths.js';
import type { FirmwareProfile } from '../firmware-profiles/index.js';
import { decodePayload, encodePayload, PROTOCOL_VERSION, topics, type DesiredState, type ReportedState, type ResultBatch } from '../protocol/index.js';
import { sandboxFactory } from '../wasm-host/select.js';
import { SourceBatcher } from './batcher.js';
import { loadAgentProfile, resolveAgentConfig, type AgentConfig } from './config.js';
import { agentErrors } from './errors.js';
import { DEFAULT_CACHE_BYTES, ModuleCache } from './module-cache.js';
import { ModuleFetcher } from './module-fetcher.js';
import type { BackoffPolicy, SandboxFactory } from './module-runner.js';
import { connectBroker, statusMessage, subscribeQos1, topicSubscriber } from './mqtt-link.js';
import { verifyDesired } from './desired-verify.js';
import { Reconciler } from './reconciler.js';
import { TrustKeeper } from './trust-keeper.js';
import { TrustStore } from './state/trust-store.js';
import { ResultSeq } from './result-seq.js';
import { ResultSender } from './spool/sender.js';
import { Spool } from './spool/spool.js';
import { createSource } from './sources/index.js';
import { DesiredStore } from './state/desired-store.js';
import { ModuleStore } from './state/module-store.js';

export interface AgentOptions {
  readonly logger?: Logger;
  /** An already loaded profile; otherwise the config's `profile` is loaded. */
  readonly profile?: FirmwareProfile;
  /** Replaces the sandbox the config's `isolation` picks; for tests and benchmarks of agent logic. */
  readonly startSandbox?: SandboxFactory;
  readonly backoff?: BackoffPolicy;
}

export interface AgentStats {
  readonly connected: boolean;
  /** Payloads dropped for being oversize, not JSON or off-schema. */
  readonly malformed: number;
  /** Desired states refused as unsigned, badly signed or expired (docs/security.md). */
  readonly refused: number;
  readonly resultsPublished: number;
  /** Results acknowledged by the fleet API as stored. */
  readonly resultsAcked: number;
  /** Results waiting in the spool for the API's ack. */
  readonly resultsPending: number;
  /** Results dropped (spool full or too old), lost (unencodable, unwritable and unsendable) or refused by the API. */
  readonly resultsDropped: number;
  /** Cached modules on disk that failed their hash (or were incomplete), discarded and refetched. */
  readonly cacheCorrupt: number;
  /** State files (cached modules, desired.json) that could not be written; the agent went on. */
  readonly stateWriteFailures: number;
}

export interface RunningAgent {
  readonly deviceId: string;
  stop(): Promise<void>;
  reportedState(): ReportedState;
  /** Resolves once `revision` (or a later one) is applied; rejects after `timeoutMs`. */
  whenApplied(revision: number, timeoutMs?: number): Promise<void>;
  stats(): AgentStats;
}

/** Module state changes come in bursts (an apply starts several); one publish covers a burst. */
const REPORT_DEBOUNCE_MS = 100;
const DEFAULT_APPLY_TIMEOUT_MS = 30_000;
const STOP_ACK_GRACE_MS = 2000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function startAgent(input: AgentConfig, options: AgentOptions = {}): Promise<RunningAgent> {
  const startMark = performance.now();
  const config = resolveAgentConfig(input);
  const profile = options.profile ?? loadAgentProfile(config);
  const { deviceId } = config;
  const logger = (options.logger ?? createLogger({ level: config.logLevel ?? 'info', component: 'agent' })).child({ deviceId });
  const resultSeq = new ResultSeq(config.stateDir);
  const agentInfo = { version: agentVersion(), profile: profile.name, arch: process.arch };
  const desiredTopic = topics.device(deviceId, 'desired');
  const counters = { malformed: 0, refused: 0 };
  const waiters = new Set<{ revision: number; resolve(): void }>();
  let reportTimer: NodeJS.Timeout | undefined;
  let stopping: Promise<void> | undefined;

  // Everything awaited comes before the connection: its handlers are registered synchronously
  // after connectBroker, or a fast CONNACK would find none.
  const startSandbox = options.startSandbox ?? (await sandboxFactory(config.isolation, config.spareWorker));
  const startedAt = Date.now();
  const batchers = new Map<string, SourceBatcher>();
  for (const sourceConfig of profile.sources) {
    const batcher = new SourceBatcher(await createSource(sourceConfig, config.deviceId, logger), { ...profile.batch, logger });
    batcher.start(startedAt);
    batchers.set(sourceConfig.id, batcher);
  }

  const moduleStore = new ModuleStore(config.stateDir, logger);
  const desiredStore = new DesiredStore(config.stateDir, logger);
  const persisted = desiredStore.load(deviceId);
  const trustStore = new TrustStore(config.stateDir, logger);
  const trust = new TrustKeeper(config.trust, trustStore, logger);
  /** Saves in order; stop() waits for it so the next start finds what this run applied. */
  let persisting: Promise<void> = Promise.resolve();

  const client: MqttClient = connectBroker(config, logger);
  // Every result goes through the spool and stays there until the API acks it [WF-P-T-8].
  const spool = new Spool(join(config.stateDir, 'spool'), { ...profile.spool, logger: logger.child({ component: 'spool' }) });
  const sender = new ResultSender(client, spool, {
    deviceId,
    logger,
    // Counted on the module that produced each, so one bad module shows by name [WF-P-NACK-1].
    onRefused: (refused) => {
      for (const r of refused) if (r.module && r.deploymentId) reconciler.noteRefused(r.module, r.deploymentId, `${r.reason}: ${r.message}`);
      scheduleReported();
    },
  });
  logger.info('results sequence resumes', { nextSeq: resultSeq.peek(), spooled: spool.pending });
  const fetcher = new ModuleFetcher({
    subscriber: topicSubscriber(client),
    timeoutMs: config.moduleFetchTimeoutMs,
    cache: new ModuleCache(DEFAULT_CACHE_BYTES, moduleStore),
    logger,
    verify: { keys: () => trust.keys(), profile: profile.name, arch: profile.arch },
  });

  const reportedState = (): ReportedState => ({
    v: PROTOCOL_VERSION,
    deviceId,
    revision: reconciler.appliedRevision,
    at: isoTime(),
    agent: agentInfo,
    modules: reconciler.modules(),
    spool: spool.report(),
    errors: reconciler.errors(),
  });

  const publishReported = (): void => {
    if (reportTimer) clearTimeout(reportTimer);
    reportTimer = undefined;
    if (!client.connected || stopping) return;
    let payload: Buffer;
    try {
      payload = encodePayload('reported', reportedState());
    } catch (error) {
      logger.error('reported state not published', { error });
      return;
    }
    client.publish(topics.device(deviceId, 'reported'), payload, { qos: 1, retain: true }, (error) => {
      if (error) logger.warn('reported state publish failed', { error });
    });
  };

  const scheduleReported = (): void => {
    reportTimer ??= setTimeout(publishReported, REPORT_DEBOUNCE_MS);
  };

  const publishResult = (batch: ResultBatch): void => {
    let payload: Buffer;
    try {
      payload = encodePayload('results', batch);
    } catch (error) {
      spool.recordLost(batch.seq);
      logger.error('result batch not published', { module: batch.module, seq: batch.seq, error });
      return;
    }
    spool.append(batch.seq, payload);
    sender.pump();
  };

  // A loss is reported soon, but a failing disk must not turn into a report per result.
  let lossReportTimer: NodeJS.Timeout | undefined;
  spool.onLoss = () => {
    lossReportTimer ??= setTimeout(() => {
      lossReportTimer = undefined;
      publishReported();
    }, 2000);
  };

  const publishStatus = (online: boolean, reason: 'connected' | 'shutdown'): Promise<unknown> =>
    client.publishAsync(topics.device(deviceId, 'status'), encodePayload('status', statusMessage(deviceId, online, reason)), { qos: 1, retain: true });

  const reconciler = new Reconciler({
    deviceId,
    profile,
    fetchModule: (desired) => fetcher.fetch(desired),
    startSandbox,
    attach: (sourceId, consumer) => {
      const subscription = batchers.get(sourceId)!.subscribe(consumer);
      return () => subscription.cancel();
    },
    nextResultSeq: () => resultSeq.take(),
    publishResult,
    ...(options.backoff ? { backoff: options.backoff } : {}),
    onChange: scheduleReported,
    onApplied: (revision) => {
      publishReported();
      for (const waiter of waiters) if (revision >= waiter.revision) waiter.resolve();
    },
    onCommitted: (revision, state) => {
      persisting = persisting.then(async () => {
        // Modules first: a desired.json on disk should only name modules that are cached.
        await moduleStore.idle();
        await desiredStore.save({ revision, desired: state });
        try {
          moduleStore.prune(new Set(state?.modules.map((m) => m.sha256)));
        } catch (error) {
          logger.warn('module cache not pruned', { error: reasonOf(error) });
        }
      });
    },
    logger,
  });

  // In the same tick as mqtt.connect, so nothing waits on the broker: the device computes even
  // if the broker never comes.
  if (persisted) {
    logger.info('resuming persisted desired state', { revision: persisted.revision, modules: persisted.desired?.modules.length ?? 0 });
    void reconciler.resume(persisted.revision, persisted.desired).then(() => {
      if (stopping || !persisted.desired) return;
      const modules = reconciler.modules();
      logger.info('resumed from disk', {
        revision: persisted.revision,
        running: modules.filter((m) => m.state === 'running').length,
        modules: modules.length,
        startToRunningMs: Math.round(performance.now() - startMark),
      });
    });
  }

  const dropMalformed = (what: string, error: { code: string; message: string }): void => {
    counters.malformed += 1;
    logger.warn('payload dropped', { what, code: error.code, reason: error.message });
  };

  const refuseDesired = (error: { code: string; message: string }): void => {
    counters.refused += 1;
    logger.warn('desired state refused', { code: error.code, reason: error.message });
    reconciler.reportError(error);
    publishReported();
  };

  client.on('message', (topic, payload) => {
    if (sender.handleMessage(topic, payload)) return;
    if (stopping) return;
    if (fetcher.handleMessage(topic, payload)) return;
    if (topic !== desiredTopic) {
      logger.debug('message on an unexpected topic ignored', { topic });
      return;
    }
    // An empty retained payload is how MQTT clears a topic, and anyone with publish rights can
    // send one: it is not signed, so it stops nothing [WF-P-SIG-4].
    if (payload.byteLength === 0) {
      refuseDesired(agentErrors.WF_AGENT_DESIRED_UNSIGNED_CLEAR());
      return;
    }
    const decoded = decodePayload('desired', payload);
    if (!decoded.ok) {
      dropMalformed('desired', decoded.error);
      reconciler.reportError(agentErrors.WF_AGENT_DESIRED_MALFORMED({ reason: `${decoded.error.code}: ${decoded.error.message}` }));
      publishReported();
      return;
    }
    const verified = verifyDesired(decoded.value, trust, logger);
    if (!verified.ok) {
      refuseDesired(verified.error);
      return;
    }
    logger.info('desired state received', { revision: (decoded.value as DesiredState).revision, modules: (decoded.value as DesiredState).modules.length });
    void reconciler.submit(decoded.value as DesiredState);
  });

  client.on('connect', () => {
    logger.info('connected', { broker: config.broker.url });
    publishStatus(true, 'connected').catch((error) => logger.warn('status publish failed', { error: reasonOf(error) }));
    publishReported();
    sender.onConnect();
  });
  client.on('close', () => logger.debug('connection closed'));
  client.on('offline', () => logger.warn('broker unreachable; modules keep running'));
  client.on('error', (error) => logger.error('mqtt error', { error }));

  // Once only: mqtt.js resubscribes on every reconnect, and the broker then redelivers the
  // retained desired state, which is a no-op at an equal revision.
  subscribeQos1(client, desiredTopic).catch((error) => logger.error('desired-state subscription failed', { error: reasonOf(error) }));
  subscribeQos1(client, sender.ackTopic).catch((error) => logger.error('results-ack subscription failed', { error: reasonOf(error) }));

  const heartbeat = setInterval(() => {
    if (client.connected && !stopping) publishStatus(true, 'connected').catch((error) => logger.debug('heartbeat failed', { error: reasonOf(error) }));
    if (spool.pending > 0) scheduleReported();
  }, profile.heartbeatIntervalS * 1000);

  const stop = async (): Promise<void> => {
    logger.info('stopping');
    clearInterval(heartbeat);
    if (reportTimer) clearTimeout(reportTimer);
    fetcher.stop();
    await reconciler.stop();
    await persisting;
    for (const batcher of batchers.values()) batcher.stop();
    for (const waiter of waiters) waiter.resolve();
    clearTimeout(lossReportTimer);
    // A short grace for the last acks, so a clean stop leaves little to resend; the rest stays spooled.
    for (let waited = 0; client.connected && spool.pending > 0 && waited < STOP_ACK_GRACE_MS; waited += 50) await sleep(50);
    sender.stop();
    await spool.close();
    if (client.connected) {
      await publishStatus(false, 'shutdown').catch((error) => logger.warn('shutdown status not published', { error: reasonOf(error) }));
      await client.endAsync();
    } else {
      await client.endAsync(true);
    }
    logger.info('stopped', { ...counters, nextSeq: resultSeq.peek(), ...sender.stats(), spool: spool.report() });
  };

  return {
    deviceId,
    stop: () => (stopping ??= stop()),
    reportedState,
    stats: () => ({
      connected: client.connected,
      ...counters,
      resultsPublished: sender.stats().published,
      resultsAcked: sender.stats().acked,
      resultsPending: spool.pending,
      resultsDropped: (({ droppedFull, droppedAge, lost, refused }) => droppedFull + droppedAge + lost + (refused ?? 0))(spool.report()),
      cacheCorrupt: moduleStore.stats().corrupt,
      stateWriteFailures: moduleStore.stats().writeFailures + desiredStore.failures + trustStore.failures,
    }),
    whenApplied(revision, timeoutMs = DEFAULT_APPLY_TIMEOUT_MS) {
      if (reconciler.appliedRevision >= revision) return Promise.resolve();
      if (stopping) return Promise.reject(agentErrors.WF_AGENT_STOPPED({ deviceId }));
      return new Promise<void>((resolve, reject) => {
        const waiter = {
          revision,
          resolve: () => {
            clearTimeout(timer);
            waiters.delete(waiter);
            if (reconciler.appliedRevision >= revision) resolve();
            else reject(agentErrors.WF_AGENT_STOPPED({ deviceId }));
          },
        };
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(agentErrors.WF_AGENT_APPLY_TIMEOUT({ revision, timeoutMs, applied: reconciler.appliedRevision }));
        }, timeoutMs);
        waiters.add(waiter);
      });
    },
  };
}

/** Set by the bundle build (esbuild `define`), where no package.json travels with the agent. */
declare const WASMFLEET_BUNDLE_VERSION: string | undefined;

function agentVersion(): string {
  if (typeof WASMFLEET_BUNDLE_VERSION === 'string') return WASMFLEET_BUNDLE_VERSION;
  try {
    return (JSON.parse(readFileSync(fromRoot('package.json'), 'utf8')) as { version: string }).version.slice(0, 32);
  } catch {
    return '0.0.0';
  }
}
