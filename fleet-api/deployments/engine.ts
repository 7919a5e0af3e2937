/**
 * Runs rollout steps one at a time and publishes what they changed through the link's one
 * desired-state path. The `rollout-progression` job calls `step()` on its schedule; events that
 * can move a rollout (a reported state, a new device, an operator action) call `nudge()`, which
 * runs a step soon, so progress does not wait for the next cron tick.
 */
import type { Logger } from '../../common/logger.js';
import { apiErrors } from '../errors.js';
import type { MqttLink } from '../mqtt-link.js';
import type { DeploymentStatus, Store } from '../store/index.js';
import { newOutcome, rollBackDeployment, stepRollouts, type StepContext, type StepOutcome } from './rollout.js';
import { loadProfile } from '../../firmware-profiles/index.js';

export type ControlAction = 'pause' | 'resume' | 'cancel' | 'rollback';

export interface StepSummary {
  dispatched: number;
  published: number;
  joined: number;
  aborted: string[];
  completed: string[];
}

export interface RolloutEngine {
  /** One step now (after any step in progress); resolves once its publishes are acknowledged. */
  step(): Promise<StepSummary & { acked: Map<string, number> }>;
  /** A step soon, coalesced with other nudges. */
  nudge(): void;
  control(id: string, action: ControlAction): Promise<void>;
  stop(): Promise<void>;
}

const NUDGE_DELAY_MS = 20;
/**
 * A nudged step waits at least this many times the last step's own time, so steps take at most
 * about 1/(1+NUDGE_SPACING) of the event loop however often they are nudged. A step reads every
 * row of each live rollout (tens of milliseconds at 10,000 devices), and while a rollout's
 * devices report, a nudge arrives every few milliseconds: back to back, the steps starved the
 * reports that move the rollout.
 */
const NUDGE_SPACING = 3;
/**
 * Desired states a step signs and hands to the link per event-loop turn. Each costs a signature and
 * a publish; the first step of a 10,000-device rollout started them all in one turn, seconds in
 * which the API read nothing of what the fleet sent it.
 */
const PUBLISHES_PER_TURN = 250;

/** `changed` runs after every step and control has written SQLite (the event bus's rollout observer). */
export function createRolloutEngine(
  store: Store,
  link: Pick<MqttLink, 'publishDesired'> & Partial<Pick<MqttLink, 'connectedSince'>>,
  logger: Logger,
  hooks: { changed?(): void } = {},
): RolloutEngine {
  const startedAt = Date.now();
  let chain: Promise<unknown> = Promise.resolve();
  let nudgeTimer: NodeJS.Timeout | undefined;
  let stopped = false;
  let lastStepMs = 0;

  const publish = async (outcome: StepOutcome): Promise<Map<string, number>> => {
    hooks.changed?.();
    const acked = new Map<string, number>();
    await Promise.all(
      [...outcome.publish].map(async ([deploymentId, ids]) => {
        const sends: Array<Promise<boolean>> = [];
        for (let i = 0; i < ids.length; i += PUBLISHES_PER_TURN) {
          if (i > 0) await new Promise((resolve) => setImmediate(resolve));
          for (const id of ids.slice(i, i + PUBLISHES_PER_TURN)) sends.push(link.publishDesired(id));
        }
        const acks = await Promise.all(sends);
        acked.set(deploymentId, acks.filter(Boolean).length);
      }),
    );
    for (const id of outcome.aborted) logger.warn('rollout aborted; reached devices rolled back', { deploymentId: id, reason: store.getDeployment(id)?.statusReason });
    for (const id of outcome.completed) logger.info('rollout finished', { deploymentId: id, status: store.getDeployment(id)?.status });
    return acked;
  };

  const serial = <T>(task: () => Promise<T>): Promise<T> => {
    const next = chain.then(task, task);
    chain = next.catch(() => undefined);
    return next;
  };

  const runStep = async () => {
    if (stopped || !store.open) return { dispatched: 0, published: 0, joined: 0, aborted: [], completed: [], acked: new Map<string, number>() };
    const began = performance.now();
    const outcome = stepRollouts(store, Date.now(), loadProfile, Math.max(startedAt, link.connectedSince ?? 0));
    lastStepMs = performance.now() - began;
    const acked = await publish(outcome);
    const published = [...outcome.publish.values()].reduce((n, ids) => n + ids.length, 0);
    return { dispatched: outcome.dispatched, published, joined: outcome.joined, aborted: outcome.aborted, completed: outcome.completed, acked };
  };
  const step = () => serial(runStep);
  // A nudged step queued behind another (one waiting for its publishes' PUBACKs) reads SQLite when
  // it starts, so it covers every nudge until then: one is queued at a time, not one per nudge.
  let nudgeQueued = false;

  const transitions: Record<ControlAction, { from: DeploymentStatus[]; to: DeploymentStatus }> = {
    pause: { from: ['running'], to: 'paused' },
    resume: { from: ['paused'], to: 'running' },
    cancel: { from: ['running', 'paused'], to: 'cancelled' },
    rollback: { from: ['running', 'paused', 'completed', 'aborted', 'cancelled'], to: 'rolled-back' },
  };

  return {
    step,
    nudge() {
      if (stopped) return;
      if (nudgeQueued) return;
      nudgeTimer ??= setTimeout(() => {
        nudgeTimer = undefined;
        nudgeQueued = true;
        serial(() => {
          nudgeQueued = false;
          return runStep();
        }).catch((error) => logger.error('rollout step failed', { error }));
      }, Math.max(NUDGE_DELAY_MS, NUDGE_SPACING * lastStepMs));
    },
    control: (id, action) =>
      serial(async () => {
        const deployment = store.getDeployment(id);
        if (!deployment) throw apiErrors.WF_API_NOT_FOUND({ kind: 'deployment', id, field: 'params/id' });
        const rule = transitions[action];
        if (!rule.from.includes(deployment.status)) {
          throw apiErrors.WF_API_CONFLICT({ reason: `cannot ${action} deployment '${id}' while it is ${deployment.status}`, field: 'params/id' });
        }
        const ctx: StepContext = { store, now: Date.now(), profileOf: loadProfile, outcome: newOutcome() };
        store.transaction(() => {
          if (action === 'rollback') rollBackDeployment(ctx, deployment, 'rolled-back', 'rolled back by an operator');
          else if (action === 'cancel') {
            for (const row of deployment.devices) if (row.state === 'waiting') store.setDeploymentDeviceState(id, row.id, 'cancelled', 'not reached: cancelled by an operator');
            store.setDeploymentStatus(id, 'cancelled', 'cancelled by an operator; devices already reached keep this version');
          } else store.setDeploymentStatus(id, rule.to, action === 'pause' ? 'paused by an operator' : 'resumed by an operator');
        });
        await publish(ctx.outcome);
        logger.info('deployment control', { deploymentId: id, action, status: rule.to });
      }).then(() => {
        if (action === 'resume') void step();
      }),
    async stop() {
      stopped = true;
      clearTimeout(nudgeTimer);
      await chain;
    },
  };
}
