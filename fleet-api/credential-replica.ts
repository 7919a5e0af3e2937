/**
 * Keeps the credential replica in Redis (common/redis-credentials.ts) equal to SQLite, so broker
 * nodes authenticate devices without asking us (docs/security.md §Device authentication in a
 * cluster). SQLite stays the source of truth: `syncAll` at start, and again whenever the Redis
 * connection comes back, rewrites every record and deletes the ones of devices that no longer exist; each credential change (add, rotate, delete) is
 * written through before the REST call answers, so a deleted device is refused by every node
 * before its revocation is even published.
 *
 * A previous secret a node already retired in Redis (the device used its new one) is not revived
 * by a later sync: the store's copy is written only when the record in Redis is older.
 */
import { Redis } from 'ioredis';
import type { Logger } from '../common/logger.js';
import { reasonOf } from '../common/errors.js';
import {
  deleteCredential,
  deleteHub,
  deviceCredentialKey,
  hubCredentialKey,
  replicatedHubIds,
  writeHubSubtree,
  readCredential,
  replicatedDeviceIds,
  serviceCredentialKey,
  writeCredential,
  type ReplicatedCredential,
} from '../common/redis-credentials.js';
import { hashSecretSync } from '../common/secrets.js';
import type { Store } from './store/index.js';

export interface CredentialReplica {
  /** Rewrites every device's record and the service account's; removes records of deleted devices. */
  syncAll(): Promise<{ devices: number; removed: number }>;
  /**
   * Starts syncAll, retried every few seconds until it succeeds; a failed put/remove later
   * schedules another. Never throws: Redis being away must not fail a REST call whose SQLite
   * change is already committed.
   */
  start(): void;
  /** Writes one device's record as the store has it now (after add or rotation). */
  put(deviceId: string): Promise<void>;
  remove(deviceId: string): Promise<void>;
  /**
   * Rewrites every hub's credential and membership sets and removes deleted hubs' (a hub's ACL at
   * every node reads them). Called after any change to hubs or to which device is behind which.
   */
  putHubs(): Promise<void>;
  close(): Promise<void>;
}

export interface ReplicaDeps {
  readonly store: Pick<Store, 'deviceIds' | 'deviceCredentials'> & Partial<Pick<Store, 'listHubs' | 'hubCredentials' | 'hubSubtree'>>;
  readonly service: { readonly username: string; readonly password: string };
  readonly logger: Logger;
}

const SYNC_CONCURRENCY = 64;
const RETRY_MS = 3_000;

export function createCredentialReplica(url: string, { store, service, logger }: ReplicaDeps): CredentialReplica {
  const redis = new Redis(url, { maxRetriesPerRequest: 3 });
  let lastLogged = 0;
  redis.on('error', (error: Error) => {
    if (Date.now() - lastLogged < 10_000) return;
    lastLogged = Date.now();
    logger.warn('redis connection error; retrying', { code: 'WF_API_REDIS_UNAVAILABLE', reason: reasonOf(error) });
  });

  const fromStore = (deviceId: string): ReplicatedCredential | undefined => {
    const state = store.deviceCredentials(deviceId);
    if (!state) return undefined;
    return state.previousHash !== null && state.previousExpiresAt !== null
      ? { current: state.currentHash, previous: state.previousHash, previousUntil: Date.parse(state.previousExpiresAt) }
      : { current: state.currentHash };
  };

  const put = async (deviceId: string) => {
    const key = deviceCredentialKey(deviceId);
    const wanted = fromStore(deviceId);
    if (!wanted) return deleteCredential(redis, key);
    // Same current hash but no previous in Redis: a node retired it; keep it retired.
    const existing = await readCredential(redis, key);
    if (existing?.current === wanted.current && existing.previous === undefined && wanted.previous !== undefined) return;
    await writeCredential(redis, key, wanted);
  };

  const putHubs = async () => {
    const { listHubs, hubCredentials, hubSubtree } = store;
    if (!listHubs || !hubCredentials || !hubSubtree) return;
    const hubs = listHubs.call(store);
    for (const hub of hubs) {
      const state = hubCredentials.call(store, hub.id);
      const subtree = hubSubtree.call(store, hub.id);
      if (!state || !subtree) continue;
      await writeCredential(
        redis,
        hubCredentialKey(hub.id),
        state.previousHash !== null && state.previousExpiresAt !== null
          ? { current: state.currentHash, previous: state.previousHash, previousUntil: Date.parse(state.previousExpiresAt) }
          : { current: state.currentHash },
      );
      await writeHubSubtree(redis, hub.id, { devices: subtree.devices.map((d) => d.id), hubs: subtree.hubs.map((h) => h.id) });
    }
    const known = new Set(hubs.map((hub) => hub.id));
    for (const id of await replicatedHubIds(redis)) if (!known.has(id)) await deleteHub(redis, id);
  };

  const syncAll = async () => {
    // The service's password is fixed per data directory; a fresh salt per sync is harmless.
    await writeCredential(redis, serviceCredentialKey(service.username), { current: hashSecretSync(service.password) });
    const ids = store.deviceIds();
    for (let i = 0; i < ids.length; i += SYNC_CONCURRENCY) await Promise.all(ids.slice(i, i + SYNC_CONCURRENCY).map(put));
    const known = new Set(ids);
    const stale = (await replicatedDeviceIds(redis)).filter((id) => !known.has(id));
    for (const id of stale) await deleteCredential(redis, deviceCredentialKey(id));
    await putHubs();
    logger.info('credential replica synced', { devices: ids.length, removed: stale.length });
    return { devices: ids.length, removed: stale.length };
  };

  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  const scheduleSync = (delayMs: number) => {
    if (closed || timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      syncAll().catch((error: unknown) => {
        logger.warn('credential replica not synced; retrying', { code: 'WF_API_REDIS_UNAVAILABLE', reason: reasonOf(error) });
        scheduleSync(RETRY_MS);
      });
    }, delayMs);
    timer.unref();
  };
  // A Redis that restarted may be back empty (no append-only file) or older than SQLite: every
  // reconnect after the first resyncs, so nodes keep admitting devices without an API restart.
  let connectedBefore = false;
  redis.on('ready', () => {
    if (connectedBefore) scheduleSync(0);
    connectedBefore = true;
  });
  const writeThrough = async (deviceId: string, work: () => Promise<void>) => {
    try {
      await work();
    } catch (error) {
      logger.error('credential change not replicated; a full sync follows', { code: 'WF_API_REDIS_UNAVAILABLE', deviceId, reason: reasonOf(error) });
      scheduleSync(RETRY_MS);
    }
  };

  return {
    syncAll,
    start: () => scheduleSync(0),
    put: (deviceId) => writeThrough(deviceId, () => put(deviceId)),
    remove: (deviceId) => writeThrough(deviceId, () => deleteCredential(redis, deviceCredentialKey(deviceId))),
    putHubs: () => writeThrough('(hubs)', putHubs),
    async close() {
      closed = true;
      clearTimeout(timer);
      redis.disconnect();
    },
  };
}
