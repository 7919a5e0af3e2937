/**
 * The API's side of signing (docs/security.md): the fleet key that signs every desired state it
 * publishes, the root-signed trusted-keys list (SQLite holds every version), and the changes to
 * that list an operator asks for: trust or revoke a key, rotate the fleet key, adopt a list signed
 * offline. Changes need the root private key; when it has been moved offline they are refused
 * with a hint, and a list signed elsewhere can be uploaded instead.
 *
 * On a fresh data directory it creates what the "two commands" start needs: root, fleet and a
 * development publisher key (all 0600) and version 1 of the list trusting the last two.
 */
import { existsSync, renameSync } from 'node:fs';
import type { Logger } from '../../common/logger.js';
import {
  generateSigningKey,
  keyIdOf,
  PROTOCOL_VERSION,
  signDesired,
  signTrustedKeys,
  trustedKeyOf,
  trustedKeysProblem,
  type AgentTrust,
  type DesiredState,
  type KeyRole,
  type SignedDesiredState,
  type SigningKey,
  type TrustedKey,
  type TrustedKeys,
} from '../../protocol/index.js';
import { apiErrors } from '../errors.js';
import type { Store } from '../store/index.js';
import { ensureKeysDir, KEY_FILES, keyPath, readPublicKey, readSigningKey, writePublicKey, writeSigningKey } from './key-files.js';

export interface SigningOptions {
  readonly keysDir: string;
  readonly desiredTtlS: number;
  readonly trustedKeysTtlS: number;
  /** Create a local publisher key for development on a fresh data directory. */
  readonly devPublisherKey: boolean;
}

export interface FleetSigning {
  readonly keysDir: string;
  readonly rootPublicKey: string;
  readonly fleetKeyId: string;
  rootOnline(): boolean;
  trustedKeys(): TrustedKeys;
  /** What a newly provisioned agent is given. */
  agentTrust(): AgentTrust;
  /** Signs a composed desired state with an expiry and the current trusted-keys list. */
  signDesired(state: DesiredState, now?: number): SignedDesiredState;
  trustKey(input: { publicKey: string; name: string; role: KeyRole }): TrustedKeys;
  revokeKey(keyId: string): TrustedKeys;
  rotateFleetKey(): TrustedKeys;
  /** A list signed with the root key elsewhere (offline root). */
  adoptTrustedKeys(list: TrustedKeys): TrustedKeys;
  /** Re-signs the same keys under a new version when the list expires within `marginMs`; undefined when not needed. */
  refreshTrustedKeys(marginMs: number, now?: number): TrustedKeys | undefined;
}

const iso = (ms: number): string => new Date(ms).toISOString();

