/**
 * One step of every rollout, computed from SQLite alone so a restarted server resumes exactly
 * where it stopped: late joiners are added, devices in flight are judged (apply timeout, health
 * gate over the soak time), the failure threshold is checked (abort + automatic rollback), and
 * when a wave has settled the next one starts, inside its maintenance window and rate limit.
 * It only writes SQLite and returns the devices whose desired state must be published.
 */
import { loadProfile, type FirmwareProfile } from '../../firmware-profiles/index.js';
import type { DesiredModule } from '../../protocol/index.js';
import type { DeploymentDeviceRecord, DeploymentPlan, Store } from '../store/index.js';
import { FAILURE_STATES, type DeviceDeploymentState } from '../store/deployments.js';
import { deploymentEntry, withModuleMemo } from './create.js';
import { dispatchDevice, rollBackDevice } from './dispatch.js';
import { nextWindowOpening, openWindow, thresholdReached, waveName } from './strategy.js';
import { unreachableHubs } from '../hubs/views.js';

export interface StepOutcome {
  /** Devices whose desired state changed, per deployment. */
  publish: Map<string, string[]>;
  dispatched: number;
  judged: number;
  aborted: string[];
  completed: string[];
  joined: number;
}

const MINUTE = 60_000;
const TERMINAL = new Set(['healthy', 'failed', 'unhealthy', 'timed-out', 'rolled-back', 'cancelled', 'superseded']);

export interface StepContext {
  store: Store;
  now: number;
  profileOf: (name: string) => FirmwareProfile;
  outcome: StepOutcome;
  /** The offline hub a device is behind (its own or one above it), or null when it is reachable. */
  unreachableHub?: (deviceId: string) => string | null;
  /**
   * Since when this API has watched presence live (its start, or its link's last connect): a
   * device last heard before then is offline because we were away, not known to have dropped.
   */
  presenceSince?: number;
}

/**
 * A device behind an offline hub cannot be reached, which is not a failure (docs/federation.md):
 * its pending row keeps state `pending` with `publishedAt` null — sent, its apply timeout not
 * started — and gets `publishedAt` again, starting the timeout, when its hub is back. An applied
 * row's soak is judged once its hub is back. So a site outage neither trips the failure
 * threshold nor times its devices out, and the wave resumes where it was.
 */
function unreachableLookup(store: Store): ((deviceId: string) => string | null) | undefined {
  const offline = unreachableHubs(store);
  // None: a step need not look any device's hub up (and may take quietWave's short cut).
  if (offline.size === 0) return undefined;
  return (deviceId) => {
    const hub = store.deviceHub(deviceId);
    return hub && offline.has(hub) ? hub : null;
  };
}

function setClock(ctx: StepContext, deploymentId: string, row: DeploymentDeviceRecord, publishedAt: number | null, reason: string | null): void {
  ctx.store.setDeploymentDeviceDispatched({ deploymentId, deviceId: row.id, state: 'pending', reason, revision: row.revision, previous: row.previous, publishedAt, appliedAt: null });
}


function addPublish(ctx: StepContext, deploymentId: string, deviceId: string): void {
  const list = ctx.outcome.publish.get(deploymentId) ?? [];
  list.push(deviceId);
  ctx.outcome.publish.set(deploymentId, list);
}

/**
 * The store's joinableGeneration after the last step that looked for late joiners and committed,
 * per database connection: equal at the next step, nothing that makes a late joiner was written
 * since, and the search (every matching device against every live deployment's rows: 2-3% of the
 * API's CPU in a 10,000-device rollout, every second) is skipped.
 */
const joinersSoughtAt = new WeakMap<object, number>();

/** Devices provisioned or re-tagged since: each joins the newest live deployment of a module it matches. */
function joinLate(ctx: StepContext): void {
  for (const deployment of ctx.store.joinableDeployments()) {
    const ids = ctx.store.lateJoiners(deployment);
    if (ids.length === 0) continue;
    const afterCompletion = deployment.status === 'completed';
    // While running, latecomers ride in the last wave; after completion they form a late group.
    const wave = afterCompletion ? deployment.waves : Math.max(deployment.currentWave, deployment.waves - 1);
    for (const id of ids) {
      ctx.store.insertDeploymentDevice({ deploymentId: deployment.id, deviceId: id, module: deployment.module, state: 'waiting', reason: null, revision: 0, wave, late: afterCompletion });
    }
    ctx.outcome.joined += ids.length;
  }
}

