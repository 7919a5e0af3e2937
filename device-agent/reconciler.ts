/**
 * Converges the running modules to a DesiredState [WF-P-T-2], like a device twin: the API
 * decides, this applies and reports. Applies run one at a time; a desired state that arrives
 * mid-apply waits and only the newest waiting one is applied. Equal revision is a no-op and a
 * lower one is refused as stale [WF-P-DS-1]. Unchanged modules keep running untouched; changed
 * ones (hash, config, input or limits) are stopped and started again; absent ones are stopped.
 */
import { reasonOf } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import { moduleFitProblem, type FirmwareProfile } from '../firmware-profiles/index.js';
import { configProblem, effectiveConfig, grantLimits, type DesiredModule, type DesiredState, type ReportedModule } from '../protocol/index.js';
import type { BatchConsumer } from './batcher.js';
import { agentErrors } from './errors.js';
import { ModuleRunner, type RunnerDeps, type SandboxFactory } from './module-runner.js';
import type { VerifiedModule } from './module-verify.js';
import { DEFAULT_FETCH_RETRY, FetchRetryTimer, fetchFailureKind } from './fetch-retry.js';
import { awaitsRefetch, isChanged, reportSlot, slotKey, type Slot } from './module-slot.js';
import type { BackoffBounds } from './reconnect-backoff.js';

export interface ReportedError {
  readonly code: string;
  readonly message: string;
}

export interface ReconcilerDeps {
  readonly deviceId: string;
  readonly profile: FirmwareProfile;
  readonly fetchModule: (desired: DesiredModule) => Promise<VerifiedModule>;
  readonly startSandbox: SandboxFactory;
  /** Binds a module to its source's batches; returns the unbinding. */
  readonly attach: (sourceId: string, consumer: BatchConsumer) => () => void;
  readonly nextResultSeq: RunnerDeps['nextResultSeq'];
  readonly publishResult: RunnerDeps['publishResult'];
  readonly backoff?: RunnerDeps['backoff'];
  /** Something reportable changed (module state, errors); the agent debounces the publish. */
  readonly onChange: () => void;
  /** A desired state was applied (or refused): the reported state should go out now. */
  readonly onApplied: (revision: number) => void;
  /** A desired state from the broker was applied (null: cleared); the agent persists it. */
  readonly onCommitted?: (revision: number, state: DesiredState | null) => void;
  /** How long a module whose fetch failed waits for its next try, growing per failed try. */
  readonly fetchRetry?: BackoffBounds;
  readonly logger: Logger;
}

/** Reported errors kept; the schema allows 16. */
const MAX_ERRORS = 16;

type Submission = { state: DesiredState | null; fromDisk?: boolean; onDone?: () => void };

export class Reconciler {
  private slots = new Map<string, Slot>();
  private applied = 0;
  /** False after an empty desired state, so the same revision published again is applied. */
  private hasDesired = false;
  private errorList: ReportedError[] = [];
  private waiting: Submission | undefined;
  private loop: Promise<void> | undefined;
  private stopped = false;
  /** The applied state came from disk and the broker has not confirmed it yet. */
  private fromDisk = false;
  /** When it fires, the loop retries the fetches worth another try, if no desired state waits. */
  private readonly fetchRetry: FetchRetryTimer;

  constructor(private readonly deps: ReconcilerDeps) {
    this.fetchRetry = new FetchRetryTimer(deps.fetchRetry ?? DEFAULT_FETCH_RETRY, () => {
      if (!this.stopped) void this.kick();
    });
  }

  get appliedRevision(): number {
    return this.applied;
  }

  modules(): ReportedModule[] {
    return [...this.slots.values()].map(reportSlot);
  }

  /** How many modules the applied state holds and how many run, without building their reports. */
  moduleCounts(): { modules: number; running: number } {
    let running = 0;
    for (const slot of this.slots.values()) if (slot.runner && slot.failure === undefined && slot.runner.runState === 'running') running += 1;
    return { modules: this.slots.size, running };
  }

  errors(): ReportedError[] {
    return [...this.errorList];
  }

