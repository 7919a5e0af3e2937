import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, scryptSync } from 'node:crypto';
import { generateSecret, hashSecret, hashSecretSync, verifySecret } from '../../common/secrets.js';

test('a new hash is a salted HMAC-SHA-256 that verifies its secret and no other', async () => {
  const secret = generateSecret('wfd');
  const hash = await hashSecret(secret);
  assert.match(hash, /^sha256\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
  assert.equal(await verifySecret(secret, hash), true);
  assert.equal(await verifySecret(Buffer.from(secret), hash), true);
  assert.equal(await verifySecret(secret + 'x', hash), false);
  assert.notEqual(hashSecretSync(secret), hashSecretSync(secret), 'each hash has its own salt');
});

test('hashes made by earlier releases (scrypt) still verify', async () => {
  const secret = generateSecret('wfd');
  const salt = randomBytes(16);
  const key = scryptSync(secret, salt, 32, { N: 1 << 12, r: 8, p: 1 });
  const legacy = ['scrypt', 1 << 12, 8, 1, salt.toString('base64url'), key.toString('base64url')].join('$');
  assert.equal(await verifySecret(secret, legacy), true);
  assert.equal(await verifySecret('wfd_other', legacy), false);
});

test('a malformed stored hash verifies nothing', async () => {
  for (const stored of ['', 'sha256$', 'sha256$a$b$c', 'bcrypt$x$y', 'scrypt$x']) {
    assert.equal(await verifySecret('anything', stored), false, stored);
  }
});