/** Apply timeout and health gate for one device in flight; returns true if its state changed. */
function judge(ctx: StepContext, deployment: DeploymentPlan, row: DeploymentDeviceRecord): boolean {
  const strategy = deployment.strategy;
  const { store, now } = ctx;
  const offlineHub = ctx.unreachableHub?.(row.id) ?? null;
  if (row.state === 'pending') {
    if (offlineHub !== null) {
      if (row.publishedAt === null) return false;
      setClock(ctx, deployment.id, row, null, `unreachable: behind offline hub '${offlineHub}'; the apply timeout starts when it is back`);
      return true;
    }
    if (row.publishedAt === null) {
      // Its hub is back: the hub fetches the retained desired state; re-published freshly signed.
      setClock(ctx, deployment.id, row, now, null);
      addPublish(ctx, deployment.id, row.id);
      return true;
    }
    if (now - row.publishedAt > strategy.applyTimeoutSeconds * 1000) {
      const device = store.getDevice(row.id);
      const offline = device && !device.online ? ' (device offline)' : '';
      // A sent row's reason is the agent's last word on a fetch it retries (progress.ts), kept as the why.
      const last = row.reason ? ` (last: ${row.reason})` : '';
      store.setDeploymentDeviceState(deployment.id, row.id, 'timed-out', `timed out waiting for apply after ${strategy.applyTimeoutSeconds} s${offline}${last}`);
      return true;
    }
    return false;
  }
  if (row.state !== 'applied' || row.appliedAt === null) return false;
  if (offlineHub !== null) return false;
  const device = store.getDevice(row.id);
  if (!device) return false;
  const reported = device.reported?.modules.find((m) => m.name === deployment.module && m.sha256 === deployment.sha256);
  const unhealthy = (reason: string) => {
    store.setDeploymentDeviceState(deployment.id, row.id, 'unhealthy', reason);
    return true;
  };
  // Behind a hub, presence arrives relayed and late after the hub returns; the hub's own status says whether it is reachable.
  if (!device.online && store.deviceHub(row.id) == null) {
    if (awaitingReconnect(ctx, device.lastSeen, strategy.applyTimeoutSeconds)) return false;
    return unhealthy(`device went offline during the ${strategy.soakSeconds} s soak`);
  }
  if (reported && reported.state === 'failed') return unhealthy(`module failed: ${reported.reason ?? reported.lastFault ?? 'no reason given'}`);
  if (reported && reported.faults > 0) return unhealthy(`module faulted ${reported.faults}x: ${reported.lastFault ?? reported.reason ?? 'no reason given'}`);
  if (now - row.appliedAt < strategy.soakSeconds * 1000) return false;
  if (strategy.requireResults && strategy.soakSeconds > 0 && !store.resultsSince(row.id, deployment.module, deployment.version, row.appliedAt)) {
    // No result seen yet: a slow first batch, or batches lost while the API was down, is given
    // until the apply timeout before the device counts as unhealthy.
    if (now - row.appliedAt < Math.max(strategy.soakSeconds, strategy.applyTimeoutSeconds) * 1000) return false;
    return unhealthy(`no results within ${Math.max(strategy.soakSeconds, strategy.applyTimeoutSeconds)} s of apply`);
  }
  store.setDeploymentDeviceState(deployment.id, row.id, 'healthy', null);
  return true;
}

/**
 * After a restart of the API (or of its broker link) the devices reconnect over their own backoff,
 * and offline detection marks the slow ones offline meanwhile; such a device gets the apply
 * timeout, counted from the restart, to come back before its soak counts it offline.
 */
function awaitingReconnect(ctx: StepContext, lastSeen: string | null, applyTimeoutSeconds: number): boolean {
  if (ctx.presenceSince === undefined) return false;
  const heard = lastSeen === null ? 0 : Date.parse(lastSeen);
  return heard < ctx.presenceSince && ctx.now - ctx.presenceSince < applyTimeoutSeconds * 1000;
}

/** Aborts: every device this deployment reached goes back to its previous entry; the rest are cancelled. */
export function rollBackDeployment(ctx: StepContext, deployment: DeploymentPlan, status: 'aborted' | 'rolled-back', why: string): void {
  for (const row of ctx.store.deploymentDevices(deployment.id)) {
    if (row.state === 'waiting') ctx.store.setDeploymentDeviceState(deployment.id, row.id, 'cancelled', `not reached: ${why}`);
    else if ((row.publishedAt !== null || row.state === 'pending') && !['superseded', 'rolled-back', 'cancelled'].includes(row.state)) {
      if (rollBackDevice(ctx.store, deployment.id, row, why, ctx.now)) addPublish(ctx, deployment.id, row.id);
    }
  }
  ctx.store.setDeploymentStatus(deployment.id, status, why);
  if (status === 'aborted') ctx.outcome.aborted.push(deployment.id);
}

