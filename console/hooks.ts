/** Data loading for pages: load once, reload on live events (throttled) or by polling when no stream. */
import { useEffect, useRef, useState } from 'preact/hooks';
import { openStream, type LiveEvent, type StreamFilter } from './live.js';

export interface Loaded<T> {
  data: T | undefined;
  error: Error | undefined;
  reload(): void;
  /** True while the event stream is connected; false while polling. */
  live: boolean;
}

export interface LiveOptions {
  /** Reload when an event matching this filter arrives. */
  stream?: StreamFilter;
  /** Poll this often while the stream is not connected (and always, as a safety net, at 4x). */
  pollMs?: number;
  onEvent?: (event: LiveEvent) => void;
}

const THROTTLE_MS = 500;

export function useLiveData<T>(load: () => Promise<T>, deps: readonly unknown[], options: LiveOptions = {}): Loaded<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<Error | undefined>(undefined);
  const [live, setLive] = useState(false);
  const generation = useRef(0);
  const pending = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const loadRef = useRef(load);
  loadRef.current = load;
  const onEventRef = useRef(options.onEvent);
  onEventRef.current = options.onEvent;

  const inFlight = useRef(false);
  const run = (force = true) => {
    // A poll never stacks on a load still running (a slow server must not get a queue of them).
    if (!force && inFlight.current) return;
    inFlight.current = true;
    const mine = ++generation.current;
    loadRef
      .current()
      .finally(() => {
        if (mine === generation.current) inFlight.current = false;
      })
      .then((value) => {
        if (mine !== generation.current) return;
        setData(value);
        setError(undefined);
      })
      .catch((failure: unknown) => {
        if (mine === generation.current) setError(failure instanceof Error ? failure : new Error(String(failure)));
      });
  };
  const soon = () => {
    if (pending.current !== undefined) return;
    pending.current = setTimeout(() => {
      pending.current = undefined;
      run();
    }, THROTTLE_MS);
  };

  useEffect(() => {
    setData(undefined);
    run();
    let liveNow = false;
    const stream = options.stream
      ? openStream(
          options.stream,
          (event) => {
            onEventRef.current?.(event);
            soon();
          },
          (state) => {
            liveNow = state;
            setLive(state);
          },
        )
      : undefined;
    const poll = options.pollMs;
    let ticks = 0;
    const timer =
      poll === undefined
        ? undefined
        : setInterval(() => {
            ticks += 1;
            if (!liveNow || ticks % 4 === 0) run(false);
          }, poll);
    return () => {
      generation.current += 1;
      inFlight.current = false;
      stream?.close();
      clearInterval(timer);
      clearTimeout(pending.current);
      pending.current = undefined;
    };
  }, deps);

  return { data, error, reload: () => run(), live };
}

/** A value that settles `ms` after its last change (search boxes). */
export function useDebounced<T>(value: T, ms: number): T {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setSettled(value), ms);
    return () => clearTimeout(timer);
  }, [value, ms]);
  return settled;
}
