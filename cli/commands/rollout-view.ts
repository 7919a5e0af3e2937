/**
 * How a rollout looks in a terminal: one progress bar per wave, redrawn in place while it runs
 * (`deploy --watch`, `deployment show --watch`), and the per-device table with reasons.
 */
import { WasmfleetError } from '../../common/errors.js';
import type { ApiClient } from '../api-client.js';
import { followEvents } from '../event-stream.js';
import { table } from '../output.js';

export interface WaveView {
  index: number;
  name: string;
  size: number;
  state: string;
  counts: Record<string, number>;
}

export interface DeploymentView {
  id: string;
  module: string;
  version: string;
  createdAt: string;
  status: string;
  statusReason: string | null;
  counts: Record<string, number>;
  waves: WaveView[];
  devices: { id: string; wave: number; state: string; reason?: string | null; updatedAt?: string }[];
  [key: string]: unknown;
}

export const FINISHED_STATUSES = ['completed', 'aborted', 'cancelled', 'rolled-back', 'superseded'];
const BAR_WIDTH = 30;
const FAILED = ['failed', 'unhealthy', 'timed-out'];

const sum = (counts: Record<string, number>, states: string[]) => states.reduce((n, s) => n + (counts[s] ?? 0), 0);

/** `canary   [#####>....] 3/5 healthy, 1 failed (in progress)` */
export function waveLine(wave: WaveView, nameWidth: number): string {
  const c = wave.counts;
  const done = sum(c, ['healthy']);
  const failed = sum(c, FAILED);
  const moving = sum(c, ['pending', 'applied']);
  const other = sum(c, ['rolled-back', 'cancelled', 'superseded']);
  const cells = (n: number) => Math.round((n / Math.max(1, wave.size)) * BAR_WIDTH);
  const filled = cells(done);
  const bad = Math.min(BAR_WIDTH - filled, cells(failed + other));
  const busy = Math.min(BAR_WIDTH - filled - bad, cells(moving));
  const bar = '#'.repeat(filled) + 'x'.repeat(bad) + '>'.repeat(busy) + '.'.repeat(BAR_WIDTH - filled - bad - busy);
  const parts = [`${done}/${wave.size} healthy`];
  if (moving) parts.push(`${moving} in flight`);
  if (failed) parts.push(`${failed} failed`);
  for (const state of ['rolled-back', 'cancelled', 'superseded']) if (c[state]) parts.push(`${c[state]} ${state}`);
  return `  ${wave.name.padEnd(nameWidth)} [${bar}] ${parts.join(', ')} (${wave.state})`;
}

export function renderProgress(view: DeploymentView): string {
  const width = Math.max(6, ...view.waves.map((w) => w.name.length));
  return [
    `deployment ${view.id}: ${view.module}@${view.version} ${view.status}${view.statusReason ? ` — ${view.statusReason}` : ''}`,
    ...view.waves.map((wave) => waveLine(wave, width)),
  ].join('\n');
}

/** `limits requested: memoryPages=16 cpuMsPerBatch=20`, or nothing when the deployment requests none. */
export function limitsLine(limits: unknown): string[] {
  if (limits === null || typeof limits !== 'object' || Object.keys(limits).length === 0) return [];
  return [`limits requested: ${Object.entries(limits).map(([key, value]) => `${key}=${String(value)}`).join(' ')}`];
}

export function renderDeployment(view: DeploymentView): string {
  const rows = view.devices.map((d) => ({ ...d, wave: view.waves.find((w) => w.index === d.wave)?.name ?? d.wave }));
  return [renderProgress(view), ...limitsLine(view.limits), table(rows, ['id', 'wave', 'state', 'reason', 'updatedAt'])].join('\n');
}

export const getDeployment = (api: ApiClient, id: string) => api.get<DeploymentView>(`/api/v1/deployments/${encodeURIComponent(id)}`);

/**
 * Follows the rollout until it ends (or the timeout passes), drawing the wave bars on `out`:
 * redrawn in place on a terminal, printed again only when they change otherwise. The live event
 * stream (deployment filter, rollout events) says when to fetch the view again; a server without
 * the stream is polled every 500 ms instead. Returns the last view.
 */
export async function watchDeployment(api: ApiClient, id: string, options: { timeoutMs: number; out: NodeJS.WriteStream; draw: boolean }): Promise<DeploymentView> {
  const deadline = Date.now() + options.timeoutMs;
  const stop = new AbortController();
  let dirty = true;
  let polling = false;
  let wake = () => {};
  const touch = () => {
    dirty = true;
    wake();
  };
  const following = followEvents(api, {
    query: { deployment: id, kind: 'rollout' },
    signal: stop.signal,
    onEvent: touch,
    // Opening (again) may have missed changes: look once more.
    onOpen: touch,
    onDrop(error) {
      const status = error instanceof WasmfleetError ? error.details.status : undefined;
      if (status === 404) {
        polling = true;
        touch();
        return false;
      }
      touch();
      return true;
    },
  });
  let drawn = '';
  let lines = 0;
  try {
    for (;;) {
      dirty = false;
      const view = await getDeployment(api, id);
      const finished = FINISHED_STATUSES.includes(view.status) && sum(view.counts, ['waiting', 'pending', 'applied']) === 0;
      if (options.draw) {
        const text = renderProgress(view);
        if (text !== drawn) {
          if (options.out.isTTY && lines > 0) options.out.write(`\x1b[${lines}A\x1b[J`);
          options.out.write(text + '\n');
          drawn = text;
          lines = text.split('\n').length;
        }
      }
      if (finished || Date.now() >= deadline) return view;
      if (!dirty) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, polling ? 500 : Math.max(0, deadline - Date.now()));
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        wake = () => {};
        // Events come in bursts (a wave's devices); one fetch for the burst.
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  } finally {
    stop.abort();
    await following;
  }
}
