/**
 * Follows the fleet API's live event stream (docs/api.md §Live events) as a browser console
 * would: fetch() with the bearer token in a header, the SSE parsed by common/sse-parser.ts, and a
 * reconnect with Last-Event-ID after the server's `retry` delay (backing off to 30 s) whenever
 * the stream ends, until `signal` aborts.
 */
import { SseParser } from '../common/sse-parser.js';
import type { ApiClient } from './api-client.js';

export interface FleetEventMessage {
  id: string | undefined;
  event: string;
  data: Record<string, unknown>;
}

export interface FollowOptions {
  query: Record<string, string | number | string[] | undefined>;
  signal: AbortSignal;
  onEvent(message: FleetEventMessage): void;
  /** Each time a stream is open (first connect and every reconnect). */
  onOpen?(): void;
  /** A stream that failed to open or ended; return false to stop following. */
  onDrop?(error: unknown): boolean;
}

const MAX_BACKOFF_MS = 30_000;

export async function followEvents(api: ApiClient, options: FollowOptions): Promise<void> {
  let lastEventId: string | undefined;
  let failures = 0;
  let retryMs = 2000;
  while (!options.signal.aborted) {
    try {
      const response = await api.stream('/api/v1/events', options.query, lastEventId ? { 'last-event-id': lastEventId } : {}, options.signal);
      failures = 0;
      options.onOpen?.();
      const parser = new SseParser();
      const decoder = new TextDecoder();
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        for (const message of parser.push(decoder.decode(chunk, { stream: true }))) {
          lastEventId = message.id ?? lastEventId;
          let data: Record<string, unknown>;
          try {
            data = JSON.parse(message.data) as Record<string, unknown>;
          } catch {
            continue;
          }
          options.onEvent({ id: message.id, event: message.event, data });
        }
        retryMs = parser.retryMs ?? retryMs;
      }
      if (options.onDrop && !options.onDrop(undefined)) return;
    } catch (error) {
      if (options.signal.aborted) return;
      failures += 1;
      if (options.onDrop && !options.onDrop(error)) return;
    }
    const delay = Math.min(MAX_BACKOFF_MS, retryMs * 2 ** Math.max(0, failures - 1));
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, delay);
      options.signal.addEventListener('abort', () => {
        clearTimeout(timer);
        resolve();
      }, { once: true });
    });
  }
}
