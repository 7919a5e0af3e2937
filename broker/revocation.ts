/**
 * Revocation [WF-P-T-6]: when the service publishes a RevokeDevice on wf/v1/control/revoke, every
 * client authenticated as that device is disconnected at once. Reconnecting is refused by the
 * CredentialVerifier (the credential is gone from the store); this file only closes the window in
 * between, for a CONNECT whose verification was still in flight when the revocation arrived.
 *
 * Clients are tracked from the moment authenticate.ts accepts them, not from Aedes' registration,
 * because Aedes runs several asynchronous CONNECT steps between the two and a revocation landing
 * there must not miss the client. This is the one payload the broker parses, and it parses it
 * only after the ACL has established that the service sent it.
 */
import type { Client } from 'aedes';
import type { Logger } from '../common/logger.js';
import { decodePayload } from '../protocol/codec.js';
import { brokerErrors } from './errors.js';
import type { StatCounters } from './stats.js';

/** Long enough to outlast any credential verification in flight (a legacy scrypt hash takes milliseconds). */
const REVOKED_MEMORY_MS = 60_000;

export class RevocationRegistry {
  readonly #clients = new Map<string, Set<Client>>();
  readonly #revokedAt = new Map<string, number>();
  readonly #logger: Logger;
  readonly #stats: StatCounters;

  constructor(deps: { logger: Logger; stats: StatCounters }) {
    this.#logger = deps.logger;
    this.#stats = deps.stats;
  }

  /** Called by authenticate once a device principal is accepted; forgotten when the connection closes. */
  track(deviceId: string, client: Client): void {
    let set = this.#clients.get(deviceId);
    if (!set) {
      set = new Set();
      this.#clients.set(deviceId, set);
    }
    set.add(client);
    client.conn.once('close', () => {
      set.delete(client);
      if (set.size === 0 && this.#clients.get(deviceId) === set) this.#clients.delete(deviceId);
    });
  }

  /** True if the device was revoked at or after `since` (a verification that started before it). */
  revokedSince(deviceId: string, since: number): boolean {
    const at = this.#revokedAt.get(deviceId);
    return at !== undefined && at >= since;
  }

  /** Handles a routed publish on the control topic; the ACL already limited it to the service. */
  onRevokeMessage(payload: Buffer | string, clientId: string | null): void {
    const decoded = decodePayload('revoke', payload);
    if (!decoded.ok) {
      this.#logger.warn('revocation ignored', { code: decoded.error.code, clientId, reason: decoded.error.message });
      return;
    }
    this.revoke(decoded.value.deviceId);
  }

  revoke(deviceId: string): void {
    const now = Date.now();
    this.#revokedAt.set(deviceId, now);
    for (const [id, at] of this.#revokedAt) if (now - at > REVOKED_MEMORY_MS) this.#revokedAt.delete(id);

    const clients = [...(this.#clients.get(deviceId) ?? [])];
    this.#stats.increment('revocations');
    for (const client of clients) {
      this.#stats.increment('revokedDisconnects');
      // No DISCONNECT exists for a server in 3.1.1; closing the network connection is the only way.
      client.close();
    }
    const error = brokerErrors.WF_BROKER_DEVICE_REVOKED({ deviceId, clients: clients.length });
    this.#logger.warn('device revoked', { code: error.code, deviceId, clients: clients.length, reason: error.message });
  }
}
