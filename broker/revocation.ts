/**
 * Revocation [WF-P-T-6]: when the service publishes a RevokeDevice on wf/v1/control/revoke, every
 * client authenticated as that device is disconnected at once; a RevokeHub on
 * wf/v1/control/revoke-hub does the same for a hub principal (tracked under its username
 * `wf:hub:{id}`, which no device id can equal). Reconnecting is refused by the
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
import { schemaProblems, describeProblems } from '../common/validate.js';
import { decodePayload } from '../protocol/codec.js';
import { hubIdOfUsername, hubUsername, RevokeHubSchema, type RevokeHub } from '../protocol/hubs.js';
import { PAYLOAD_CAPS } from '../protocol/limits.js';
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

  /** Called by authenticate once a device (or hub, under its username) principal is accepted; forgotten when the connection closes. */
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

  /** A RevokeHub on wf/v1/control/revoke-hub; the ACL already limited it to the service. */
  onRevokeHubMessage(payload: Buffer | string, clientId: string | null): void {
    const bytes = typeof payload === 'string' ? Buffer.from(payload) : payload;
    let parsed: unknown;
    try {
      parsed = bytes.byteLength <= PAYLOAD_CAPS.revoke ? JSON.parse(bytes.toString('utf8')) : undefined;
    } catch {
      parsed = undefined;
    }
    const problems = parsed === undefined ? [] : schemaProblems(RevokeHubSchema, parsed);
    if (parsed === undefined || problems.length > 0) {
      this.#logger.warn('hub revocation ignored', { clientId, reason: parsed === undefined ? 'not JSON or over the cap' : describeProblems(problems) });
      return;
    }
    this.revoke(hubUsername((parsed as RevokeHub).hubId));
  }

  /** `deviceId`, or a hub's username (`wf:hub:{id}`) for a hub principal. */
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
    const hubId = hubIdOfUsername(deviceId);
    if (hubId !== undefined) {
      this.#logger.warn('hub revoked', { hub: hubId, clients: clients.length });
      return;
    }
    const error = brokerErrors.WF_BROKER_DEVICE_REVOKED({ deviceId, clients: clients.length });
    this.#logger.warn('device revoked', { code: error.code, deviceId, clients: clients.length, reason: error.message });
  }
}
