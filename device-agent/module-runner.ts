/**
 * One desired module at run time: owns its sandbox, takes batches from the batcher (up to the
 * sandbox's PIPELINE_DEPTH at once when a backlog waits; the sandbox settles them in order, so
 * results are published in order), turns each output into a ResultBatch [WF-P-T-5], and
 * survives faults. A fault marks the module
 * failed with the sandbox's reason and restarts it after an exponential backoff; after
 * `maxConsecutiveFaults` in a row (or a module the sandbox calls invalid) it stays failed —
 * quarantined — until a new desired state replaces it. A batch that completes resets the streak.
 */
import { reasonOf } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import { PROTOCOL_VERSION, type DesiredModule, type FaultLocation, type ModuleConfig, type ModuleRunState, type ReportedModule, type ResultBatch } from '../protocol/index.js';
import type { BatchOutput, ModuleSandbox, SandboxLimits, SandboxOptions } from '../wasm-host/types.js';
import { SandboxFault } from '../wasm-host/types.js';
import { PIPELINE_DEPTH } from '../wasm-host/worker-protocol.js';
import type { BatchConsumer } from './batcher.js';
import { agentErrors } from './errors.js';
import { dropNonFinite } from './non-finite.js';
import type { VerifiedModule } from './module-verify.js';
import type { SampleBlock } from './sources/source.js';

import type { SandboxFactory } from '../wasm-host/types.js';
export type { SandboxFactory };

export interface RunnerSpec {
  readonly desired: DesiredModule;
  readonly module: VerifiedModule;
  readonly sourceId: string;
  /** Effective params: manifest defaults overlaid with the desired config. */
  readonly config: ModuleConfig;
  readonly limits: SandboxLimits;
  readonly batchCapacity: number;
}

export interface BackoffPolicy {
  readonly baseMs: number;
  readonly maxMs: number;
  readonly maxConsecutiveFaults: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 1000, maxMs: 60_000, maxConsecutiveFaults: 5 };

export interface RunnerDeps {
  readonly deviceId: string;
  readonly startSandbox: SandboxFactory;
  /** The agent's per-device result sequence; never reused, even across restarts. */
  readonly nextResultSeq: () => number;
  readonly publishResult: (batch: ResultBatch) => void;
  /** Called on every change of state, reason or fault count. */
  readonly onStateChange: () => void;
  readonly logger: Logger;
  readonly backoff?: BackoffPolicy;
}

export class ModuleRunner implements BatchConsumer {
  readonly id: string;
  readonly concurrency = PIPELINE_DEPTH;
  private sandbox: ModuleSandbox | undefined;
  private state: ModuleRunState = 'starting';
  private reason: string | undefined;
  private lastFault: string | undefined;
  /** Where the last fault happened in the author's source (debug builds only) [WF-P-T-3a]. */
  private lastFaultAt: FaultLocation | undefined;
  private faults = 0;
  private streak = 0;
  private batches = 0;
  private skippedBatches = 0;
  /** Outputs lost, by reason [WF-P-R-3]: non-finite values dropped here, batches the API refused. */
  private nonFinite = 0;
  private refused = 0;
  private lastRefusal: string | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly backoff: BackoffPolicy;
  private readonly logger: Logger;

  constructor(
    readonly spec: RunnerSpec,
    private readonly deps: RunnerDeps,
  ) {
    this.id = `${spec.desired.deploymentId}/${spec.desired.name}`;
    this.backoff = deps.backoff ?? DEFAULT_BACKOFF;
    this.logger = deps.logger.child({ module: spec.desired.name, deploymentId: spec.desired.deploymentId });
  }

  /** Resolves once the first start attempt has settled (running, or failed with a reason). */
  async start(): Promise<void> {
    this.setState('starting', undefined);
    let sandbox: ModuleSandbox;
    try {
      sandbox = await this.deps.startSandbox({
        wasm: this.spec.module.wasm,
        manifest: this.spec.module.manifest,
        config: this.spec.config,
        limits: this.spec.limits,
        batchCapacity: this.spec.batchCapacity,
        // A VerifiedModule passed the ABI check, which compiles (so validates) these very bytes.
        validSha256: this.spec.module.sha256,
        // Module traces are for whoever debugs the module, not for operators' default logs.
        onTrace: (message) => this.logger.debug('module trace', { message }),
      });
    } catch (error) {
      if (!this.stopped) this.fault(error);
      return;
    }
    if (this.stopped) {
      await closeQuietly(sandbox);
      return;
    }
    this.sandbox = sandbox;
    this.setState('running', undefined);
  }

