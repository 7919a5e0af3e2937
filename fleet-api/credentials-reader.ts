/**
 * Device credentials read straight from the fleet's SQLite file, opened read-only, for a broker
 * that runs in its own process beside `wasmfleet api` on the same machine (docs/architecture.md).
 * It never writes: the API stays the only writer of the file.
 *
 * The file may not exist yet when the broker starts before the API: until it does, every device
 * is refused and the reader tries again on the next CONNECT.
 *
 * Retiring a previous secret is a write, so it is remembered in memory instead: once a device has
 * connected with its new secret, this broker refuses the old one, as the store would. The record
 * in SQLite keeps the old secret until its grace period ends; a restarted broker accepts it again
 * until then, like a broker that never saw the new one.
 */
import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import type { Logger } from '../common/logger.js';
import { nowIso } from './store/core.js';
import { reasonOf } from '../common/errors.js';
import type { CredentialSource } from './credentials-verifier.js';
import { credentialStateOf, SELECT_DEVICE_CREDENTIALS, type CredentialRow, type DeviceCredentialState } from './store/credentials.js';
import { SELECT_HUB_CREDENTIALS, SELECT_HUB_SUBTREE_DEVICES, SELECT_HUB_SUBTREE_HUBS, type HubSubtreeRecord } from './store/hubs.js';

export interface CredentialReader extends CredentialSource {
  close(): void;
}

export function openCredentialReader(dbPath: string, logger: Logger): CredentialReader {
  let db: Database.Database | undefined;
  let select: Database.Statement | undefined;
  let hubStatements: { credentials: Database.Statement; devices: Database.Statement; hubs: Database.Statement } | undefined;
  /** deviceId (or `hub:` + hubId) → the current hash it has proven; its previous secret is refused from then on. */
  const retired = new Map<string, string>();

  /** Hub queries, prepared once the hubs table exists (an API of this version created it). */
  const hubQueries = () => {
    if (!hubStatements && db) {
      try {
        hubStatements = { credentials: db.prepare(SELECT_HUB_CREDENTIALS), devices: db.prepare(SELECT_HUB_SUBTREE_DEVICES), hubs: db.prepare(SELECT_HUB_SUBTREE_HUBS) };
      } catch (error) {
        logger.warn('hub tables not readable yet', { path: dbPath, reason: reasonOf(error) });
      }
    }
    return hubStatements;
  };

  const row = (id: string): CredentialRow | undefined => {
    if (!select) {
      if (!existsSync(dbPath)) return undefined;
      try {
        db = new Database(dbPath, { readonly: true, fileMustExist: true });
        db.pragma('busy_timeout = 2000');
        select = db.prepare(SELECT_DEVICE_CREDENTIALS);
      } catch (error) {
        // The API may still be creating the schema; the next CONNECT tries again.
        logger.warn('credential database not readable yet', { path: dbPath, reason: reasonOf(error) });
        db?.close();
        db = undefined;
        return undefined;
      }
    }
    return select.get(id) as CredentialRow | undefined;
  };

  return {
    deviceCredentials(id: string, now: string = nowIso()): DeviceCredentialState | undefined {
      const found = row(id);
      if (!found) return undefined;
      const state = credentialStateOf(found, now);
      return retired.get(id) === state.currentHash ? { ...state, previousHash: null, previousExpiresAt: null } : state;
    },
    retirePreviousCredential(id: string): boolean {
      const found = row(id);
      if (!found || found.previous_credential_hash === null) return false;
      retired.set(id, found.credential_hash);
      return true;
    },
    hubCredentials(id: string, now: string = nowIso()): DeviceCredentialState | undefined {
      if (!select) row(id);
      const found = hubQueries()?.credentials.get(id) as CredentialRow | undefined;
      if (!found) return undefined;
      const state = credentialStateOf(found, now);
      return retired.get(`hub:${id}`) === state.currentHash ? { ...state, previousHash: null, previousExpiresAt: null } : state;
    },
    retirePreviousHubCredential(id: string): boolean {
      const found = hubQueries()?.credentials.get(id) as CredentialRow | undefined;
      if (!found || found.previous_credential_hash === null) return false;
      retired.set(`hub:${id}`, found.credential_hash);
      return true;
    },
    hubSubtree(id: string): HubSubtreeRecord | undefined {
      if (!select) row(id);
      const queries = hubQueries();
      if (!queries || !queries.credentials.get(id)) return undefined;
      return {
        devices: queries.devices.all(id) as HubSubtreeRecord['devices'],
        hubs: queries.hubs.all(id, id) as HubSubtreeRecord['hubs'],
      };
    },
    close() {
      db?.close();
      db = undefined;
      select = undefined;
      hubStatements = undefined;
    },
  };
}