function dispatchWave(ctx: StepContext, deployment: DeploymentPlan, rows: DeploymentDeviceRecord[], wave: number, entry: DesiredModule, budget: { left: number }): number {
  const strategy = deployment.strategy;
  let sent = 0;
  for (const row of rows) {
    if (row.wave !== wave || row.state !== 'waiting') continue;
    if (budget.left <= 0) break;
    const outcome = dispatchDevice(ctx.store, deployment.id, row.id, entry, strategy.soakSeconds, ctx.profileOf, ctx.now);
    if (outcome === 'published') addPublish(ctx, deployment.id, row.id);
    if (outcome !== 'gone') {
      budget.left -= 1;
      sent += 1;
    }
  }
  ctx.outcome.dispatched += sent;
  return sent;
}

/**
 * Whether a row counts as reached for the failure threshold: sent, or pending without a send time
 * (sent to a device behind an offline hub: reached, not failed), and not taken over by a newer
 * deployment. advance() asks it of rows, quietWave() of tallied groups.
 */
function isReached(state: DeviceDeploymentState, published: boolean): boolean {
  return (published || state === 'pending') && state !== 'superseded';
}

/** The status of a wave whose devices were all sent their entry and are still settling. */
function waveWaiting(deployment: DeploymentPlan, wave: number, behind = ''): string {
  return `${waveName(wave, deployment.waves)} (${wave + 1} of ${deployment.waves}) sent; waiting for its devices to apply and pass the ${deployment.strategy.soakSeconds} s soak${behind}`;
}

/**
 * The step of a running rollout that has nothing to do, decided from one aggregate query
 * (store.waveTally) instead of reading and decoding every device row: its current wave sent, every
 * device pending within its apply timeout or settled, none soaking (applied), none behind an
 * offline hub, the threshold not reached. advance() would then only say again that the wave waits
 * for its devices; this says the same and returns true. Anything else (a device due for a verdict,
 * a wave to send or to close, a pause, hubs offline) returns false and takes the full step. At
 * 10,000 devices the full read was most of the step's cost, every second for the whole rollout.
 */
function quietWave(ctx: StepContext, deployment: DeploymentPlan): boolean {
  if (deployment.status !== 'running' || ctx.unreachableHub !== undefined) return false;
  const strategy = deployment.strategy;
  const tally = ctx.store.waveTally(deployment.id);
  let failures = 0;
  let reached = 0;
  let inWave = 0;
  let settledInWave = 0;
  let rows = 0;
  for (const group of tally) {
    rows += group.count;
    // judge() would act on these: a verdict (timeout, health gate) or a send to a hub that is back.
    if (group.state === 'applied') return false;
    if (group.state === 'pending' && (group.unsent || ctx.now - group.oldestPublishedAt! > strategy.applyTimeoutSeconds * 1000)) return false;
    if (group.late) continue;
    if (FAILURE_STATES.includes(group.state)) failures += group.count;
    if (isReached(group.state, !group.unsent)) reached += group.count;
    if (group.wave !== deployment.currentWave) continue;
    if (group.state === 'waiting') return false;
    inWave += group.count;
    if (TERMINAL.has(group.state)) settledInWave += group.count;
  }
  if (thresholdReached(strategy.failureThreshold, failures, reached)) return false;
  // An empty or settled wave moves on (next wave, completion): the full step does that.
  if (settledInWave === inWave) return false;
  ctx.outcome.judged += rows;
  const wave = deployment.currentWave;
  ctx.store.setDeploymentWave(deployment.id, wave, waveWaiting(deployment, wave));
  return true;
}

