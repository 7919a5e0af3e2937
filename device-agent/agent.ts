/**
 * The device agent: connects, converges to its desired state, runs modules over its sources and
 * publishes results, reported state and status. Everything from the broker is decoded with its
 * cap before parsing [WF-P-CAP-1]; what fails is logged, counted and ignored, never fatal.
 *
 * `startAgent` only composes: each part is built with what it needs, top-down, and the stop is
 * the explicit, bounded sequence of agent-stop.ts.
 */
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { MqttClient } from 'mqtt';
import { reasonOf } from '../common/errors.js';
import { isoTime } from '../common/iso-time.js';
import { createLogger, type Logger } from '../common/logger.js';
import { fromRoot } from '../common/paths.js';
import { runStopSequence } from '../common/stop-sequence.js';
import type { FirmwareProfile } from '../firmware-profiles/index.js';
import { PROTOCOL_VERSION, type ReportedState } from '../protocol/index.js';
import { sandboxFactory } from '../wasm-host/select.js';
import { agentStopSteps } from './agent-stop.js';
import { ApplyWaiters } from './apply-waiters.js';
import { loadAgentProfile, resolveAgentConfig, type AgentConfig, type ResolvedAgentConfig } from './config.js';
import { DesiredInbox } from './desired-inbox.js';
import { DEFAULT_CACHE_BYTES, ModuleCache } from './module-cache.js';
import { ModuleFetcher } from './module-fetcher.js';
import { abiVerdicts } from './module-verify.js';
import type { BackoffPolicy, SandboxFactory } from './module-runner.js';
import { connectBroker, subscribeQos1, topicSubscriber } from './mqtt-link.js';
import { Reconciler } from './reconciler.js';
import { StateReporter } from './reporter.js';
import { ResultPath } from './result-path.js';
import { SourceBatchers } from './source-batchers.js';
import { AgentDisk } from './state/agent-disk.js';
import type { PersistedDesired } from './state/desired-store.js';
import { TrustKeeper } from './trust-keeper.js';
import { logLinkErrors } from './link-errors.js';

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

/** What a supervisor of many agents polls (a bench, once a second each): cheap, no report built. */
export interface AgentProgress {
  readonly connected: boolean;
  /** Modules in the applied (or being applied) desired state. */
  readonly modules: number;
  /** Of those, the ones running. */
  readonly running: number;
}

export interface RunningAgent {
  readonly deviceId: string;
  /** Bounded: resolves within the sum of AGENT_STOP_BUDGET_MS whatever the broker or disk do. */
  stop(): Promise<void>;
  reportedState(): ReportedState;
  /** Resolves once `revision` (or a later one) is applied; rejects after `timeoutMs`. */
  whenApplied(revision: number, timeoutMs?: number): Promise<void>;
  stats(): AgentStats;
  progress(): AgentProgress;
}

const DEFAULT_APPLY_TIMEOUT_MS = 30_000;

/** What parts announce and others act on, so each part is built with only what it needs. */
interface AgentEvents {
  /** Something reportable changed (module state, errors). */
  changed: [];
  /** A desired revision was applied (or refused): report now, release waiters. */
  applied: [revision: number];
  /** A loss counter changed (spool full, too old, unwritable). */
  loss: [];
}

