/**
 * The console's only way to the server: `/api/v1` on the page's own origin, with the signed-in
 * token as a bearer header. The token lives in sessionStorage (gone when the tab closes) and never
 * in a URL.
 */
const TOKEN_KEY = 'wasmfleet.token';
export const API = '/api/v1';

export type Role = 'viewer' | 'operator' | 'admin';
const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };
export const may = (role: Role, needed: Role): boolean => RANK[role] >= RANK[needed];

export interface Principal {
  tokenId: string;
  name: string;
  role: Role;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

export const savedToken = (): string | null => sessionStorage.getItem(TOKEN_KEY);
export const saveToken = (token: string): void => sessionStorage.setItem(TOKEN_KEY, token);
export const forgetToken = (): void => sessionStorage.removeItem(TOKEN_KEY);

/** Query strings from plain values; arrays repeat the key, undefined and '' are left out. */
export function query(params: Record<string, string | number | boolean | undefined | readonly string[]>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === '') continue;
    if (Array.isArray(value)) for (const item of value) search.append(key, item);
    else search.append(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}

export function authHeaders(token = savedToken()): Record<string, string> {
  return token ? { authorization: `Bearer ${token}` } : {};
}

export async function api<T>(path: string, init: { method?: string; body?: unknown; token?: string } = {}): Promise<T> {
  const headers: Record<string, string> = authHeaders(init.token ?? savedToken());
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${API}${path}`, {
    method: init.method ?? 'GET',
    headers,
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
  });
  if (response.status === 204) return undefined as T;
  const body = (await response.json().catch(() => ({}))) as { error?: { code: string; message: string; field?: string } };
  if (!response.ok) {
    const error = body.error ?? { code: 'HTTP_' + response.status, message: response.statusText };
    if (response.status === 401) window.dispatchEvent(new CustomEvent('wasmfleet:unauthorized'));
    throw new ApiError(response.status, error.code, error.message, error.field);
  }
  return body as T;
}
