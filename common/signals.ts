/**
 * Graceful stop on SIGINT/SIGTERM. After the first signal the shutdown runs to completion: a later
 * SIGTERM is ignored, because a service manager (or a script) following up must not cut a clean
 * shutdown short (it escalates to SIGKILL on its own timeout); a second SIGINT, someone pressing
 * Ctrl-C again, exits at once with 130.
 *
 * Every process ends within PROCESS_STOP_BOUND_MS of the first signal (docs/operations.md): each
 * part's stop is a bounded sequence of its own, and `exitWhenStopped` is the backstop that ends
 * the process at the bound whatever is still pending (a handle a peer keeps open, a hung disk).
 */
import type { Logger } from './logger.js';

export const SHUTDOWN_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];

/**
 * The longest any wasmfleet process takes from SIGTERM to exit. Below systemd's default
 * TimeoutStopSec (90 s) and Kubernetes' default grace (30 s) by far, so they never need SIGKILL.
 */
export const PROCESS_STOP_BOUND_MS = 5000;

/** Calls `stop` once, on the first signal; returns a function that removes the listeners. */
export function onShutdownSignal(stop: (signal: NodeJS.Signals) => void, signals: readonly NodeJS.Signals[] = SHUTDOWN_SIGNALS): () => void {
  let received = false;
  const listener = (signal: NodeJS.Signals): void => {
    if (!received) {
      received = true;
      stop(signal);
    } else if (signal === 'SIGINT') {
      process.exit(130);
    }
  };
  for (const signal of signals) process.on(signal, listener);
  return () => {
    for (const signal of signals) process.off(signal, listener);
  };
}

/** Resolves on the first shutdown signal; later ones are handled as above until the process ends. */
export function untilShutdownSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => onShutdownSignal(resolve));
}

export interface ExitOptions {
  readonly logger: Logger;
  /** Defaults to PROCESS_STOP_BOUND_MS. */
  readonly boundMs?: number;
  /** For tests; defaults to process.exit. */
  readonly exit?: (code: number) => void;
}

/**
 * Ends the process once `stopping` settles: 0 if it resolved, 1 if it rejected. If it has not
 * settled after the bound, the process ends anyway with 1 and an error line naming the bound: what
 * a part could not finish by then (an ack from a broker that is gone, an fsync on a dead disk) is
 * exactly what it keeps on disk for the next start. Exiting explicitly also ends handles a peer
 * would keep open (a reconnect timer, a half-closed socket).
 */
export function exitWhenStopped(stopping: Promise<unknown>, options: ExitOptions): void {
  const boundMs = options.boundMs ?? PROCESS_STOP_BOUND_MS;
  const exit = options.exit ?? ((code: number) => process.exit(code));
  let exited = false;
  const finish = (code: number): void => {
    if (exited) return;
    exited = true;
    clearTimeout(backstop);
    exit(code);
  };
  const backstop = setTimeout(() => {
    options.logger.error('stop did not finish within its bound; exiting', { boundMs });
    finish(1);
  }, boundMs);
  stopping.then(
    () => finish(0),
    (error: unknown) => {
      options.logger.error('stop failed; exiting', { error });
      finish(1);
    },
  );
}
