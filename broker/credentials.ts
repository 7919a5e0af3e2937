/**
 * The broker's view of who may connect. The broker does not own the inventory: whoever starts it
 * (platform/ in one process, or a standalone broker reading the SQLite file) supplies a
 * CredentialVerifier. Returning undefined refuses the connection.
 */
export type Principal =
  | { readonly kind: 'device'; readonly deviceId: string }
  | { readonly kind: 'service'; readonly name: string };

export interface CredentialVerifier {
  verify(username: string, password: Buffer): Promise<Principal | undefined>;
}
