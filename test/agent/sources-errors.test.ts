import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fromRoot } from '../../common/paths.js';
import { sourceErrors } from '../../device-agent/sources/index.js';
import { SOURCE_KINDS } from '../../firmware-profiles/index.js';

test('every source error code and source kind is documented in docs/profiles.md, and none documented is stale', () => {
  const doc = readFileSync(fromRoot('docs', 'profiles.md'), 'utf8');
  const documented = new Set(doc.match(/WF_SOURCE_[A-Z_]+/g));
  const codes = new Set(Object.keys(sourceErrors));
  assert.deepEqual([...codes].filter((code) => !documented.has(code)), [], 'undocumented codes');
  assert.deepEqual([...documented].filter((code) => !codes.has(code)), [], 'stale documented codes');
  for (const kind of SOURCE_KINDS) assert.match(doc, new RegExp(`^### \`${kind}\`$`, 'm'), `source kind ${kind} has a section`);
});
