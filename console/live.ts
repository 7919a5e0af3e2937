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
  kind?: readonly string[];
  tag?: readonly string[];
}

export interface Stream {
  close(): void;
}

const RETRY_MS = 2000;

/** Splits an SSE byte stream into events (the WHATWG format: `field: value` lines, blank line ends). */
export function sseParser(onEvent: (event: LiveEvent) => void): (chunk: string) => void {
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
    }
  };
}

/**
 * Opens the stream; `onEvent` gets every event, `onState` whether it is live. Resolves to false
 * at once when the server has no stream (the caller polls instead).
 */
export function openStream(filter: StreamFilter, onEvent: (event: LiveEvent) => void, onState: (live: boolean) => void = () => {}): Stream {
  let closed = false;
  let lastId: string | null = null;
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
        // No stream on this server (404) or not allowed: polling carries the page.
        if (response.status === 404 || response.status === 401 || response.status === 403) return;
        throw new Error(`events: ${response.status}`);
      }
      onState(true);
      const parse = sseParser((event) => {
        if (event.id !== null) lastId = event.id;
        onEvent(event);
      });
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        parse(value);
      }
      throw new Error('events: stream ended');
    } catch {
      onState(false);
      if (!closed) timer = setTimeout(() => void connect(), RETRY_MS);
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
