/**
 * API tokens: `wft_<id>_<secret>`. The id makes lookup one indexed read instead of trying every
 * hash; only the scrypt hash of the whole token is stored, and the clear token is returned once.
 */
import { randomBytes, scryptSync } from 'node:crypto';
import { generateSecret } from '../../common/secrets.js';
import { nowIso, type Db } from './core.js';

export type TokenRole = 'admin' | 'read';
export const TOKEN_ROLES: readonly TokenRole[] = ['admin', 'read'];

export interface TokenRecord {
  id: string;
  name: string;
  role: TokenRole;
  hash: string;
  createdAt: string;
}

const TOKEN_RE = /^wft_([0-9a-f]{16})_[A-Za-z0-9_-]{43}$/;

/** The token id embedded in a token, or undefined when it is not shaped like one of ours. */
export function tokenIdOf(token: string): string | undefined {
  return TOKEN_RE.exec(token)?.[1];
}

/**
 * Same self-describing format and cost as common/secrets.ts hashSecret (so verifySecret checks
 * it), computed synchronously because the platform creates its first admin token synchronously.
 */
function hashSecretSync(secret: string): string {
  const N = 1 << 12;
  const r = 8;
  const p = 1;
  const salt = randomBytes(16);
  const key = scryptSync(secret, salt, 32, { N, r, p, maxmem: 64 * 1024 * 1024 });
  return ['scrypt', N, r, p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

export function tokenOps(db: Db) {
  const insert = db.prepare('INSERT INTO api_tokens (id, name, role, hash, created_at) VALUES (?, ?, ?, ?, ?)');
  const get = db.prepare('SELECT id, name, role, hash, created_at AS createdAt FROM api_tokens WHERE id = ?');
  const list = db.prepare('SELECT id, name, role, created_at AS createdAt FROM api_tokens ORDER BY created_at');

  return {
    /** Returns the clear token; it cannot be recovered later. */
    createToken(name: string, role: TokenRole): string {
      if (typeof name !== 'string' || name.length === 0 || name.length > 100) throw new TypeError('createToken(name): name must be 1..100 characters');
      if (!TOKEN_ROLES.includes(role)) throw new RangeError(`createToken(role): role must be one of ${TOKEN_ROLES.join(', ')}`);
      const id = randomBytes(8).toString('hex');
      const token = generateSecret(`wft_${id}`);
      insert.run(id, name, role, hashSecretSync(token), nowIso());
      return token;
    },
    getToken(id: string): TokenRecord | undefined {
      return get.get(id) as TokenRecord | undefined;
    },
    listTokens(): Array<Omit<TokenRecord, 'hash'>> {
      return list.all() as Array<Omit<TokenRecord, 'hash'>>;
    },
  };
}

export type TokenOps = ReturnType<typeof tokenOps>;