/** Progresses one deployment: judge, threshold, gate, next wave. */
function advance(ctx: StepContext, deployment: DeploymentPlan): void {
  if (quietWave(ctx, deployment)) return;
  const { store, now } = ctx;
  const strategy = deployment.strategy;
  let rows = store.deploymentDevices(deployment.id);
  let changed = false;
  for (const row of rows) if ((row.state === 'pending' || row.state === 'applied') && judge(ctx, deployment, row)) changed = true;
  if (changed) rows = store.deploymentDevices(deployment.id);
  ctx.outcome.judged += rows.length;
  if (deployment.status !== 'running' && deployment.status !== 'paused') {
    // Finished rollouts still send late joiners their entry (inside the window), with no gate.
    if (deployment.status === 'completed' && rows.some((r) => r.state === 'waiting') && openWindow(strategy.window, now)) {
      const entry = deploymentEntry(store, deployment);
      if (entry) dispatchWave(ctx, deployment, rows, deployment.waves, entry, { left: Number.POSITIVE_INFINITY });
    }
    return;
  }

  const counted = rows.filter((r) => !r.late);
  const failures = counted.filter((r) => FAILURE_STATES.includes(r.state)).length;
  const reached = counted.filter((r) => isReached(r.state, r.publishedAt !== null)).length;
  if (thresholdReached(strategy.failureThreshold, failures, reached)) {
    const examples = counted.filter((r) => FAILURE_STATES.includes(r.state)).slice(0, 3).map((r) => `${r.id}: ${r.reason}`);
    rollBackDeployment(ctx, deployment, 'aborted', `failure threshold ${strategy.failureThreshold} reached: ${failures} of ${reached} devices reached failed (${examples.join('; ')})`);
    return;
  }
  if (deployment.status === 'paused') return;

  let wave = deployment.currentWave;
  for (;;) {
    const inWave = counted.filter((r) => r.wave === wave);
    const waiting = inWave.some((r) => r.state === 'waiting');
    if (waiting) {
      const window = openWindow(strategy.window, now);
      if (!window) {
        const next = nextWindowOpening(strategy.window!, now);
        store.setDeploymentWave(deployment.id, wave, `${waveName(wave, deployment.waves)} (${wave + 1} of ${deployment.waves}) waits for the maintenance window${next ? ` opening at ${new Date(next).toISOString()}` : ''}`);
        return;
      }
      const entry = deploymentEntry(store, deployment);
      if (!entry) {
        rollBackDeployment(ctx, deployment, 'aborted', `module ${deployment.module}@${deployment.version} no longer exists`);
        return;
      }
      const recent = rows.filter((r) => r.publishedAt !== null && now - r.publishedAt < MINUTE).length;
      const budget = { left: strategy.ratePerMinute === 0 ? Number.POSITIVE_INFINITY : strategy.ratePerMinute - recent };
      dispatchWave(ctx, deployment, counted, wave, entry, budget);
      store.setDeploymentWave(deployment.id, wave, `${waveName(wave, deployment.waves)} (${wave + 1} of ${deployment.waves}) being sent`);
      return;
    }
    if (!inWave.every((r) => TERMINAL.has(r.state))) {
      const unreachable = inWave.filter((r) => r.state === 'pending' && r.publishedAt === null).length;
      const behind = unreachable > 0 ? ` (${unreachable} behind offline hubs wait for them to return)` : '';
      store.setDeploymentWave(deployment.id, wave, waveWaiting(deployment, wave, behind));
      return;
    }
    if (wave + 1 >= deployment.waves) {
      const allSuperseded = counted.length > 0 && counted.every((r) => r.state === 'superseded');
      store.setDeploymentWave(deployment.id, wave, null);
      store.setDeploymentStatus(deployment.id, allSuperseded ? 'superseded' : 'completed', allSuperseded ? 'every device was taken over by a newer deployment' : `${failures} of ${reached} devices failed`);
      ctx.outcome.completed.push(deployment.id);
      return;
    }
    wave += 1;
    store.setDeploymentWave(deployment.id, wave, `${waveName(wave, deployment.waves)} (${wave + 1} of ${deployment.waves}) starting`);
  }
}

export function newOutcome(): StepOutcome {
  return { publish: new Map(), dispatched: 0, judged: 0, aborted: [], completed: [], joined: 0 };
}

/** One synchronous step over every rollout, in one transaction. */
export function stepRollouts(
  store: Store,
  now: number = Date.now(),
  profiles: (name: string) => FirmwareProfile = loadProfile,
  presenceSince?: number,
): StepOutcome {
  const cache = new Map<string, FirmwareProfile>();
  const profileOf = (name: string) => {
    let profile = cache.get(name);
    if (!profile) cache.set(name, (profile = profiles(name)));
    return profile;
  };
  const ctx: StepContext = { store, now, profileOf, outcome: newOutcome(), unreachableHub: unreachableLookup(store), presenceSince };
  const generation = store.joinableGeneration();
  const seekJoiners = joinersSoughtAt.get(store.db) !== generation;
  store.transaction(() => {
    ctx.store = withModuleMemo(store);
    if (seekJoiners) joinLate(ctx);
    for (const deployment of store.progressingDeployments()) advance(ctx, deployment);
  });
  // Only once committed: a step that threw rolled its joiners back, and the next one seeks again.
  if (seekJoiners) joinersSoughtAt.set(store.db, generation);
  return ctx.outcome;
}
