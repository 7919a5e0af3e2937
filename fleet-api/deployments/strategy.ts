/**
 * A deployment's rollout strategy: its schema with the defaults in one place, the wave plan, and
 * the maintenance window. The defaults make a plain deploy safe: one canary slice first, waves
 * that double, each gated on health for a soak time, and an abort with automatic rollback when
 * a tenth of the devices reached so far fail (docs/rollouts.md explains each choice).
 */
import { Type, type Static } from '@sinclair/typebox';
import cron from 'node-cron';
import { withDefaults, describeProblems } from '../../common/validate.js';
import { apiErrors } from '../errors.js';

/** A count ("3" or 3) or a percentage ("10%") of the targeted devices. */
export const CountOrPercent = Type.Union([Type.Integer({ minimum: 0, maximum: 1_000_000 }), Type.String({ pattern: '^(100|[0-9]{1,2})(\\.[0-9]{1,3})?%$' })], {
  description: 'a device count, or a percentage such as "10%"',
});

export const WindowSchema = Type.Object(
  {
    cron: Type.String({ minLength: 9, maxLength: 100, description: '5-field cron expression (minute hour day month weekday, UTC): when the window opens' }),
    durationMinutes: Type.Integer({ minimum: 1, maximum: 10_080, description: 'how long the window stays open' }),
  },
  { additionalProperties: false },
);

export const StrategySchema = Type.Object(
  {
    canary: Type.Optional(Type.Union([CountOrPercent], { default: '5%', description: 'first wave; 0 means no canary: one wave of every device' })),
    waveGrowth: Type.Number({ minimum: 1, maximum: 100, default: 2, description: 'each wave is this many times the previous one' }),
    ratePerMinute: Type.Integer({ minimum: 0, maximum: 1_000_000, default: 1000, description: 'devices sent their new desired state per minute at most; 0: unthrottled' }),
    soakSeconds: Type.Integer({ minimum: 0, maximum: 86_400, default: 60, description: 'how long each device must stay applied and healthy' }),
    applyTimeoutSeconds: Type.Integer({ minimum: 1, maximum: 86_400, default: 300, description: 'from sending to applied; past it the device timed out' }),
    failureThreshold: Type.Optional(Type.Union([CountOrPercent], { default: '10%', description: 'failed + unhealthy + timed-out devices that abort the rollout' })),
    requireResults: Type.Boolean({ default: true, description: 'healthy also means at least one result batch during the soak' }),
    window: Type.Optional(WindowSchema),
  },
  { additionalProperties: false },
);

export type StrategyInput = Partial<Static<typeof StrategySchema>>;
export interface Strategy {
  canary: number | string;
  waveGrowth: number;
  ratePerMinute: number;
  soakSeconds: number;
  applyTimeoutSeconds: number;
  failureThreshold: number | string;
  requireResults: boolean;
  window?: { cron: string; durationMinutes: number };
}

/** Fills defaults and checks what the schema cannot (the cron expression). */
export function resolveStrategy(input: StrategyInput | undefined): Strategy {
  const result = withDefaults(StrategySchema, input ?? {});
  if (!result.ok) {
    const problem = result.problems[0];
    throw apiErrors.WF_API_VALIDATION({ field: `body/strategy${problem?.field ? '/' + problem.field.replace(/^\//, '') : ''}`, reason: describeProblems(result.problems) });
  }
  const value = result.value as Strategy;
  value.canary ??= '5%';
  value.failureThreshold ??= '10%';
  if (value.window) {
    const fields = value.window.cron.trim().split(/\s+/);
    if (fields.length !== 5 || !cron.validate(value.window.cron)) {
      throw apiErrors.WF_API_VALIDATION({ field: 'body/strategy/window/cron', reason: `'${value.window.cron}' is not a 5-field cron expression` });
    }
  }
  return value;
}

/** "10%" of n, rounded up; a plain count is taken as is. */
export function amountOf(spec: number | string, n: number): number {
  if (typeof spec === 'number') return spec;
  if (spec.endsWith('%')) return Math.ceil((Number.parseFloat(spec) / 100) * n);
  return Number.parseInt(spec, 10);
}

/** Wave sizes for n devices: the canary, then each wave `growth` times the previous, the last takes the rest. */
export function planWaves(strategy: Pick<Strategy, 'canary' | 'waveGrowth'>, n: number): number[] {
  if (n === 0) return [];
  const canary = Math.min(n, amountOf(strategy.canary, n));
  if (canary <= 0 || canary >= n) return [n];
  const sizes = [canary];
  let placed = canary;
  let size = canary;
  while (placed < n) {
    size = Math.ceil(size * strategy.waveGrowth);
    const next = Math.min(size, n - placed);
    sizes.push(next);
    placed += next;
  }
  return sizes;
}

/** True when failures reach the threshold: a count, or a share of the devices reached so far. */
export function thresholdReached(threshold: number | string, failures: number, reached: number): boolean {
  if (failures === 0) return false;
  if (typeof threshold === 'number') return failures >= Math.max(1, threshold);
  const percent = Number.parseFloat(threshold);
  return (failures * 100) / Math.max(1, reached) >= percent;
}

const MINUTE = 60_000;

/**
 * The window that contains `now`, if any: it opened at a minute the cron expression matches,
 * at most durationMinutes ago. node-cron's own matcher decides what matches (UTC).
 */
export function openWindow(window: Strategy['window'], now: number): { openedAt: number; closesAt: number } | null {
  if (!window) return { openedAt: now, closesAt: Number.POSITIVE_INFINITY };
  const task = cron.createTask(window.cron, () => undefined, { timezone: 'Etc/UTC' });
  try {
    const minute = Math.floor(now / MINUTE) * MINUTE;
    for (let back = 0; back < window.durationMinutes; back += 1) {
      const at = minute - back * MINUTE;
      if (task.match(new Date(at))) return { openedAt: at, closesAt: at + window.durationMinutes * MINUTE };
    }
    return null;
  } finally {
    void task.destroy();
  }
}

/** When the window next opens after `now` (null if not within eight days). */
export function nextWindowOpening(window: NonNullable<Strategy['window']>, now: number): number | null {
  const task = cron.createTask(window.cron, () => undefined, { timezone: 'Etc/UTC' });
  try {
    let at = Math.floor(now / MINUTE) * MINUTE + MINUTE;
    for (let i = 0; i < 8 * 1440; i += 1, at += MINUTE) if (task.match(new Date(at))) return at;
    return null;
  } finally {
    void task.destroy();
  }
}

/** The name a wave goes by everywhere (API, CLI, reasons): canary, wave 1, wave 2…, late joiners. */
export function waveName(index: number, waves: number): string {
  if (index >= waves) return 'late joiners';
  if (waves === 1) return 'wave 1';
  return index === 0 ? 'canary' : `wave ${index}`;
}
