/**
 * The credential replica in Redis (docs/security.md §Device authentication in a cluster): the
 * API writes, every broker node reads, so a node admits a device without asking the API.
 * This file is the one place that knows the key layout.
 *
 *   wf:cred:device:{deviceId}   hash  current = secret hash (common/secrets.ts format)
 *                                     previous = the hash before a rotation with grace (optional)
 *                                     previousUntil = when it stops working, ms since the epoch
 *   wf:cred:service:{username}  hash  current = the service account's secret hash
 *   wf:cred:hub:{hubId}         hash  a site hub's credential, fields as a device's
 *   wf:cred:hubsub:{hubId}:devices  set  every device of the hub's subtree (its ACL membership)
 *   wf:cred:hubsub:{hubId}:hubs     set  every descendant hub of it
 *
 * Only hashes travel: a Redis dump discloses no secret (each has 256 random bits, so a hash cannot
 * be reversed by guessing). A deleted device has no key, so every node refuses it at once.
 */
import type { Redis } from 'ioredis';

export const CREDENTIAL_KEY_PREFIX = 'wf:cred:';
export const deviceCredentialKey = (deviceId: string): string => `${CREDENTIAL_KEY_PREFIX}device:${deviceId}`;
export const serviceCredentialKey = (username: string): string => `${CREDENTIAL_KEY_PREFIX}service:${username}`;
export const hubCredentialKey = (hubId: string): string => `${CREDENTIAL_KEY_PREFIX}hub:${hubId}`;
const hubSubtreeKey = (hubId: string, part: 'devices' | 'hubs'): string => `${CREDENTIAL_KEY_PREFIX}hubsub:${hubId}:${part}`;

export interface ReplicatedSubtree {
  readonly devices: readonly string[];
  readonly hubs: readonly string[];
}

/** Replaces a hub's membership sets in one transaction. */
export async function writeHubSubtree(redis: Redis, hubId: string, subtree: ReplicatedSubtree): Promise<void> {
  const multi = redis.multi().del(hubSubtreeKey(hubId, 'devices'), hubSubtreeKey(hubId, 'hubs'));
  if (subtree.devices.length > 0) multi.sadd(hubSubtreeKey(hubId, 'devices'), ...subtree.devices);
  if (subtree.hubs.length > 0) multi.sadd(hubSubtreeKey(hubId, 'hubs'), ...subtree.hubs);
  await multi.exec();
}

/** undefined when the hub has no credential (unknown or deleted). */
export async function readHubSubtree(redis: Redis, hubId: string): Promise<ReplicatedSubtree | undefined> {
  const result = await redis.multi().exists(hubCredentialKey(hubId)).smembers(hubSubtreeKey(hubId, 'devices')).smembers(hubSubtreeKey(hubId, 'hubs')).exec();
  if (!result) return undefined;
  for (const [error] of result) if (error) throw error;
  const [[, exists], [, devices], [, hubs]] = result as [[null, number], [null, string[]], [null, string[]]];
  return exists === 1 ? { devices, hubs } : undefined;
}

export async function deleteHub(redis: Redis, hubId: string): Promise<void> {
  await redis.del(hubCredentialKey(hubId), hubSubtreeKey(hubId, 'devices'), hubSubtreeKey(hubId, 'hubs'));
}

/** Every replicated hub id. */
export const replicatedHubIds = (redis: Redis): Promise<string[]> => idsUnder(redis, hubCredentialKey(''));

export interface ReplicatedCredential {
  readonly current: string;
  /** Present only while it is still accepted. */
  readonly previous?: string;
  readonly previousUntil?: number;
}

export async function readCredential(redis: Redis, key: string, now = Date.now()): Promise<ReplicatedCredential | undefined> {
  const fields = await redis.hgetall(key);
  if (!fields.current) return undefined;
  const until = Number(fields.previousUntil);
  const live = fields.previous !== undefined && Number.isFinite(until) && until > now;
  return live ? { current: fields.current, previous: fields.previous!, previousUntil: until } : { current: fields.current };
}

/** Replaces the whole record in one transaction, so a node never reads half of it. */
export async function writeCredential(redis: Redis, key: string, credential: ReplicatedCredential): Promise<void> {
  const fields: Record<string, string> = { current: credential.current };
  if (credential.previous !== undefined && credential.previousUntil !== undefined) {
    fields.previous = credential.previous;
    fields.previousUntil = String(credential.previousUntil);
  }
  await redis.multi().del(key).hset(key, fields).exec();
}

/**
 * The device proved it has its new secret: the previous one stops working on every node. Only if
 * `current` is still the hash that was verified, so a rotation racing this is never undone.
 */
export async function retirePrevious(redis: Redis, key: string, verifiedCurrent: string): Promise<void> {
  await redis.eval(
    "if redis.call('HGET', KEYS[1], 'current') == ARGV[1] then return redis.call('HDEL', KEYS[1], 'previous', 'previousUntil') end return 0",
    1,
    key,
    verifiedCurrent,
  );
}

export async function deleteCredential(redis: Redis, key: string): Promise<void> {
  await redis.del(key);
}

/** Every replicated device id. */
export const replicatedDeviceIds = (redis: Redis): Promise<string[]> => idsUnder(redis, deviceCredentialKey(''));

/** The ids of every key under `prefix` (SCAN, never KEYS: it does not block Redis). */
async function idsUnder(redis: Redis, prefix: string): Promise<string[]> {
  const ids: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) ids.push(key.slice(prefix.length));
  } while (cursor !== '0');
  return ids;
}
