import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fromRoot } from '../../common/paths.js';
import { hubErrors } from '../../hub/errors.js';

test('every WF_HUB_ code is documented in docs/federation.md, and none there is stale', () => {
  const doc = readFileSync(fromRoot('docs/federation.md'), 'utf8');
  for (const code of Object.keys(hubErrors)) assert.ok(doc.split('\n').some((line) => line.startsWith(`| \`${code}\``)), `${code} has a row in docs/federation.md §Errors`);
  for (const code of new Set(doc.match(/WF_HUB_[A-Z0-9_]+/g) ?? [])) assert.ok(code in hubErrors, `docs/federation.md mentions ${code}, which hub/errors.ts does not define`);
});
