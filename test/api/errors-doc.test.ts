import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fromRoot } from '../../common/paths.js';
import { apiErrors } from '../../fleet-api/errors.js';

test('every WF_API_ code is documented in docs/api.md with its status, and none there is stale', () => {
  const doc = readFileSync(fromRoot('docs/api.md'), 'utf8');
  for (const [code, factory] of Object.entries(apiErrors)) {
    const row = doc.split('\n').find((line) => line.startsWith(`| \`${code}\``));
    assert.ok(row, `${code} has a row in the error table of docs/api.md`);
    assert.ok(row.includes(`| ${factory.spec.status} |`), `${code} is documented with status ${factory.spec.status}`);
  }
  const documented = new Set(doc.match(/WF_API_[A-Z0-9_]+/g) ?? []);
  for (const code of documented) assert.ok(code in apiErrors, `docs/api.md mentions ${code}, which the registry does not define`);
});
