/** REST calls as the platform's admin, answering status and parsed body (null for an empty body). */
export type AdminCall = (method: string, path: string, body?: unknown) => Promise<{ status: number; body: any }>;

export function adminCall(apiUrl: string, token: string): AdminCall {
  return async (method, path, body) => {
    const response = await fetch(apiUrl + path, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : null };
  };
}
