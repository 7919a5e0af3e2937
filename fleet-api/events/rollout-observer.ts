/**
 * Rollout progress as events. Rollout state lives in SQLite and is written by several paths
 * (the engine's steps, operator controls, reported states), so rather than hooking each write the
 * observer compares SQLite with what it last saw, after every engine step and control: new and
 * changed deployment statuses, waves started, and device rows changed since its watermark.
 */
import { waveName } from '../deployments/strategy.js';
import type { Store } from '../store/index.js';
import type { EventBus } from './bus.js';

export interface RolloutObserver {
  /** Publishes what changed since the last call. */
  observe(): void;
}

const LIVE = new Set(['running', 'paused']);

export function createRolloutObserver(store: Store, bus: EventBus, now: () => number = Date.now): RolloutObserver {
  const seen = new Map<string, { status: string; wave: number }>();
  // Rows updated at exactly the watermark were already published if their key is here.
  let watermark = new Date(now()).toISOString();
  let atWatermark = new Set<string>();
  for (const head of store.deploymentHeads([])) seen.set(head.id, { status: head.status, wave: head.currentWave });

  const publishWave = (deploymentId: string, wave: number, waves: number) =>
    bus.publish('rollout.wave', { deploymentId, wave, name: waveName(wave, waves), size: store.waveSize(deploymentId, wave) }, { deploymentId });
  const publishStatus = (deploymentId: string, status: string, reason: string | null) =>
    bus.publish('rollout.status', { deploymentId, status, reason }, { deploymentId });

  return {
    observe() {
      if (!store.open) return;
      const heads = store.deploymentHeads([...seen.keys()]);
      const statusChanged: typeof heads = [];
      for (const head of heads) {
        const before = seen.get(head.id);
        if (!before) {
          publishStatus(head.id, head.status, head.statusReason);
          for (let wave = 0; wave <= head.currentWave && wave < head.waves; wave += 1) publishWave(head.id, wave, head.waves);
        } else {
          for (let wave = before.wave + 1; wave <= head.currentWave && wave < head.waves; wave += 1) publishWave(head.id, wave, head.waves);
          if (before.status !== head.status) statusChanged.push(head);
        }
        if (LIVE.has(head.status)) seen.set(head.id, { status: head.status, wave: head.currentWave });
        else seen.delete(head.id);
      }
      const changes = store.deploymentDeviceChangesSince(watermark);
      const next = new Set<string>();
      let newest = watermark;
      for (const change of changes) {
        const key = `${change.deploymentId}\u0000${change.deviceId}\u0000${change.state}\u0000${change.reason ?? ''}`;
        if (change.updatedAt > newest) {
          newest = change.updatedAt;
          next.clear();
        }
        if (change.updatedAt === newest) next.add(key);
        if (change.updatedAt === watermark && atWatermark.has(key)) continue;
        bus.publish(
          'rollout.device',
          { deploymentId: change.deploymentId, deviceId: change.deviceId, wave: change.wave, state: change.state, reason: change.reason },
          { deviceId: change.deviceId, deploymentId: change.deploymentId },
        );
      }
      if (newest === watermark) for (const key of next) atWatermark.add(key);
      else atWatermark = next;
      watermark = newest;
      for (const head of statusChanged) publishStatus(head.id, head.status, head.statusReason);
    },
  };
}
