/**
 * Who an authenticated client is. The authenticate hook stores the Principal on the Aedes client
 * object under a private symbol; the ACL hooks read it back. A symbol (not a string key) means no
 * Aedes field or other plugin can collide with it, and a client without one is nobody.
 */
import type { Client } from 'aedes';
import type { Principal } from './credentials.js';

const PRINCIPAL = Symbol('wasmfleet.broker.principal');

type WithPrincipal = Client & { [PRINCIPAL]?: Principal };

export function setPrincipal(client: Client, principal: Principal): void {
  (client as WithPrincipal)[PRINCIPAL] = principal;
}

/** undefined for an anonymous client (allowAnonymous) or one that never authenticated. */
export function principalOf(client: Client | null | undefined): Principal | undefined {
  return client ? (client as WithPrincipal)[PRINCIPAL] : undefined;
}

/** A short label for logs and error messages; never includes a secret. */
export function describePrincipal(principal: Principal | undefined): string {
  if (!principal) return 'anonymous';
  if (principal.kind === 'hub') return `hub '${principal.hubId}'`;
  return principal.kind === 'device' ? `device '${principal.deviceId}'` : `service '${principal.name}'`;
}
