/** `wasmfleet keys create`: a key pair whose private half is 0600 and never overwritten; ids are sha256 of the public key. */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { keyIdOf, signingKeyFromPem } from '../../protocol/index.js';
import { runCli } from '../helpers/cli.js';

test('keys create writes a 0600 ed25519 key, prints its id and public key, and never overwrites', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'wf-keys-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const out = join(dir, 'ci.key');
  const created = await runCli(['keys', 'create', 'publisher', '--out', out, '--json']);
  assert.equal(created.code, 0, created.stderr);
  const printed = JSON.parse(created.stdout) as { role: string; keyId: string; publicKey: string; privateKeyFile: string };
  assert.equal(printed.role, 'publisher');
  assert.equal(statSync(out).mode & 0o777, 0o600);
  const key = signingKeyFromPem(readFileSync(out, 'utf8'));
  assert.equal(key.publicKey, printed.publicKey);
  assert.equal(printed.keyId, keyIdOf(printed.publicKey));

  const again = await runCli(['keys', 'create', 'publisher', '--out', out, '--json']);
  assert.notEqual(again.code, 0);
  assert.match(again.stdout, /WF_CLI_FILE/);
  assert.equal(signingKeyFromPem(readFileSync(out, 'utf8')).keyId, key.keyId, 'the existing key is untouched');
});