  async process(batch: SampleBlock): Promise<void> {
    const sandbox = this.sandbox;
    if (!sandbox || this.state !== 'running') {
      this.skippedBatches += 1;
      return;
    }
    const count = batch.values.length;
    // Read before the call: the sandbox may transfer the arrays to its worker.
    const input = { source: batch.sourceId, firstSeq: batch.firstSeq, count, from: batch.timestamps[0] ?? 0, to: batch.timestamps[count - 1] ?? 0 };
    let output: BatchOutput;
    try {
      output = await sandbox.process(batch.timestamps, batch.values);
    } catch (error) {
      if (!this.stopped && this.sandbox === sandbox) this.fault(error);
      return;
    }
    // A batch that succeeded behind one that faulted belongs to a sandbox already given up.
    if (this.stopped || this.sandbox !== sandbox) return;
    this.batches += 1;
    this.streak = 0;
    // Before the seq is taken: a batch left with nothing to say is silence, not a gap [WF-P-R-2].
    const { metrics, events, nonFinite } = dropNonFinite(output.metrics.filter((metric) => metric.points.length > 0), output.events);
    if (nonFinite > 0) this.noteNonFinite(nonFinite);
    // Silence is not sent: a batch that produced nothing would only cost bandwidth and rows.
    if (metrics.length === 0 && events.length === 0 && output.dropped === 0) return;
    const { desired } = this.spec;
    this.deps.publishResult({
      v: PROTOCOL_VERSION,
      deviceId: this.deps.deviceId,
      seq: this.deps.nextResultSeq(),
      module: desired.name,
      version: desired.version,
      deploymentId: desired.deploymentId,
      input,
      metrics,
      events,
      dropped: output.dropped,
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    const sandbox = this.sandbox;
    this.sandbox = undefined;
    if (sandbox) await closeQuietly(sandbox);
  }

  /** The run state alone, without building a report. */
  get runState(): ModuleRunState {
    return this.state;
  }

  report(): ReportedModule {
    const { desired } = this.spec;
    return {
      name: desired.name,
      version: desired.version,
      sha256: desired.sha256,
      deploymentId: desired.deploymentId,
      state: this.state,
      ...(this.reason !== undefined ? { reason: this.reason.slice(0, 1000) } : {}),
      ...(this.lastFault !== undefined ? { lastFault: this.lastFault.slice(0, 1000) } : {}),
      ...(this.lastFaultAt !== undefined ? { faultAt: this.lastFaultAt } : {}),
      faults: this.faults,
      batches: this.batches,
      // [WF-P-T-3b] Said as data, so the API and the console need not read it from the reason's words.
      ...(this.isQuarantined() ? { quarantined: true as const } : {}),
      ...(this.nonFinite > 0 || this.refused > 0
        ? {
            lost: {
              ...(this.nonFinite > 0 ? { nonFinite: this.nonFinite } : {}),
              ...(this.refused > 0 ? { refused: this.refused } : {}),
              ...(this.lastRefusal !== undefined ? { lastRefusal: this.lastRefusal.slice(0, 1000) } : {}),
            },
          }
        : {}),
    };
  }

  /** The fleet API refused one of this module's batches [WF-P-NACK-1]; `why` is its reason and message. */
  noteRefused(why: string): void {
    this.refused += 1;
    this.lastRefusal = why;
    if (this.refused === 1) this.logger.warn('result batch refused by the fleet API; counted as lost', { why });
    this.deps.onStateChange();
  }

  private noteNonFinite(count: number): void {
    // Logged on the first only: a module that emits NaN tends to do it on every batch.
    if (this.nonFinite === 0) this.logger.warn('module emitted NaN or Infinity; those outputs are dropped and counted', { count });
    this.nonFinite += count;
    this.deps.onStateChange();
  }

  stats(): { skippedBatches: number; streak: number; quarantined: boolean } {
    return { skippedBatches: this.skippedBatches, streak: this.streak, quarantined: this.isQuarantined() };
  }

  private isQuarantined(): boolean {
    return this.state === 'failed' && this.restartTimer === undefined && !this.stopped;
  }

  private fault(error: unknown): void {
    const kind = error instanceof SandboxFault ? error.kind : 'crash';
    const reason = `${kind}: ${reasonOf(error)}`;
    this.lastFault = reason;
    this.lastFaultAt = error instanceof SandboxFault && error.at ? { ...error.at } : undefined;
    this.faults += 1;
    this.streak += 1;
    const sandbox = this.sandbox;
    this.sandbox = undefined;
    if (sandbox) void closeQuietly(sandbox);
    // An invalid module fails the same way every time; retrying only burns CPU.
    if (kind === 'invalid' || this.streak >= this.backoff.maxConsecutiveFaults) {
      const quarantined = agentErrors.WF_AGENT_MODULE_QUARANTINED({ name: this.spec.desired.name, version: this.spec.desired.version, faults: this.streak, reason });
      this.logger.error('module quarantined', { reason, faults: this.faults });
      this.setState('failed', quarantined.message);
      return;
    }
    const delayMs = Math.min(this.backoff.maxMs, this.backoff.baseMs * 2 ** (this.streak - 1));
    this.logger.warn('module fault; restarting', { reason, faults: this.faults, delayMs });
    this.setState('failed', reason);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (!this.stopped) void this.start();
    }, delayMs);
  }

  private setState(state: ModuleRunState, reason: string | undefined): void {
    this.state = state;
    this.reason = reason;
    this.deps.onStateChange();
  }
}

async function closeQuietly(sandbox: ModuleSandbox): Promise<void> {
  try {
    await sandbox.close();
  } catch {
    // A sandbox that faulted may already be gone; closing it again has nothing left to free.
  }
}