export async function startAgent(input: AgentConfig, options: AgentOptions = {}): Promise<RunningAgent> {
  const startMark = performance.now();
  const config = resolveAgentConfig(input);
  const profile = options.profile ?? loadAgentProfile(config);
  const { deviceId } = config;
  const logger = (options.logger ?? createLogger({ level: config.logLevel ?? 'info', component: 'agent' })).child({ deviceId });
  const events = new EventEmitter<AgentEvents>();
  let stopping: Promise<void> | undefined;
  const isStopping = (): boolean => stopping !== undefined;

  // Everything awaited comes before the connection: its handlers are registered synchronously
  // after connectBroker, or a fast CONNACK would find none.
  const startSandbox = options.startSandbox ?? (await sandboxFactory(config.isolation, config.spareWorker));
  const sources = await SourceBatchers.start(profile, deviceId, logger);
  const disk = new AgentDisk(config.stateDir, logger);
  const trust = new TrustKeeper(config.trust, disk.trust, logger);

  const client = connectBroker(config, logger);
  // Every result goes through the spool and stays there until the API acks it [WF-P-T-8].
  const results = new ResultPath(client, {
    deviceId,
    spoolDir: join(config.stateDir, 'spool'),
    spool: profile.spool,
    logger,
    ackTimeoutMs: config.resultAckTimeoutMs,
    onLoss: () => events.emit('loss'),
    // Counted on the module that produced each, so one bad module shows by name [WF-P-NACK-1].
    onRefused: (refused) => {
      for (const r of refused) if (r.module && r.deploymentId) reconciler.noteRefused(r.module, r.deploymentId, `${r.reason}: ${r.message}`);
      events.emit('loss');
    },
  });
  logger.info('results sequence resumes', { nextSeq: disk.resultSeq.peek(), spooled: results.pending });
  const fetcher = new ModuleFetcher({
    subscriber: topicSubscriber(client),
    timeoutMs: config.moduleFetchTimeoutMs,
    cache: new ModuleCache(DEFAULT_CACHE_BYTES, disk.modules),
    logger,
    verify: { keys: () => trust.keys(), profile: profile.name, arch: profile.arch, abiVerdicts: abiVerdicts() },
  });
  const reconciler = new Reconciler({
    deviceId,
    profile,
    fetchModule: (desired) => fetcher.fetch(desired),
    startSandbox,
    attach: (sourceId, consumer) => sources.attach(sourceId, consumer),
    nextResultSeq: () => disk.resultSeq.take(),
    publishResult: (batch) => results.publish(batch),
    ...(options.backoff ? { backoff: options.backoff } : {}),
    onChange: () => events.emit('changed'),
    onApplied: (revision) => events.emit('applied', revision),
    onCommitted: (revision, state) => disk.commit(revision, state),
    logger,
  });
  const snapshot = reportedStateOf(deviceId, profile, reconciler, results);
  const reporter = new StateReporter(client, { deviceId, heartbeatMs: profile.heartbeatIntervalS * 1000, logger, snapshot, pendingResults: () => results.pending });
  const waiters = new ApplyWaiters(deviceId, () => reconciler.appliedRevision);
  const inbox = new DesiredInbox({ deviceId, trust, sink: reconciler, logger, onRefused: () => reporter.publishNow() });
  events.on('changed', () => reporter.schedule());
  events.on('loss', () => reporter.scheduleLossReport());
  events.on('applied', (revision) => {
    reporter.publishNow();
    waiters.applied(revision);
  });

  resumeFromDisk(disk.persisted(deviceId), reconciler, { logger, startMark, isStopping });
  routeMessages({ client, config, fetcher, results, reporter, inbox, logger, isStopping });
  reporter.start();

  const stop = async (): Promise<void> => {
    logger.info('stopping');
    // Quiet first: nothing new is fetched, reported or awaited while the parts close.
    fetcher.stop();
    reporter.close();
    waiters.close();
    const outcome = await runStopSequence(agentStopSteps({ client, modules: reconciler, sources, disk, results, reporter, logger }), logger);
    logger.info('stopped', {
      malformed: inbox.malformed,
      desiredRefused: inbox.refused,
      nextSeq: disk.resultSeq.peek(),
      ...results.senderStats(),
      spool: results.report(),
      stopMs: outcome.elapsedMs,
      ...(outcome.overran.length > 0 ? { overran: outcome.overran } : {}),
    });
  };

  return {
    deviceId,
    stop: () => (stopping ??= stop()),
    reportedState: snapshot,
    stats: () => ({
      connected: client.connected,
      malformed: inbox.malformed,
      refused: inbox.refused,
      resultsPublished: results.senderStats().published,
      resultsAcked: results.senderStats().acked,
      resultsPending: results.pending,
      resultsDropped: (({ droppedFull, droppedAge, lost, refused }) => droppedFull + droppedAge + lost + (refused ?? 0))(results.report()),
      cacheCorrupt: disk.modules.stats().corrupt,
      stateWriteFailures: disk.writeFailures,
    }),
    progress: () => ({ connected: client.connected, ...reconciler.moduleCounts() }),
    whenApplied: (revision, timeoutMs = DEFAULT_APPLY_TIMEOUT_MS) => waiters.wait(revision, timeoutMs),
  };
}

