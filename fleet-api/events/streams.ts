/**
 * SSE streams over the bus (docs/api.md §Live events). A stream keeps a cursor into the bus's
 * ring and pulls from it: after Last-Event-ID it replays what it missed, then follows live
 * publishes, always in sequence order and never skipping one. It writes while its socket takes
 * the bytes; once `maxQueuedBytes` wait unsent it pauses until the socket drains, and if the ring
 * overtakes its cursor meanwhile it is ended: a slow client costs at most its socket buffer.
 * A publish schedules the stream's pump for the next turn of the event loop rather than running it
 * at once, and a pump sends what it gathered in one write (up to WRITE_CHUNK bytes a write): an
 * ingest buffer publishes an event per batch in one go, and one socket write per stream for the
 * lot costs far less than one per event per stream (bench sse-fanout).
 */
import type { ServerResponse } from 'node:http';
import type { EventBus, FleetEvent } from './bus.js';
import { keeps, type EventFilter } from './filter.js';
import { parseEventId } from './bus.js';

export interface EventStreamOptions {
  maxQueuedBytes: number;
  maxStreams: number;
  keepAliveMs: number;
  tagRefreshMs: number;
  retryMs: number;
}

export type StreamEnd = 'client' | 'behind' | 'shutdown';

export interface StreamHooks {
  onOpen?(): void;
  onEnd?(reason: StreamEnd): void;
  onEvent?(bytes: number): void;
}

export interface EventStreams {
  readonly open: number;
  /** False when `maxStreams` are open. */
  canOpen(): boolean;
  /** Takes over `res` (already hijacked from the framework) until the client leaves or is dropped. */
  attach(res: ServerResponse, filter: EventFilter, sampleMs: number, lastEventId: string | undefined): void;
  /** Ends every stream (server shutdown). */
  closeAll(): void;
  /** Largest unsent byte count any stream has had, for tests and the bench. */
  readonly peakQueuedBytes: number;
}

const SAMPLE_KEYS_MAX = 100_000;
const WRITE_CHUNK = 64 * 1024;

export function createEventStreams(bus: EventBus, options: EventStreamOptions, resolveTags: (tags: Record<string, string>) => Set<string>, hooks: StreamHooks = {}): EventStreams {
  // Every open stream's shutdown, by stream.
  const live = new Map<object, () => void>();
  let peakQueuedBytes = 0;

  const attach = (res: ServerResponse, filter: EventFilter, sampleMs: number, lastEventId: string | undefined) => {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      // Tells a reverse proxy (nginx) not to buffer the stream.
      'x-accel-buffering': 'no',
    });
    res.write(`retry: ${options.retryMs}\n\n`);
    let cursor = bus.lastSeq;
    const last = lastEventId === undefined ? undefined : parseEventId(lastEventId);
    if (last) {
      const reset = last.boot !== bus.boot ? 'restarted' : last.seq < bus.oldestSeq - 1 ? 'expired' : undefined;
      if (reset) {
        const oldest = bus.lastSeq >= bus.oldestSeq ? bus.idOf(bus.oldestSeq) : null;
        const data = JSON.stringify({ at: new Date().toISOString(), reason: reset, oldest });
        // Carries the current id, so a reconnect after it resumes from here rather than resetting again.
        res.write(`id: ${bus.idOf(cursor)}\nevent: reset\ndata: ${data}\n\n`);
      } else cursor = Math.min(last.seq, bus.lastSeq);
    }

    let tagged = filter.tags ? resolveTags(filter.tags) : undefined;
    const sampled = sampleMs > 0 ? new Map<string, { sentAt: number; skipped: number }>() : undefined;
    let waiting = false;
    let ended = false;
    let wroteSinceTick = false;

    const frameOf = (event: FleetEvent): string | undefined => {
      if (!sampled || event.name !== 'result' || event.sampleKey === undefined) return event.frame;
      const entry = sampled.get(event.sampleKey);
      if (entry && event.at - entry.sentAt < sampleMs) {
        entry.skipped += 1;
        return undefined;
      }
      if (!entry && sampled.size >= SAMPLE_KEYS_MAX) sampled.clear();
      sampled.set(event.sampleKey, { sentAt: event.at, skipped: 0 });
      if (!entry || entry.skipped === 0) return event.frame;
      return `id: ${bus.idOf(event.seq)}\nevent: ${event.name}\ndata: ${JSON.stringify({ ...event.data, skipped: entry.skipped })}\n\n`;
    };

    const end = (reason: StreamEnd) => {
      if (ended) return;
      ended = true;
      unsubscribe();
      live.delete(pump);
      clearInterval(keepAlive);
      clearInterval(refresh);
      if (reason === 'client') {
        /* the socket is gone already */
      } else if (reason === 'behind') res.destroy();
      else res.end();
      hooks.onEnd?.(reason);
    };

    /** Sends what `pump` gathered; false when the socket is full and the stream now waits for 'drain'. */
    const send = (chunk: string): boolean => {
      const accepted = res.write(chunk);
      wroteSinceTick = true;
      const queued = res.writableLength;
      if (queued > peakQueuedBytes) peakQueuedBytes = queued;
      // write() returned false, so the response emits 'drain' once the socket has taken it all.
      if (!accepted && queued >= options.maxQueuedBytes) {
        waiting = true;
        res.once('drain', () => {
          waiting = false;
          pump();
        });
        return false;
      }
      return true;
    };

    const pump = () => {
      if (ended) return;
      if (waiting) {
        // Paused on a full socket: once the ring has moved past its cursor it can never catch up.
        if (cursor + 1 < bus.oldestSeq) end('behind');
        return;
      }
      let chunk = '';
      while (cursor < bus.lastSeq) {
        const event = bus.get(cursor + 1);
        if (!event) return end('behind');
        cursor += 1;
        if (!keeps(filter, tagged, event)) continue;
        const frame = frameOf(event);
        if (frame === undefined) continue;
        chunk += frame;
        hooks.onEvent?.(frame.length);
        // Sent before it could take the queue past maxQueuedBytes by more than this one frame.
        if (chunk.length >= WRITE_CHUNK || res.writableLength + chunk.length >= options.maxQueuedBytes) {
          if (!send(chunk)) return;
          chunk = '';
        }
      }
      if (chunk !== '') send(chunk);
    };

    let scheduled = false;
    const schedule = () => {
      if (scheduled || ended) return;
      scheduled = true;
      setImmediate(() => {
        scheduled = false;
        pump();
      });
    };

    const keepAlive = setInterval(() => {
      if (!wroteSinceTick && !waiting) res.write(': keep-alive\n\n');
      wroteSinceTick = false;
    }, options.keepAliveMs);
    keepAlive.unref();
    const refresh = setInterval(() => {
      if (filter.tags) tagged = resolveTags(filter.tags);
    }, filter.tags ? options.tagRefreshMs : 2 ** 31 - 1);
    refresh.unref();

    const unsubscribe = bus.subscribe(schedule);
    live.set(pump, () => end('shutdown'));
    res.on('close', () => end('client'));
    hooks.onOpen?.();
    pump();
  };

  return {
    get open() {
      return live.size;
    },
    get peakQueuedBytes() {
      return peakQueuedBytes;
    },
    canOpen: () => live.size < options.maxStreams,
    attach,
    closeAll() {
      for (const close of [...live.values()]) close();
    },
  };
}
