/**
 * The rollout-progression job: one step of every rollout (late joiners, apply timeouts, health
 * gates, failure thresholds, next waves inside their windows). Reported states and operator
 * actions also nudge the same engine between ticks, for latency; this tick is what guarantees
 * progress, including after a restart, since every step reads its state from SQLite.
 */
import type { RolloutEngine } from '../deployments/engine.js';

export async function rolloutProgression(engine: RolloutEngine): Promise<{ dispatched: number; published: number; joined: number; aborted: number; completed: number }> {
  const summary = await engine.step();
  return { dispatched: summary.dispatched, published: summary.published, joined: summary.joined, aborted: summary.aborted.length, completed: summary.completed.length };
}
