import type { HubMembership } from './hub-membership.js';

/**
 * The broker's view of who may connect. The broker does not own the inventory: whoever starts it
 * (platform/ in one process, or a standalone broker reading the SQLite file) supplies a
 * CredentialVerifier. Returning undefined refuses the connection.
 */
export type Principal =
  | { readonly kind: 'device'; readonly deviceId: string }
  | { readonly kind: 'service'; readonly name: string }
  /** A site hub relaying for its subtree (username `wf:hub:{hubId}`, protocol/hubs.ts). */
  | { readonly kind: 'hub'; readonly hubId: string };

export interface CredentialVerifier {
  verify(username: string, password: Buffer): Promise<Principal | undefined>;
  /**
   * Where the ACL looks up a hub principal's subtree. A verifier that admits hubs provides it from
   * the same source as their credentials; without one, every hub topic is denied.
   */
  readonly membership?: HubMembership;
}
