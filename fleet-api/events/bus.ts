/**
 * The fleet's one in-process event bus (docs/api.md §Live events). Ingestion, offline detection
 * and the rollout observer publish into it; every SSE stream reads from its ring buffer.
 *
 * Each event is serialised into its SSE frame once, when a stream first reads it, whatever the
 * number of streams (and not at all when none does).
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
      ring[(seq - 1) % size] = new RingEvent(seq, name, at, refs, data, boot);
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

/**
 * An event in the ring. Its frame is serialised on first read and kept: once for all the streams,
 * and never when no stream reads it (ingestion publishes an event per metric of every batch it
 * stores, with or without anyone watching).
 */
class RingEvent implements FleetEvent {
  readonly deviceId: string | undefined;
  readonly deploymentId: string | undefined;
  readonly sampleKey: string | undefined;
  private serialised: string | undefined;

  constructor(
    readonly seq: number,
    readonly name: FleetEventName,
    readonly at: number,
    refs: { deviceId?: string; deploymentId?: string; sampleKey?: string },
    readonly data: Readonly<Record<string, unknown>>,
    private readonly boot: number,
  ) {
    this.deviceId = refs.deviceId;
    this.deploymentId = refs.deploymentId;
    this.sampleKey = refs.sampleKey;
  }

  get frame(): string {
    this.serialised ??= `id: ${this.boot}-${this.seq}\nevent: ${this.name}\ndata: ${JSON.stringify(this.data)}\n\n`;
    return this.serialised;
  }
}

/** Parses `<boot>-<seq>`; undefined for anything else. */
export function parseEventId(id: string): { boot: number; seq: number } | undefined {
  const match = /^(\d{1,16})-(\d{1,16})$/.exec(id.trim());
  if (!match) return undefined;
  const boot = Number(match[1]);
  const seq = Number(match[2]);
  return Number.isSafeInteger(boot) && Number.isSafeInteger(seq) ? { boot, seq } : undefined;
}
