/**
 * Live updates. The event stream (`GET /api/v1/events`, Server-Sent Events) is read with fetch,
 * not EventSource, because EventSource cannot send the bearer header and the token must never
 * ride in a URL. On a drop it reconnects with `Last-Event-ID`, so the server resends what was
 * missed. Where the stream is not served (an older server: 404), callers fall back to polling, so
 * every page stays live either way.
 */
import { API, authHeaders, query } from './api.js';

export interface LiveEvent {
  id: string | null;
  kind: string;
  data: unknown;
}

export interface StreamFilter {
  device?: string;
  deployment?: string;
  /** Families (`device`, `rollout`, `result`) or event names (`rollout.device`). */
  kind?: readonly string[];
  tag?: readonly string[];
  /** At most one `result` event per device, module and metric this often. */
  sampleMs?: number;
}

export interface Stream {
  close(): void;
}

const RETRY_MS = 2000;
const MAX_RETRY_MS = 30_000;

/** Splits an SSE byte stream into events (the WHATWG format: `field: value` lines, blank line ends). */
export function sseParser(onEvent: (event: LiveEvent) => void, onRetry: (ms: number) => void = () => {}): (chunk: string) => void {
  let buffer = '';
  let data: string[] = [];
  let kind = 'message';
  let id: string | null = null;
  return (chunk) => {
    buffer += chunk;
    let newline: number;
    while ((newline = buffer.search(/\r?\n/)) >= 0) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + (buffer[newline] === '\r' ? 2 : 1));
      if (line === '') {
        if (data.length > 0) {
          const text = data.join('\n');
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            // Not JSON: handed over as text.
          }
          onEvent({ id, kind, data: parsed });
        }
        data = [];
        kind = 'message';
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'data') data.push(value);
      else if (field === 'event') kind = value;
      else if (field === 'id') id = value;
      else if (field === 'retry' && /^\d+$/.test(value)) onRetry(Number(value));
    }
  };
}

/**
 * Opens the stream; `onEvent` gets every event, `onState` whether it is live (false while the
 * caller should poll: no stream on this server, or reconnecting).
 */
export function openStream(filter: StreamFilter, onEvent: (event: LiveEvent) => void, onState: (live: boolean) => void = () => {}): Stream {
  let closed = false;
  let lastId: string | null = null;
  let retryMs = RETRY_MS;
  let failures = 0;
  let controller: AbortController | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const connect = async (): Promise<void> => {
    controller = new AbortController();
    try {
      const headers: Record<string, string> = { ...authHeaders(), accept: 'text/event-stream' };
      if (lastId !== null) headers['last-event-id'] = lastId;
      const response = await fetch(`${API}/events${query({ ...filter })}`, { headers, signal: controller.signal });
      if (!response.ok || !response.body) {
        onState(false);
        if (response.status === 401) window.dispatchEvent(new CustomEvent('wasmfleet:unauthorized'));
        // No stream on this server (404), not allowed, or a filter it refuses: polling carries
        // the page. 503 (too many streams) and 5xx: try again later.
        if (response.status >= 400 && response.status < 500) return;
        throw new Error(`events: ${response.status}`);
      }
      onState(true);
      failures = 0;
      const parse = sseParser((event) => {
        if (event.id !== null) lastId = event.id;
        // A reset says the resume had a gap: the caller refetches on any event, this one included.
        onEvent(event);
      }, (ms) => (retryMs = ms));
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        parse(value);
      }
      throw new Error('events: stream ended');
    } catch {
      onState(false);
      failures += 1;
      if (!closed) timer = setTimeout(() => void connect(), Math.min(MAX_RETRY_MS, retryMs * 2 ** Math.min(failures - 1, 4)));
    }
  };
  void connect();
  return {
    close() {
      closed = true;
      clearTimeout(timer);
      controller?.abort();
    },
  };
}
