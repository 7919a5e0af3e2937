/**
 * A CredentialVerifier that reads the credential replica the API keeps in Redis
 * (common/redis-credentials.ts), so any node admits any device with no call to the API: while the
 * API is down or being upgraded, known devices keep connecting. One HGETALL and one HMAC-SHA-256
 * per CONNECT (common/secrets.ts), so a reconnect storm costs Redis round trips, not CPU.
 *
 * Rotation with grace: the new hash is tried first and its first success retires the previous one
 * on every node (atomically, only if the record was not rotated again meanwhile).
 *
 * While Redis is unreachable the verifier fails at once (no offline queue): authenticate.ts then
 * answers CONNACK 3, server unavailable, and the agent retries with backoff.
 */
import { Redis } from 'ioredis';
import type { Logger } from '../common/logger.js';
import { reasonOf } from '../common/errors.js';
import { deviceCredentialKey, hubCredentialKey, readCredential, readHubSubtree, retirePrevious, serviceCredentialKey } from '../common/redis-credentials.js';
import { hubIdOfUsername } from '../protocol/hubs.js';
import { subtreeFromIds } from './hub-membership.js';
import { verifySecret } from '../common/secrets.js';
import { isDeviceId } from '../protocol/ids.js';
import type { CredentialVerifier, Principal } from './credentials.js';

export interface RedisCredentialVerifier extends CredentialVerifier {
  close(): Promise<void>;
}

/** A CONNECT waits at most this long for Redis before it is answered "server unavailable". */
const LOOKUP_TIMEOUT_MS = 2_000;

export function createRedisCredentialVerifier(url: string, logger: Logger): RedisCredentialVerifier {
  // Auto-pipelining: the lookups of a storm's CONNECTs that arrive in one event-loop turn go in one write.
  const redis = new Redis(url, { enableOfflineQueue: false, commandTimeout: LOOKUP_TIMEOUT_MS, maxRetriesPerRequest: 1, enableAutoPipelining: true });
  let lastLogged = 0;
  redis.on('error', (error: Error) => {
    if (Date.now() - lastLogged < 10_000) return;
    lastLogged = Date.now();
    logger.warn('redis connection error; retrying', { code: 'WF_BROKER_REDIS_UNAVAILABLE', role: 'credentials', reason: reasonOf(error) });
  });

  const verifyService = async (username: string, password: Buffer): Promise<Principal | undefined> => {
    const credential = await readCredential(redis, serviceCredentialKey(username));
    if (!credential) return undefined;
    return (await verifySecret(password, credential.current)) ? { kind: 'service', name: username } : undefined;
  };

  /** A device's or hub's rotating credential: current first, its success retires the previous. */
  const verifyRotating = async (key: string, password: Buffer, principal: Principal): Promise<Principal | undefined> => {
    const credential = await readCredential(redis, key);
    if (!credential) return undefined;
    if (await verifySecret(password, credential.current)) {
      if (credential.previous !== undefined) {
        retirePrevious(redis, key, credential.current).catch((error: unknown) =>
          logger.warn('previous credential not retired; it expires on its own', { key, reason: reasonOf(error) }),
        );
      }
      return principal;
    }
    if (credential.previous !== undefined && (await verifySecret(password, credential.previous))) return principal;
    return undefined;
  };

  return {
    membership: {
      async subtreeOf(hubId) {
        const subtree = await readHubSubtree(redis, hubId);
        return subtree && subtreeFromIds(hubId, subtree.devices, subtree.hubs);
      },
    },
    async verify(username, password) {
      const hubId = hubIdOfUsername(username);
      if (hubId !== undefined) return verifyRotating(hubCredentialKey(hubId), password, { kind: 'hub', hubId });
      // The pattern check keeps odd usernames away from Redis; anything else may be the service.
      if (!isDeviceId(username)) return verifyService(username, password);
      return verifyRotating(deviceCredentialKey(username), password, { kind: 'device', deviceId: username });
    },
    async close() {
      redis.disconnect();
    },
  };
}
