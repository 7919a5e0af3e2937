/**
 * The fleet's one in-process event bus (docs/api.md §Live events). Ingestion, offline detection
 * and the rollout observer publish into it; every SSE stream reads from its ring buffer.
 *
 * Each event is serialised into its SSE frame once, at publish, whatever the number of streams.
 * Streams pull from the ring by sequence number instead of holding queues of their own, so a
 * stream costs no memory beyond its socket's buffer, and a stream that falls a whole ring behind
 * is simply ended (its client resumes with Last-Event-ID or gets a reset).
 */

export const EVENT_NAMES = [
  'device.online',
  'device.offline',
  'device.reported',
  'rollout.wave',
  'rollout.device',
  'rollout.status',
  'result',
] as const;
export type FleetEventName = (typeof EVENT_NAMES)[number];
export const EVENT_FAMILIES = ['device', 'rollout', 'result'] as const;

export interface FleetEvent {
  readonly seq: number;
  readonly name: FleetEventName;
  /** Publish time, epoch ms. */
  readonly at: number;
  /** What filters look at. */
  readonly deviceId: string | undefined;
  readonly deploymentId: string | undefined;
  /** For result sampling: device, module and metric. */
  readonly sampleKey: string | undefined;
  /** The data object as published (with `at`), for streams that must rewrite it (sampling). */
  readonly data: Readonly<Record<string, unknown>>;
  /** `id:`, `event:` and `data:` lines and the blank line that ends the event. */
  readonly frame: string;
}

export interface EventBus {
  /** Process start, the first part of every event id. */
  readonly boot: number;
  readonly lastSeq: number;
  /** Oldest sequence number still in the ring (lastSeq + 1 when empty). */
  readonly oldestSeq: number;
  publish(name: FleetEventName, data: Record<string, unknown>, refs?: { deviceId?: string; deploymentId?: string; sampleKey?: string }): void;
  /** The event with this seq, or undefined once it left the ring (or before it exists). */
  get(seq: number): FleetEvent | undefined;
  /** Called synchronously after every publish. Returns the unsubscribe function. */
  subscribe(listener: () => void): () => void;
  readonly listeners: number;
  idOf(seq: number): string;
}

export function createEventBus(options: { bufferSize: number; now?: () => number }): EventBus {
  const now = options.now ?? Date.now;
  const boot = now();
  const size = options.bufferSize;
  const ring: Array<FleetEvent | undefined> = new Array(size);
  const listeners = new Set<() => void>();
  let lastSeq = 0;

  return {
    boot,
    get lastSeq() {
      return lastSeq;
    },
    get oldestSeq() {
      return Math.max(1, lastSeq - size + 1);
    },
    get listeners() {
      return listeners.size;
    },
    idOf: (seq) => `${boot}-${seq}`,
    publish(name, fields, refs = {}) {
      const seq = lastSeq + 1;
      const at = now();
      const data = { at: new Date(at).toISOString(), ...fields };
      const frame = `id: ${boot}-${seq}\nevent: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
      ring[(seq - 1) % size] = { seq, name, at, deviceId: refs.deviceId, deploymentId: refs.deploymentId, sampleKey: refs.sampleKey, data, frame };
      lastSeq = seq;
      for (const listener of listeners) {
        // A stream's failure is its own: it must never fail the ingest or rollout that published.
        try {
          listener();
        } catch {
          listeners.delete(listener);
        }
      }
    },
    get(seq) {
      if (seq < 1 || seq > lastSeq || seq <= lastSeq - size) return undefined;
      return ring[(seq - 1) % size];
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

/** Parses `<boot>-<seq>`; undefined for anything else. */
export function parseEventId(id: string): { boot: number; seq: number } | undefined {
  const match = /^(\d{1,16})-(\d{1,16})$/.exec(id.trim());
  if (!match) return undefined;
  const boot = Number(match[1]);
  const seq = Number(match[2]);
  return Number.isSafeInteger(boot) && Number.isSafeInteger(seq) ? { boot, seq } : undefined;
}
