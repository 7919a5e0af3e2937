/**
 * Graceful stop on SIGINT/SIGTERM. After the first signal the shutdown runs to completion: a later
 * SIGTERM is ignored, because a service manager (or a script) following up must not cut a clean
 * shutdown short (it escalates to SIGKILL on its own timeout); a second SIGINT, someone pressing
 * Ctrl-C again, exits at once with 130.
 */
export const SHUTDOWN_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];

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