  /**
   * Counts a batch the fleet API refused on the module that produced it [WF-P-NACK-1]; false when
   * that module no longer runs here (the device-wide count in the spool report still has it).
   */
  noteRefused(module: string, deploymentId: string, why: string): boolean {
    for (const slot of this.slots.values()) {
      if (slot.runner && slot.desired.name === module && slot.desired.deploymentId === deploymentId) {
        slot.runner.noteRefused(why);
        return true;
      }
    }
    return false;
  }

  /** Queues a desired state (null: none, stop everything); resolves when the queue is drained. */
  submit(state: DesiredState | null): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (state && state.deviceId !== this.deps.deviceId) {
      this.addError(agentErrors.WF_AGENT_DESIRED_OTHER_DEVICE({ other: state.deviceId, deviceId: this.deps.deviceId }));
      this.deps.onApplied(this.applied);
      return this.loop ?? Promise.resolve();
    }
    const pending = this.waiting?.state;
    if (state && pending && state.revision <= pending.revision) {
      // Older than what already waits: applying it in between would only flap the modules.
      if (state.revision < pending.revision) this.refuseStale(state.revision, pending.revision);
    } else {
      this.waiting = { state };
    }
    return this.kick();
  }

  /** Runs the apply loop unless it runs already; resolves when it has drained. */
  private kick(): Promise<void> {
    this.loop ??= this.drain().finally(() => {
      this.loop = undefined;
    });
    return this.loop;
  }

  /**
   * Resumes the state persisted by the last run, before any broker is reachable. Its revision is
   * the stale floor from now on; a cleared state (null) only restores that floor.
   */
  resume(revision: number, state: DesiredState | null): Promise<void> {
    if (state === null) {
      this.applied = Math.max(this.applied, revision);
      return Promise.resolve();
    }
    // Resolves when this state is applied, not when the queue drains: the broker may queue more.
    return new Promise<void>((resolve) => {
      this.waiting = { state, fromDisk: true, onDone: resolve };
      void this.kick();
    });
  }

  /** Stops every module and refuses further submissions. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.waiting = undefined;
    this.fetchRetry.reset();
    await this.loop?.catch(() => undefined);
    await this.stopSlots([...this.slots.values()]);
    this.slots.clear();
  }

  private async drain(): Promise<void> {
    while (!this.stopped) {
      const next = this.waiting;
      if (next) {
        this.waiting = undefined;
        try {
          await this.applyOne(next.state, next.fromDisk === true);
        } catch (error) {
          this.deps.logger.error('desired state apply failed', { error: reasonOf(error) });
        } finally {
          next.onDone?.();
        }
      } else if (this.fetchRetry.takeDue()) {
        await this.retryFailedFetches();
      } else {
        break;
      }
      // Armed while a slot of the applied state waits for its fetch's retry; disarmed otherwise.
      this.fetchRetry.update(!this.stopped && [...this.slots.values()].some(awaitsRefetch));
    }
  }

  private async applyOne(state: DesiredState | null, fromDisk: boolean): Promise<void> {
    const log = this.deps.logger;
    if (state === null) {
      this.fromDisk = false;
      log.info('no desired state: stopping all modules', { modules: this.slots.size });
      const old = [...this.slots.values()];
      this.slots = new Map();
      this.hasDesired = false;
      await this.stopSlots(old);
      this.deps.onCommitted?.(this.applied, null);
      this.deps.onApplied(this.applied);
      return;
    }
    // Resumed from disk, a module whose cache entry was missing or corrupt could not start
    // offline; the broker's copy of the same revision is its one chance to be fetched again.
    const retry = this.fromDisk && !fromDisk && [...this.slots.values()].some((slot) => slot.failure !== undefined || awaitsRefetch(slot));
    if (state.revision === this.applied && this.hasDesired && !retry) {
      log.debug('desired state already applied', { revision: state.revision });
      if (!fromDisk) {
        this.fromDisk = false;
        // The broker delivers the retained state again after a reconnect: the one moment a fetch
        // that failed with the link can succeed. Only those slots are retried, from their own entry.
        await this.retryFailedFetches();
      }
      return;
    }
    if (state.revision < this.applied) {
      this.refuseStale(state.revision, this.applied);
      this.deps.onApplied(this.applied);
      return;
    }
    const next = this.plan(state);
    const removed = [...this.slots.values()].filter((slot) => next.get(slot.key) !== slot);
    const added = [...next.values()].filter((slot) => this.slots.get(slot.key) !== slot);
    log.info('applying desired state', { revision: state.revision, start: added.length, stop: removed.length, keep: next.size - added.length });
    this.slots = next;
    this.fetchRetry.reset();
    this.deps.onChange();
    await this.stopSlots(removed);
    await Promise.all(added.map((slot) => this.startSlot(slot)));
    if (this.stopped) return;
    this.applied = state.revision;
    this.hasDesired = true;
    this.fromDisk = fromDisk;
    this.errorList = [];
    log.info(fromDisk ? 'desired state resumed from disk' : 'desired state applied', { revision: state.revision, modules: this.modules().map((m) => `${m.name}:${m.state}`) });
    if (!fromDisk) this.deps.onCommitted?.(this.applied, state);
    this.deps.onApplied(this.applied);
  }

  /** The slots of the new state: unchanged ones carried over, the rest new. */
  private plan(state: DesiredState): Map<string, Slot> {
    const { profile } = this.deps;
    const next = new Map<string, Slot>();
    let admitted = 0;
    for (const desired of state.modules) {
      const key = slotKey(desired);
      if (next.has(key)) {
        // A second entry under the same key would collide in results; it is reported, not run.
        const dupKey = `${key}#${next.size}`;
        next.set(dupKey, { key: dupKey, desired, failure: agentErrors.WF_AGENT_DUPLICATE_MODULE({ ...desired }).message });
        continue;
      }
      if (admitted >= profile.moduleLimits.maxModules) {
        next.set(key, { key, desired, failure: agentErrors.WF_AGENT_TOO_MANY_MODULES({ name: desired.name, version: desired.version, profile: profile.name, max: profile.moduleLimits.maxModules }).message });
        continue;
      }
      admitted += 1;
      const current = this.slots.get(key);
      // A quarantined module gets a fresh start from any new revision, even if its entry is unchanged.
      const keep = current && current.failure === undefined && !awaitsRefetch(current) && !current.runner?.stats().quarantined && !isChanged(current.desired, desired);
      next.set(key, keep ? current : { key, desired });
    }
    return next;
  }

  private async startSlot(slot: Slot): Promise<void> {
    if (slot.failure !== undefined) return;
    const { desired } = slot;
    const { profile } = this.deps;
    const sourceId = desired.input ?? profile.sources[0]!.id;
    if (!profile.sources.some((source) => source.id === sourceId)) {
      this.fail(slot, agentErrors.WF_AGENT_UNKNOWN_SOURCE({ name: desired.name, version: desired.version, source: sourceId, profile: profile.name, known: profile.sources.map((s) => s.id).join(', ') }).message);
      return;
    }
    let module: VerifiedModule;
    try {
      module = await this.deps.fetchModule(desired);
    } catch (error) {
      const kind = fetchFailureKind(error);
      if (kind === 'retry') this.postpone(slot, reasonOf(error));
      else this.fail(slot, reasonOf(error), kind === 'refetch');
      return;
    }
    slot.retrying = undefined;
    slot.unverified = undefined;
    const problem = configProblem(module.manifest, desired.config);
    if (problem !== undefined) {
      this.fail(slot, agentErrors.WF_AGENT_MODULE_CONFIG_INVALID({ name: desired.name, version: desired.version, reason: problem }).message);
      return;
    }
    // Before instantiating: a module this hardware cannot run is refused once, with the reason.
    const alongside = [...this.slots.values()].flatMap((other) => (other !== slot && other.runner && other.grantedPages !== undefined ? [other.grantedPages] : []));
    const unfit = moduleFitProblem(profile, { manifest: module.manifest, wasm: module.wasm, ...(desired.limits ? { limits: desired.limits } : {}), input: sourceId, alongside });
    if (unfit !== undefined) {
      this.fail(slot, agentErrors.WF_AGENT_MODULE_UNFIT({ name: desired.name, version: desired.version, profile: profile.name, reason: unfit }).message);
      return;
    }
    if (this.slots.get(slot.key) !== slot || this.stopped) return;
    const runner = new ModuleRunner(
      {
        desired,
        module,
        sourceId,
        config: effectiveConfig(module.manifest, desired.config),
        limits: grantLimits(profile.moduleLimits, module.manifest.limits, desired.limits),
        batchCapacity: profile.batch.maxSamples,
      },
      {
        deviceId: this.deps.deviceId,
        startSandbox: this.deps.startSandbox,
        nextResultSeq: this.deps.nextResultSeq,
        publishResult: this.deps.publishResult,
        onStateChange: this.deps.onChange,
        logger: this.deps.logger,
        ...(this.deps.backoff ? { backoff: this.deps.backoff } : {}),
      },
    );
    slot.runner = runner;
    slot.grantedPages = runner.spec.limits.memoryPages;
    await runner.start();
    if (this.slots.get(slot.key) !== slot || this.stopped) {
      await runner.stop();
      return;
    }
    slot.detach = this.deps.attach(sourceId, runner);
  }

  private async retryFailedFetches(): Promise<void> {
    const failed = [...this.slots.values()].filter(awaitsRefetch);
    if (failed.length === 0) return;
    this.deps.logger.info('retrying module fetches that failed', { modules: failed.map((slot) => slot.desired.name) });
    // The last try's reason stays reported until this try ends, so the module does not flap.
    const fresh = failed.map((slot): Slot => ({
      key: slot.key,
      desired: slot.desired,
      ...(slot.retrying !== undefined ? { retrying: slot.retrying } : {}),
      ...(slot.unverified !== undefined ? { unverified: slot.unverified } : {}),
    }));
    for (const slot of fresh) this.slots.set(slot.key, slot);
    this.deps.onChange();
    await Promise.all(fresh.map((slot) => this.startSlot(slot)));
    this.deps.onApplied(this.applied);
  }

  /** A fetch failed for a reason worth another try: still `starting`, with why [WF-P-T-3c]. */
  private postpone(slot: Slot, reason: string): void {
    this.deps.logger.warn('module not started', { module: slot.desired.name, deploymentId: slot.desired.deploymentId, reason, retrying: true });
    slot.retrying = reason;
    this.deps.onChange();
  }

  /** `refetch`: what arrived did not verify; failed, and fetched again with the retries. */
  private fail(slot: Slot, reason: string, refetch = false): void {
    this.deps.logger.warn('module not started', { module: slot.desired.name, deploymentId: slot.desired.deploymentId, reason, ...(refetch ? { refetching: true } : {}) });
    slot.retrying = undefined;
    slot.unverified = undefined;
    if (refetch) slot.unverified = reason;
    else slot.failure = reason;
    this.deps.onChange();
  }

  private async stopSlots(slots: Slot[]): Promise<void> {
    await Promise.all(
      slots.map(async (slot) => {
        slot.detach?.();
        slot.detach = undefined;
        await slot.runner?.stop();
      }),
    );
  }

  private refuseStale(revision: number, applied: number): void {
    this.deps.logger.warn('stale desired state refused', { revision, applied });
    this.addError(agentErrors.WF_AGENT_DESIRED_STALE({ revision, applied }));
  }

  private addError(error: { code: string; message: string }): void {
    this.errorList.push({ code: error.code, message: error.message.slice(0, 1000) });
    if (this.errorList.length > MAX_ERRORS) this.errorList.splice(0, this.errorList.length - MAX_ERRORS);
    this.deps.onChange();
  }

  /** Records a problem not tied to a module (e.g. a malformed desired payload). */
  reportError(error: { code: string; message: string }): void {
    this.addError(error);
  }
}
