/**
 * Which sandbox runs the agent's modules (agent config `isolation`, docs/agent.md):
 *   metered  on the agent's own thread, CPU budget compiled into the module (the default: a
 *            module costs its memory and code, not a ~9 MiB worker isolate);
 *   worker   one worker thread per module, a watchdog terminates it past its budget (a batch
 *            never delays the agent's thread; each module costs a worker isolate).
 * Each is imported only when chosen, so a metered agent never loads worker_threads.
 */
import type { SandboxFactory } from './types.js';

export const ISOLATIONS = ['metered', 'worker'] as const;
export type Isolation = (typeof ISOLATIONS)[number];

export async function sandboxFactory(isolation: Isolation, spareWorker: boolean): Promise<SandboxFactory> {
  // A factory per call, so each agent keeps its own compiled modules (no work shared between
  // the simulated devices of one process).
  if (isolation === 'metered') return (await import('./metered-sandbox.js')).meteredSandboxFactory();
  const [{ startSandbox }, { setSpareWorkers }] = await Promise.all([import('./module-sandbox.js'), import('./worker-pool.js')]);
  // The pool is per process; only an agent that asks for it turns the spare off.
  if (!spareWorker) void setSpareWorkers(0);
  return startSandbox;
}
