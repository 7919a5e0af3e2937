/**
 * Device credential rotation. A device has a current secret hash and, after a rotation with a
 * grace period, a previous one with an expiry. The previous hash is retired as soon as the device
 * proves it has the new secret (its first successful CONNECT with it) or when it expires,
 * whichever comes first; a rotation without grace replaces the hash at once.
 */
import { nowIso, type Db } from './core.js';

export interface DeviceCredentialState {
  currentHash: string;
  /** Present only while the previous secret is still accepted. */
  previousHash: string | null;
  previousExpiresAt: string | null;
  rotatedAt: string | null;
}

export interface CredentialRow {
  credential_hash: string;
  previous_credential_hash: string | null;
  previous_credential_expires_at: string | null;
  credential_rotated_at: string | null;
}

/** One device's credential columns; also read by the standalone broker's read-only reader. */
export const SELECT_DEVICE_CREDENTIALS =
  'SELECT credential_hash, previous_credential_hash, previous_credential_expires_at, credential_rotated_at FROM devices WHERE id = ?';

/** The credential state of a row, with an expired previous secret already left out. */
export function credentialStateOf(row: CredentialRow, now: string): DeviceCredentialState {
  const live = row.previous_credential_hash !== null && row.previous_credential_expires_at !== null && row.previous_credential_expires_at > now;
  return {
    currentHash: row.credential_hash,
    previousHash: live ? row.previous_credential_hash : null,
    previousExpiresAt: live ? row.previous_credential_expires_at : null,
    rotatedAt: row.credential_rotated_at,
  };
}

export function credentialOps(db: Db) {
  const get = db.prepare(SELECT_DEVICE_CREDENTIALS);
  const rotate = db.prepare(
    `UPDATE devices SET previous_credential_hash = @previous, previous_credential_expires_at = @expires,
       credential_hash = @hash, credential_rotated_at = @at WHERE id = @id`,
  );
  const retire = db.prepare(
    'UPDATE devices SET previous_credential_hash = NULL, previous_credential_expires_at = NULL WHERE id = ? AND previous_credential_hash IS NOT NULL',
  );

  return {
    /** The credential state, with an expired previous secret already left out. */
    deviceCredentials(id: string, now: string = nowIso()): DeviceCredentialState | undefined {
      const row = get.get(id) as CredentialRow | undefined;
      return row ? credentialStateOf(row, now) : undefined;
    },
    /**
     * Replaces the device's secret hash. With `graceSeconds` > 0 the old secret keeps working
     * until then (or until the new one is first used); with 0 it stops at once. A rotation during
     * a grace period keeps only the secret being replaced: at most two are ever valid.
     */
    rotateDeviceCredential(id: string, newHash: string, graceSeconds: number, now: Date = new Date()): { previousExpiresAt: string | null } | undefined {
      return db.transaction(() => {
        const row = get.get(id) as CredentialRow | undefined;
        if (!row) return undefined;
        const expires = graceSeconds > 0 ? new Date(now.getTime() + graceSeconds * 1000).toISOString() : null;
        rotate.run({ id, hash: newHash, previous: expires ? row.credential_hash : null, expires, at: now.toISOString() });
        return { previousExpiresAt: expires };
      })();
    },
    /** The device connected with its new secret: the previous one stops working. */
    retirePreviousCredential(id: string): boolean {
      return retire.run(id).changes === 1;
    },
  };
}

export type CredentialOps = ReturnType<typeof credentialOps>;
