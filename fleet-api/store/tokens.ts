/**
 * API tokens: `wft_<id>_<secret>`. The id makes lookup one indexed read instead of trying every
 * hash; only the hash of the whole token (common/secrets.ts) is stored, and the clear token is returned once.
 * A revoked token keeps its row (revoked_at set) so the audit log's "who" still resolves.
 */
import { randomBytes } from 'node:crypto';
import { generateSecret, hashSecretSync } from '../../common/secrets.js';
import { nowIso, type Db } from './core.js';

/** Ordered from least to most rights: each role may do everything the roles before it may. */
export type TokenRole = 'viewer' | 'operator' | 'admin';
export const TOKEN_ROLES: readonly TokenRole[] = ['viewer', 'operator', 'admin'];

/** True when `held` grants at least what `needed` requires. */
export const roleSatisfies = (held: TokenRole, needed: TokenRole): boolean => TOKEN_ROLES.indexOf(held) >= TOKEN_ROLES.indexOf(needed);

export interface TokenRecord {
  id: string;
  name: string;
  role: TokenRole;
  hash: string;
  createdAt: string;
  /** Token id of the creator; null for the platform's first admin token. */
  createdBy: string | null;
  revokedAt: string | null;
  lastUsedAt: string | null;
}

export type TokenView = Omit<TokenRecord, 'hash'>;

const TOKEN_RE = /^wft_([0-9a-f]{16})_[A-Za-z0-9_-]{43}$/;
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9 ._@:-]{0,99}$/;

/** The token id embedded in a token, or undefined when it is not shaped like one of ours. */
export function tokenIdOf(token: string): string | undefined {
  return TOKEN_RE.exec(token)?.[1];
}

const COLUMNS =
  'id, name, role, created_at AS createdAt, created_by AS createdBy, revoked_at AS revokedAt, last_used_at AS lastUsedAt';

export function tokenOps(db: Db) {
  const insert = db.prepare('INSERT INTO api_tokens (id, name, role, hash, created_at, created_by) VALUES (?, ?, ?, ?, ?, ?)');
  const get = db.prepare(`SELECT ${COLUMNS}, hash FROM api_tokens WHERE id = ?`);
  const list = db.prepare(`SELECT ${COLUMNS} FROM api_tokens ORDER BY created_at, id`);
  const listActive = db.prepare(`SELECT ${COLUMNS} FROM api_tokens WHERE revoked_at IS NULL ORDER BY created_at, id`);
  const revoke = db.prepare('UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL');
  const activeAdmins = db.prepare("SELECT count(*) FROM api_tokens WHERE role = 'admin' AND revoked_at IS NULL").pluck();
  const touch = db.prepare('UPDATE api_tokens SET last_used_at = ? WHERE id = ?');

  return {
    /** Returns the clear token and its id; the token cannot be recovered later. */
    createToken(name: string, role: TokenRole, createdBy: string | null = null): string {
      if (typeof name !== 'string' || !NAME_RE.test(name)) {
        throw new TypeError('createToken(name): name must be 1..100 characters: letters, digits, space . _ @ : -');
      }
      if (!TOKEN_ROLES.includes(role)) throw new RangeError(`createToken(role): role must be one of ${TOKEN_ROLES.join(', ')}`);
      const id = randomBytes(8).toString('hex');
      const token = generateSecret(`wft_${id}`);
      insert.run(id, name, role, hashSecretSync(token), nowIso(), createdBy);
      return token;
    },
    getToken(id: string): TokenRecord | undefined {
      return get.get(id) as TokenRecord | undefined;
    },
    listTokens(options: { includeRevoked?: boolean } = {}): TokenView[] {
      return (options.includeRevoked === false ? listActive : list).all() as TokenView[];
    },
    /** 'revoked', or why not: 'unknown', 'already-revoked', 'last-admin' (nobody could administer the fleet). */
    revokeToken(id: string): 'revoked' | 'unknown' | 'already-revoked' | 'last-admin' {
      return db.transaction(() => {
        const record = get.get(id) as TokenRecord | undefined;
        if (!record) return 'unknown' as const;
        if (record.revokedAt !== null) return 'already-revoked' as const;
        if (record.role === 'admin' && (activeAdmins.get() as number) <= 1) return 'last-admin' as const;
        revoke.run(nowIso(), id);
        return 'revoked' as const;
      })();
    },
    /** Records use at most once a minute per token, so reads stay reads. */
    touchToken(id: string, at: string = nowIso()): void {
      touch.run(at, id);
    },
  };
}

export type TokenOps = ReturnType<typeof tokenOps>;
