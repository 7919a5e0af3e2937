/** A test client of GET /api/v1/events: fetch with the bearer header, parsed by the shared SSE parser. */
import { SseParser } from '../../../common/sse-parser.js';
import { waitFor } from './harness.js';

export interface SseEvent {
  id: string | undefined;
  event: string;
  data: any;
}

export interface SseClient {
  readonly events: SseEvent[];
  readonly status: number;
  /** True once the server ended the stream. */
  readonly ended: boolean;
  /** Waits until at least `n` events have arrived; returns them all. */
  until(n: number, timeoutMs?: number): Promise<SseEvent[]>;
  close(): void;
}

export async function openSse(url: string, token: string, query = '', lastEventId?: string): Promise<SseClient> {
  const controller = new AbortController();
  const response = await fetch(`${url}/api/v1/events${query ? `?${query}` : ''}`, {
    headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream', ...(lastEventId ? { 'last-event-id': lastEventId } : {}) },
    signal: controller.signal,
  });
  const events: SseEvent[] = [];
  let ended = false;
  if (response.ok && response.body) {
    const parser = new SseParser();
    const decoder = new TextDecoder();
    void (async () => {
      try {
        for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
          for (const m of parser.push(decoder.decode(chunk, { stream: true }))) events.push({ id: m.id, event: m.event, data: JSON.parse(m.data) });
        }
      } catch {
        /* aborted or dropped */
      }
      ended = true;
    })();
  } else ended = true;
  return {
    events,
    status: response.status,
    get ended() {
      return ended;
    },
    until: (n, timeoutMs = 5000) => waitFor(() => events.length >= n && events, timeoutMs, `${n} events (have ${events.length}: ${events.map((e) => e.event).join(', ')})`),
    close: () => controller.abort(),
  };
}
