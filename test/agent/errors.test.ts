import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fromRoot } from '../../common/paths.js';
import { agentErrors } from '../../device-agent/errors.js';

test('every agent error code is documented in docs/agent.md, and none documented is stale', () => {
  const doc = readFileSync(fromRoot('docs', 'agent.md'), 'utf8');
  const documented = new Set(doc.match(/WF_AGENT_[A-Z_]+/g));
  const codes = new Set(Object.keys(agentErrors));
  assert.deepEqual([...codes].filter((code) => !documented.has(code)), [], 'undocumented codes');
  assert.deepEqual([...documented].filter((code) => !codes.has(code)), [], 'stale documented codes');
});