export function createFleetSigning(store: Store, options: SigningOptions, logger: Logger): FleetSigning {
  const { keysDir } = options;
  ensureKeysDir(keysDir);
  const rootPath = keyPath(keysDir, KEY_FILES.root);
  const fleetPath = keyPath(keysDir, KEY_FILES.fleet);

  let root = readSigningKey(rootPath);
  let rootPublicKey = readPublicKey(keyPath(keysDir, KEY_FILES.rootPublic));
  let list = store.currentTrustedKeys();

  if (!list && !root && !rootPublicKey) {
    const created = generateSigningKey();
    writeSigningKey(rootPath, created.pem);
    root = created;
    logger.info('root key created', { path: rootPath, keyId: created.keyId });
  }
  if (root && rootPublicKey && root.publicKey !== rootPublicKey) {
    throw apiErrors.WF_API_SIGNING_SETUP({ reason: `${rootPath} does not match ${KEY_FILES.rootPublic} beside it` });
  }
  if (root && !rootPublicKey) {
    rootPublicKey = root.publicKey;
    writePublicKey(keyPath(keysDir, KEY_FILES.rootPublic), rootPublicKey);
  }
  if (!rootPublicKey) throw apiErrors.WF_API_SIGNING_SETUP({ reason: `neither ${rootPath} nor ${KEY_FILES.rootPublic} exists in ${keysDir}` });
  const rootPub = rootPublicKey;

  const createKey = (path: string, what: string): SigningKey => {
    const created = generateSigningKey();
    writeSigningKey(path, created.pem);
    logger.info(`${what} key created`, { path, keyId: created.keyId });
    return created;
  };

  let fleet = readSigningKey(fleetPath);
  if (!list) {
    if (!root) throw apiErrors.WF_API_ROOT_KEY_OFFLINE({ path: rootPath, hint: 'there is no trusted-keys list yet; bring the root key back for the first start' });
    fleet ??= createKey(fleetPath, 'fleet');
    const keys: TrustedKey[] = [trustedKeyOf(fleet, 'fleet', 'fleet')];
    if (options.devPublisherKey) {
      const publisherPath = keyPath(keysDir, KEY_FILES.publisher);
      const publisher = readSigningKey(publisherPath) ?? createKey(publisherPath, 'development publisher');
      keys.push(trustedKeyOf(publisher, 'publisher', 'local-dev'));
    }
    list = signTrustedKeys({ v: PROTOCOL_VERSION, version: 1, issuedAt: iso(Date.now()), expiresAt: iso(Date.now() + options.trustedKeysTtlS * 1000), keys }, root);
    store.insertTrustedKeys(list);
  }
  if (!fleet) throw apiErrors.WF_API_SIGNING_SETUP({ reason: `the fleet key ${fleetPath} is missing; restore it, or rotate it with \`wasmfleet keys rotate-fleet\` once it is back` });
  if (!list.keys.some((key) => key.role === 'fleet' && key.keyId === fleet!.keyId)) {
    throw apiErrors.WF_API_SIGNING_SETUP({ reason: `the fleet key ${fleetPath} (${fleet.keyId.slice(0, 16)}) is not in trusted-keys list version ${list.version}` });
  }
  let current: TrustedKeys = list;
  let fleetKey: SigningKey = fleet;

  const requireRoot = (): SigningKey => {
    // Read again on every change: the operator may have brought the key back or taken it away.
    root = readSigningKey(rootPath);
    if (!root) {
      throw apiErrors.WF_API_ROOT_KEY_OFFLINE({ path: rootPath, hint: 'sign the new list with `wasmfleet keys sign-trusted --root-key FILE` and upload it with PUT /api/v1/keys/trusted' });
    }
    return root;
  };

  const install = (next: TrustedKeys): TrustedKeys => {
    store.insertTrustedKeys(next);
    current = next;
    logger.info('trusted-keys list updated', { version: next.version, keys: next.keys.map((key) => `${key.role}:${key.name}:${key.keyId.slice(0, 16)}`) });
    return next;
  };

  const signNext = (keys: TrustedKey[], now = Date.now()): TrustedKeys =>
    install(signTrustedKeys({ v: PROTOCOL_VERSION, version: current.version + 1, issuedAt: iso(now), expiresAt: iso(now + options.trustedKeysTtlS * 1000), keys }, requireRoot()));

  return {
    keysDir,
    rootPublicKey: rootPub,
    get fleetKeyId() {
      return fleetKey.keyId;
    },
    rootOnline: () => existsSync(rootPath),
    trustedKeys: () => current,
    agentTrust: () => ({ root: rootPub, keys: current }),
    signDesired(state, now = Date.now()) {
      return signDesired(state, { expiresAt: iso(now + options.desiredTtlS * 1000), trust: current }, fleetKey);
    },
    trustKey({ publicKey, name, role }) {
      const keyId = keyIdOf(publicKey);
      if (current.keys.some((key) => key.keyId === keyId)) throw apiErrors.WF_API_CONFLICT({ reason: `key ${keyId.slice(0, 16)} is already trusted`, field: 'body/publicKey' });
      if (role === 'fleet') throw apiErrors.WF_API_VALIDATION({ field: 'body/role', reason: 'fleet keys change only by rotation (POST /api/v1/keys/fleet/rotate)' });
      return signNext([...current.keys, trustedKeyOf({ publicKey }, role, name)]);
    },
    revokeKey(keyId) {
      const key = current.keys.find((candidate) => candidate.keyId === keyId || (keyId.length >= 8 && candidate.keyId.startsWith(keyId)));
      if (!key) throw apiErrors.WF_API_NOT_FOUND({ kind: 'trusted key', id: keyId, field: 'params/keyId' });
      if (key.role === 'fleet') throw apiErrors.WF_API_VALIDATION({ field: 'params/keyId', reason: 'the fleet key is replaced by rotation (POST /api/v1/keys/fleet/rotate), not revoked' });
      return signNext(current.keys.filter((candidate) => candidate !== key));
    },
    rotateFleetKey() {
      requireRoot();
      const next = generateSigningKey();
      // The old key file is kept (renamed) for the record; it is no longer trusted by anyone.
      const retired = `${fleetPath}.${fleetKey.keyId.slice(0, 16)}.retired`;
      const updated = signNext([...current.keys.filter((key) => key.role !== 'fleet'), trustedKeyOf(next, 'fleet', 'fleet')]);
      renameSync(fleetPath, retired);
      writeSigningKey(fleetPath, next.pem);
      fleetKey = next;
      logger.info('fleet key rotated', { keyId: next.keyId, retired });
      return updated;
    },
    adoptTrustedKeys(next) {
      const problem = trustedKeysProblem(next, rootPub, Date.now());
      if (problem !== undefined) throw apiErrors.WF_API_TRUST_INVALID({ reason: problem, field: 'body' });
      if (next.version <= current.version) throw apiErrors.WF_API_TRUST_INVALID({ reason: `version ${next.version} is not above the current ${current.version}`, field: 'body/version' });
      if (!next.keys.some((key) => key.role === 'fleet' && key.keyId === fleetKey.keyId)) {
        throw apiErrors.WF_API_TRUST_INVALID({ reason: `it does not trust this server's fleet key ${fleetKey.keyId}`, field: 'body/keys' });
      }
      return install(next);
    },
    refreshTrustedKeys(marginMs, now = Date.now()) {
      if (Date.parse(current.expiresAt) - now > marginMs) return undefined;
      return signNext([...current.keys], now);
    },
  };
}