function reportedStateOf(deviceId: string, profile: FirmwareProfile, reconciler: Reconciler, results: ResultPath): () => ReportedState {
  const agent = { version: agentVersion(), profile: profile.name, arch: process.arch };
  return () => ({
    v: PROTOCOL_VERSION,
    deviceId,
    revision: reconciler.appliedRevision,
    at: isoTime(),
    agent,
    modules: reconciler.modules(),
    spool: results.report(),
    errors: reconciler.errors(),
  });
}

/**
 * Resumes the last applied desired state from disk, in the same tick as mqtt.connect, so nothing
 * waits on the broker: the device computes even if the broker never comes.
 */
function resumeFromDisk(
  persisted: PersistedDesired | undefined,
  reconciler: Reconciler,
  context: { logger: Logger; startMark: number; isStopping: () => boolean },
): void {
  if (!persisted) return;
  const { logger } = context;
  logger.info('resuming persisted desired state', { revision: persisted.revision, modules: persisted.desired?.modules.length ?? 0 });
  void reconciler.resume(persisted.revision, persisted.desired).then(() => {
    if (context.isStopping() || !persisted.desired) return;
    const modules = reconciler.modules();
    logger.info('resumed from disk', {
      revision: persisted.revision,
      running: modules.filter((m) => m.state === 'running').length,
      modules: modules.length,
      startToRunningMs: Math.round(performance.now() - context.startMark),
    });
  });
}

interface LinkParts {
  readonly client: MqttClient;
  readonly config: ResolvedAgentConfig;
  readonly fetcher: ModuleFetcher;
  readonly results: ResultPath;
  readonly reporter: StateReporter;
  readonly inbox: DesiredInbox;
  readonly logger: Logger;
  readonly isStopping: () => boolean;
}

/** Who handles what arrives on the link, and what a (re)connect sets going. */
function routeMessages(parts: LinkParts): void {
  const { client, results, fetcher, inbox, reporter, logger } = parts;
  client.on('message', (topic, payload) => {
    // Acks still count while stopping: each one is a result the next run need not resend.
    if (results.handleMessage(topic, payload)) return;
    if (parts.isStopping()) return;
    if (fetcher.handleMessage(topic, payload)) return;
    if (topic === inbox.topic) inbox.handle(payload);
    else logger.debug('message on an unexpected topic ignored', { topic });
  });
  client.on('connect', () => {
    logger.info('connected', { broker: parts.config.broker.url });
    if (parts.isStopping()) return;
    reporter.publishStatus(true, 'connected').catch((error) => logger.warn('status publish failed', { error: reasonOf(error) }));
    reporter.publishNow();
    results.onConnect();
  });
  client.on('close', () => logger.debug('connection closed'));
  client.on('offline', () => logger.warn('broker unreachable; modules keep running'));
  logLinkErrors(client, logger);

  // Once only: mqtt.js resubscribes on every reconnect, and the broker then redelivers the
  // retained desired state, which is a no-op at an equal revision.
  subscribeQos1(client, inbox.topic).catch((error) => logger.error('desired-state subscription failed', { error: reasonOf(error) }));
  subscribeQos1(client, results.ackTopic).catch((error) => logger.error('results-ack subscription failed', { error: reasonOf(error) }));
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
