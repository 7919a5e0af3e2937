/** A thin REST client for the fleet API; errors carry the server's own code and message. */
import { cliErrors } from './errors.js';
import { resolveToken, type GlobalArgs } from './global-options.js';

export interface ApiClient {
  readonly baseUrl: string;
  get<T>(path: string, query?: Record<string, string | number | boolean | string[] | undefined>): Promise<T>;
  post<T>(path: string, body: unknown): Promise<T>;
  delete(path: string): Promise<void>;
  /** Any method, returning the parsed body (DELETE and PUT routes that answer with one). */
  request<T>(method: 'PUT' | 'DELETE' | 'POST', path: string, body?: unknown): Promise<T>;
  /** A GET whose body is read as a stream (the SSE event stream); errors as for the others. */
  stream(path: string, query: Record<string, string | number | boolean | string[] | undefined>, headers: Record<string, string>, signal: AbortSignal): Promise<Response>;
}

function buildQuery(query: Record<string, string | number | boolean | string[] | undefined> = {}): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined) continue;
    for (const item of Array.isArray(value) ? value : [value]) params.append(key, String(item));
  }
  const text = params.toString();
  return text ? `?${text}` : '';
}

export function createApiClient(baseUrl: string, token: string): ApiClient {
  const root = baseUrl.replace(/\/+$/, '');
  const send = async (method: string, path: string, init: { body?: string; headers?: Record<string, string>; signal?: AbortSignal }): Promise<Response> => {
    try {
      return await fetch(root + path, { method, headers: { authorization: `Bearer ${token}`, ...init.headers }, body: init.body, signal: init.signal });
    } catch (error) {
      if (init.signal?.aborted) throw error;
      const cause = (error as { cause?: { message?: string } }).cause?.message ?? (error as Error).message;
      throw cliErrors.WF_CLI_API_UNREACHABLE({ url: root, reason: cause });
    }
  };
  const call = async (method: string, path: string, body?: unknown): Promise<unknown> => {
    const response = await send(method, path, {
      headers: body !== undefined ? { 'content-type': 'application/json' } : {},
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
    return readBody(method, path, response);
  };
  const readBody = async (method: string, path: string, response: Response): Promise<unknown> => {
    const text = await response.text();
    const parsed: unknown = text ? safeJson(text) : undefined;
    if (!response.ok) {
      const error = (parsed as { error?: { code?: string; message?: string; field?: string } } | undefined)?.error;
      throw cliErrors.WF_CLI_API_ERROR({
        method,
        path: path.split('?')[0],
        status: response.status,
        reason: error?.message ?? (text || response.statusText),
        apiCode: error?.code,
        apiField: error?.field,
      });
    }
    return parsed;
  };
  return {
    baseUrl: root,
    get: async <T>(path: string, query?: Record<string, string | number | boolean | string[] | undefined>) =>
      (await call('GET', path + buildQuery(query))) as T,
    post: async <T>(path: string, body: unknown) => (await call('POST', path, body)) as T,
    delete: async (path: string) => {
      await call('DELETE', path);
    },
    request: async <T>(method: 'PUT' | 'DELETE' | 'POST', path: string, body?: unknown) => (await call(method, path, body)) as T,
    stream: async (path, query, headers, signal) => {
      const response = await send('GET', path + buildQuery(query), { headers: { accept: 'text/event-stream', ...headers }, signal });
      if (!response.ok) await readBody('GET', path, response);
      return response;
    },
  };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export function clientFor(args: GlobalArgs): ApiClient {
  return createApiClient(args.api, resolveToken(args));
}
